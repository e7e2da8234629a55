"""The search: isolation of failing trials, determinism, warm start, ASHA, ensembling, budget."""
from __future__ import annotations

import time

import numpy as np
import pytest

from automl.data import TableEncoder, encode_target
from automl.deadline import Deadline
from automl.ensembling import greedy_selection
from automl.metrics import get_metric
from automl.models import REGISTRY
from automl.search import SearchProblem, optimize
from automl.search.brackets import ASHA
from automl.search.history import History, Trial
from automl.search.samplers import BOSampler
from knowledge_base.canonical import config_id
from tests.faulty_models import FAULTY
from tests.fixtures.tables import make_dataset
from tests.search.conftest import make_problem as problem


@pytest.fixture
def faulty_family():
    REGISTRY.register(FAULTY)
    yield FAULTY
    REGISTRY.unregister(FAULTY.key)


def test_failing_hanging_and_memory_hungry_trials_do_not_stop_the_search(faulty_family, monkeypatch):
    import automl.search.runner as runner
    monkeypatch.setattr(runner, "default_memory_limit", lambda n: 3 << 30)
    suggestions = [{"config": {"family": "faulty", "mode": m}, "origin": "kb"} for m in ("raise", "memory", "hang")]
    suggestions.append({"config": REGISTRY.get("lightgbm").default_config(), "origin": "kb"})
    start = time.monotonic()
    result = optimize(problem(families=("faulty", "lightgbm")), Deadline(24), strategy="warm",
                      suggestions=suggestions)
    assert time.monotonic() - start < 26
    by_mode = {t.config.get("mode"): t for t in result.trials if t.family == "faulty"}
    assert by_mode["raise"].status == "failed" and "always fails" in by_mode["raise"].error
    assert by_mode["hang"].status == "timeout"
    assert by_mode["memory"].status == "failed"
    assert "memory" in by_mode["memory"].error or "died" in by_mode["memory"].error
    assert any(t.status == "ok" and t.family == "lightgbm" for t in result.trials)
    assert result.model.predict_proba(problem().X.iloc[:5]).shape == (5, 2)


def test_deterministic_with_max_trials_and_two_workers():
    runs = []
    for _ in range(2):
        p = problem(n=150, n_jobs=2)
        r = optimize(p, Deadline(60), strategy="bo", max_trials=10)
        runs.append(([t.config_id for t in r.trials], [t.loss for t in r.trials], r.model.predict_proba(p.X)))
    assert runs[0][0] == runs[1][0] and len(runs[0][0]) == 10
    np.testing.assert_allclose(runs[0][1], runs[1][1])
    np.testing.assert_allclose(runs[0][2], runs[1][2])


def test_warm_suggestions_come_first_and_are_tagged():
    suggestion = REGISTRY.get("extra_trees").complete({"family": "extra_trees", "n_estimators": 60,
                                                       "max_features": 0.3})
    r = optimize(problem(), Deadline(30), strategy="warm", max_trials=3,
                 suggestions=[{"config": suggestion, "origin": "kb", "explanation": "test"}])
    assert r.trials[0].config_id == config_id(suggestion) and r.trials[0].origin == "kb"
    assert [t.origin for t in r.trials[1:]] == ["portfolio", "portfolio"]


def test_random_strategy_has_no_portfolio_and_every_strategy_runs():
    for strategy in ("random", "hyperband", "bo"):
        r = optimize(problem(n=120), Deadline(30), strategy=strategy, max_trials=4)
        assert len(r.trials) == 4
        if strategy == "random":
            assert {t.origin for t in r.trials} == {"random"}


def test_prior_observations_steer_the_surrogate():
    families = [REGISTRY.get("lightgbm"), REGISTRY.get("knn")]
    good = {"family": "knn", "n_neighbors": 3, "weights": "distance", "p": 1}
    prior = [{"config": families[1].complete(good), "fidelity": 1.0, "normalised_score": 1.0, "weight": 1.0}] * 5
    prior += [{"config": families[0].sample(np.random.default_rng(i)), "fidelity": 1.0, "normalised_score": 0.0,
               "weight": 1.0} for i in range(10)]
    picks = []
    for seed in range(5):
        sampler = BOSampler(families, np.random.default_rng(seed), prior, random_share=0.0)
        picks.append(sampler.propose(History())[0]["family"])
    assert picks.count("knn") >= 4
    without = [BOSampler(families, np.random.default_rng(s), (), random_share=0.0).propose(History())[1]
               for s in range(3)]
    assert set(without) == {"random"}  # no observations: the sampler cannot be model-based yet


def test_asha_promotes_top_third():
    asha = ASHA([1 / 9, 1 / 3, 1.0])
    for i, loss in enumerate([5, 3, 9, 1, 7, 8]):
        asha.report(0, f"c{i}", loss)
    promoted = [asha.next_promotion(), asha.next_promotion(), asha.next_promotion()]
    assert promoted[:2] == [("c3", 1), ("c1", 1)] and promoted[2] is None
    asha.report(1, "c3", 0.5)
    asha.report(1, "c1", 0.7)
    asha.report(1, "c9", 0.9)
    assert asha.next_promotion() == ("c3", 2)


def test_asha_also_promotes_the_best_of_each_family_in_the_better_half():
    """Families learn differently from more rows (201_pol: an MLP behind the LightGBMs on a third of the rows,
    far ahead on all of them): the best configuration of each family is promotable when it is in the better
    half of the rung, not only the top third overall; a family's best in the worse half is not."""
    asha = ASHA([1 / 3, 1.0])
    for i, loss in enumerate([1.0, 1.1, 1.2, 1.3, 1.4]):
        asha.report(0, f"gbm{i}", loss, "lightgbm")
    asha.report(0, "mlp", 1.25, "mlp")
    asha.report(0, "linear", 9.0, "linear")
    promoted = [asha.next_promotion() for _ in range(4)]
    assert promoted == [("gbm0", 1), ("gbm1", 1), ("mlp", 1), None]


def test_greedy_ensemble_never_worse_than_best_single():
    rng = np.random.default_rng(0)
    y = rng.normal(size=300)
    preds = [y + rng.normal(scale=s, size=300) for s in (0.5, 0.6, 0.7, 2.0)]
    rmse = lambda p: float(np.sqrt(np.mean((p - y) ** 2)))  # noqa: E731
    weights, loss = greedy_selection(preds, rmse)
    assert loss <= min(rmse(p) for p in preds) + 1e-12
    assert loss < 0.45  # averaging independent errors helps
    assert abs(sum(weights) - 1) < 1e-9 and weights[3] < 0.2


def test_budget_is_respected_and_leaves_a_model():
    p = problem(n=400)
    start = time.monotonic()
    r = optimize(p, Deadline(4), strategy="warm")
    assert time.monotonic() - start < 5.0
    assert len(r.trials) >= 2
    assert r.model.predict(p.X).shape == (400,)


def test_threshold_is_tuned_for_threshold_metrics():
    from automl.ensembling import tune_threshold
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.1).astype(int)  # imbalanced: the best F1 threshold is well below 0.5
    p1 = np.clip(0.25 * y + rng.normal(0.1, 0.08, 400), 0, 1)
    proba = np.column_stack([1 - p1, p1])
    from sklearn.metrics import f1_score
    t, score = tune_threshold(y, proba, lambda yt, lab: f1_score(yt, lab))
    assert t < 0.5 and score > f1_score(y, (p1 >= 0.5).astype(int)) + 0.2
    frame = make_dataset("binary", n=300, seed=2)
    X = TableEncoder().fit_transform(frame.drop(columns=["y"]))
    target = encode_target(frame["y"], None)
    imbalanced = np.where(target.y == 1, (np.random.default_rng(1).random(300) < 0.3).astype(int), 0)
    r = optimize(SearchProblem(X, imbalanced, "binary", get_metric("f1", "binary"), seed=0), Deadline(30),
                 strategy="bo", max_trials=4)
    assert r.threshold is None or 0.0 < r.threshold < 1.0
    assert r.model.predict(X).shape == (300,)


def test_resume_replays_history_and_reevaluates_the_best_first():
    p = problem(n=150)
    first = optimize(p, Deadline(30), strategy="bo", max_trials=4)
    previous = [vars(t) | {"extra": {}} for t in first.trials]
    second = optimize(p, Deadline(30), strategy="bo", max_trials=2, history=previous)
    replayed = [t for t in second.trials if t.extra.get("replayed")]
    new = [t for t in second.trials if not t.extra.get("replayed")]
    assert len(replayed) == 4 and len(new) == 2
    best_before = min((t for t in first.trials if t.status == "ok"), key=lambda t: t.loss)
    assert new[0].config_id == best_before.config_id and new[0].origin == "resumed"
    assert new[1].config_id not in {t.config_id for t in first.trials}


def test_sample_weights_reach_training_and_scoring():
    p = problem(n=200)
    weights = np.where(p.y == 1, 5.0, 1.0)
    weighted = SearchProblem(p.X, p.y, p.task, get_metric("accuracy", "binary"), seed=0, sample_weight=weights,
                             families=("lightgbm", "knn"))
    r = optimize(weighted, Deadline(30), strategy="bo", max_trials=3)
    plain = optimize(SearchProblem(p.X, p.y, p.task, get_metric("accuracy", "binary"), seed=0,
                                   families=("lightgbm", "knn")), Deadline(30), strategy="bo", max_trials=3)
    assert [t.config_id for t in r.trials] == [t.config_id for t in plain.trials]
    assert [t.score for t in r.trials] != [t.score for t in plain.trials]  # weighted validation scores
    assert (r.model.predict(p.X) == 1).mean() >= (plain.model.predict(p.X) == 1).mean()
