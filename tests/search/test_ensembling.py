"""Greedy ensemble selection with replacement (Caruana et al., 2004) on synthetic predictions."""
from __future__ import annotations

import numpy as np
import pytest

from automl.ensembling import BaggedEnsemble, greedy_selection


def _rmse(y):
    return lambda p: float(np.sqrt(np.mean((p - y) ** 2)))


def _three_close_and_a_biased_one(y, rng):
    return [y + rng.normal(scale=s, size=len(y)) for s in (0.5, 0.55, 0.6)] + [y + 3.0]


def _three_close_and_a_noisy_one(y, rng):
    return [y + rng.normal(scale=s, size=len(y)) for s in (0.5, 0.6, 0.7, 2.0)]


@pytest.mark.parametrize("n, make_preds, loss_max", [(400, _three_close_and_a_biased_one, np.inf),
                                                (300, _three_close_and_a_noisy_one, 0.45)])
def test_complementary_models_improve_on_the_best_single(n, make_preds, loss_max):
    """Independent errors average out: the ensemble beats its best member; the poor fourth model gets no weight."""
    rng = np.random.default_rng(0)
    y = rng.normal(size=n)
    preds = make_preds(y, rng)
    loss = _rmse(y)
    weights, ens = greedy_selection(preds, loss)
    assert ens < min(loss(p) for p in preds) - 0.05 and ens < loss_max
    assert abs(sum(weights) - 1.0) < 1e-9 and weights[3] == 0.0
    assert abs(loss(sum(w * p for w, p in zip(weights, preds))) - ens) < 1e-9  # weights give the reported loss


def test_never_worse_than_the_best_single():
    rng = np.random.default_rng(1)
    y = rng.normal(size=200)
    best = y + rng.normal(scale=0.1, size=200)
    preds = [best, y + 2.0, -y]
    weights, ens = greedy_selection(preds, _rmse(y))
    assert ens <= _rmse(y)(best) + 1e-12 and weights[0] == 1.0


def test_a_cost_limit_leaves_out_the_members_whose_addition_would_exceed_it():
    """Three complementary models cost 1, 1 and 5 (seconds per row): unlimited, the ensemble takes all three; under
    a limit of 2.5 only the first two, and the loss is still the best the affordable ones give."""
    rng = np.random.default_rng(0)
    y = rng.normal(size=400)
    preds = [y + rng.normal(scale=s, size=len(y)) for s in (0.5, 0.55, 0.5)]
    loss = _rmse(y)
    free, _ = greedy_selection(preds, loss)
    assert all(w > 0 for w in free)
    weights, ens = greedy_selection(preds, loss, costs=[1.0, 1.0, 5.0], limit=2.5)
    assert weights[2] == 0.0 and weights[0] > 0 and weights[1] > 0
    assert ens == greedy_selection(preds[:2], loss)[1]
    assert greedy_selection(preds, loss, costs=[3.0, 1.0, 5.0], limit=2.5)[0] == [0.0, 1.0, 0.0]  # one affordable


def test_bagged_ensemble_averages_members():
    class Const:
        def __init__(self, p):
            self.p = np.asarray(p, dtype=float)
            self.classes_ = np.arange(len(p))

        def predict_proba(self, X):
            return np.tile(self.p, (len(X), 1))

    model = BaggedEnsemble([[Const([0.8, 0.2]), Const([0.6, 0.4])], [Const([0.0, 1.0])]], [0.75, 0.25], "binary", 2)
    proba = model.predict_proba(np.zeros((3, 1)))
    assert np.allclose(proba, [[0.525, 0.475]] * 3)
    assert list(model.predict(np.zeros((3, 1)))) == [0, 0, 0]


def test_the_threshold_is_tuned_for_threshold_metrics():
    from sklearn.metrics import f1_score

    from automl.ensembling import tune_threshold
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.1).astype(int)  # imbalanced: the best F1 threshold is well below 0.5
    p1 = np.clip(0.25 * y + rng.normal(0.1, 0.08, 400), 0, 1)
    proba = np.column_stack([1 - p1, p1])
    t, score = tune_threshold(y, proba, lambda yt, lab: f1_score(yt, lab))
    assert t < 0.5 and score > f1_score(y, (p1 >= 0.5).astype(int)) + 0.2
