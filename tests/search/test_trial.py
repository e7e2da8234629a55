"""One trial: LightGBM's out-of-fold predictions under cross-validation are scored at rounds its own
validation fold did not choose."""
from __future__ import annotations

import joblib
import numpy as np

from automl.search.trial import cross_fold_rounds, predict_one, run_trial, score_predictions
from automl.search.validation import make_splits
from tests.search.conftest import make_problem


def test_each_fold_takes_the_rounds_that_minimise_the_other_folds_curves():
    down_to = lambda best, length: np.abs(np.arange(1, length + 1) - best) / length + 0.1  # noqa: E731
    curves = [down_to(10, 60), down_to(30, 80), down_to(20, 70)]
    rounds = cross_fold_rounds(curves)
    # fold 0 averages folds 1 and 2 (minima 30 and 20) over the 60 rounds fold 0 reached
    mean0 = (curves[1][:60] + curves[2][:60]) / 2
    assert rounds[0] == int(np.argmin(mean0)) + 1 and 20 <= rounds[0] <= 30
    # a fold's own minimum never decides its rounds: moving it leaves them unchanged
    moved = [down_to(50, 60), curves[1], curves[2]]
    assert cross_fold_rounds(moved)[0] == rounds[0]
    # the rounds never exceed the shortest curve involved (no prediction with trees a model does not have)
    assert rounds[1] <= 60 and rounds[2] <= 60
    assert cross_fold_rounds([curves[0], None]) is None and cross_fold_rounds([curves[0]]) is None


def test_lightgbm_out_of_fold_loss_is_measured_at_the_cross_fold_rounds(tmp_path):
    problem = make_problem("binary", n=400, seed=3, metric="log_loss")
    splits = make_splits(problem.y, problem.task, "cv5", seed=3)
    data = {"X": problem.X, "y": problem.y, "task": problem.task, "metric": problem.metric, "splits": splits,
            "seed": 3}
    config = {"family": "lightgbm", "learning_rate": 0.2, "num_leaves": 31, "min_child_samples": 5}
    result = run_trial({"trial_id": 0, "config": config, "fidelity": 1.0, "seconds": 60,
                        "keep_models_dir": str(tmp_path)}, data)
    assert result["status"] == "ok", result.get("error")
    models = joblib.load(result["models_path"])
    own_best, honest = [], []
    for model, (_, va) in zip(models, splits):
        yva = problem.y[va]
        pred = predict_one(model, problem.X.iloc[va], problem.task, 2)  # the model's early-stopped rounds
        own_best.append(problem.metric.to_loss(score_predictions(problem.metric, yva, pred, problem.task)))
        honest.append(problem.metric.to_loss(score_predictions(problem.metric, yva, result["oof"][va],
                                                                problem.task)))
    np.testing.assert_allclose(result["fold_losses"], honest)
    # early stopping minimised each fold's own log loss: other rounds can only be worse there, and are on some
    assert all(h >= o - 1e-9 for h, o in zip(honest, own_best))
    assert sum(honest) > sum(own_best) + 1e-6
    rows = np.concatenate([va for _, va in splits])
    overall = problem.metric.to_loss(score_predictions(problem.metric, problem.y[rows], result["oof"][rows],
                                                       problem.task))
    assert abs(result["loss"] - overall) < 1e-9
