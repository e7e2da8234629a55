"""Every registered family builds and fits on a messy cleaned table, for each task it supports, and
predicts rows with NaN everywhere and categories never seen in training."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl.models import REGISTRY
from automl.search.trial import fit_one, predict_one

BUILTIN = ["lightgbm", "linear", "extra_trees", "random_forest", "knn", "mlp", "svm"]
OPTIONAL = [key for key in ("catboost", "xgboost") if key in REGISTRY]  # (`automl-meta[boost]`, in the test extra)
# the most boosting rounds of a fit here (``fit_one``'s ``iterations``; other families ignore it): these tests are
# about the input a model takes, not its quality; the validation rows below are training rows, so early stopping
# rarely stops a fit, and CatBoost's sampled depth-10 configuration took 32 s for 2,000 rounds on three classes
ROUNDS = 50


def messy(task: str, n: int = 150, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A cleaned table as automl.data produces it: float64 + category columns, NaN anywhere,
    one high-cardinality category column."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], n)
    city = np.array([f"city{i}" for i in rng.integers(0, 120, n)])
    X = pd.DataFrame({"a": a, "b": b, "colour": pd.Categorical(colour), "city": pd.Categorical(city)})
    X.loc[rng.random(n) < 0.15, "a"] = np.nan
    X.loc[rng.random(n) < 0.1, "colour"] = np.nan
    signal = np.nan_to_num(a) + 0.5 * b + (colour == "red")
    if task == "binary":
        y = (signal > 0.3).astype(np.int64)
    elif task == "multiclass":
        y = np.digitize(signal, [-0.5, 0.7]).astype(np.int64)
    else:
        y = (3 * signal + 0.5).astype(float)
    return X, y


def unseen_rows(X: pd.DataFrame) -> pd.DataFrame:
    """Rows with NaN in every column and categories that did not exist at fit time."""
    rows = X.iloc[:4].copy()
    rows["colour"] = pd.Categorical(["purple", np.nan, "red", "purple"])
    rows["city"] = pd.Categorical(["atlantis", "city1", np.nan, "atlantis"])
    rows.loc[rows.index[1], ["a", "b"]] = np.nan
    return rows


CASES = [(key, task) for key in BUILTIN + OPTIONAL for task in REGISTRY.get(key).tasks]


@pytest.mark.parametrize("key, task", CASES, ids=[f"{k}-{t}" for k, t in CASES])
def test_family_fits_and_predicts_messy_data(key, task):
    family = REGISTRY.get(key)
    X, y = messy(task)
    n_classes = int(y.max()) + 1 if task != "regression" else 0
    for config in (family.default_config(), family.sample(np.random.default_rng(1))):
        model = fit_one(config, X, y, task, n_classes, seed=0, eval_set=(X.iloc[:30], y[:30]), iterations=ROUNDS)
        pred = predict_one(model, unseen_rows(X), task, n_classes)
        if task == "regression":
            assert pred.shape == (4,) and np.all(np.isfinite(pred))
        else:
            assert pred.shape == (4, n_classes) and np.allclose(pred.sum(axis=1), 1.0)


def test_lightgbm_early_stops_on_the_validation_fold():
    X, y = messy("binary", n=300)
    model = fit_one({"family": "lightgbm", "learning_rate": 0.3}, X.iloc[:200], y[:200], "binary", 2, seed=0,
                    eval_set=(X.iloc[200:], y[200:]))
    assert 0 < model[-1].best_iteration_ < 2000  # (the model behind the text step)


def test_lightgbm_stopped_by_a_soft_deadline_keeps_its_best_validation_round(monkeypatch):
    """Noise labels: the validation loss is lowest after a few rounds and grows after. The deadline comes after
    round 40 of 2,000 (before early stopping's patience of 50 runs out): the model predicts with the best round so
    far, not with all 40 (which score below a constant predictor here)."""
    from sklearn.metrics import log_loss

    from automl.models import boosting
    X, y = messy("binary", n=600)
    y = np.random.default_rng(1).integers(0, 2, len(y))

    class Clock:  # the deadline check after each round reads the clock once: it passes the deadline at round 40
        reads = 0

        @classmethod
        def monotonic(cls):
            cls.reads += 1
            return 2.0 if cls.reads >= 40 else 0.0

    monkeypatch.setattr(boosting, "time", Clock)
    model = fit_one({"family": "lightgbm", "learning_rate": 0.3, "num_leaves": 63, "min_child_samples": 2},
                    X.iloc[:400], y[:400], "binary", 2, seed=0, eval_set=(X.iloc[400:], y[400:]), end=1.0,
                    soft_deadline=True)
    curve = model[-1].evals_result_["valid_0"]["binary_logloss"]
    assert len(curve) == 40  # stopped by the deadline, not by early stopping
    assert model[-1].best_iteration_ == int(np.argmin(curve)) + 1 < 40
    assert log_loss(y[400:], predict_one(model, X.iloc[400:], "binary", 2)) == pytest.approx(min(curve), rel=1e-6)


def test_one_thread_per_trial():
    X, y = messy("binary")
    for key in BUILTIN:
        model = REGISTRY.get(key).build(REGISTRY.get(key).default_config(), "binary", len(y), 2, 0)
        params = model.get_params()
        threads = {k: v for k, v in params.items() if k.endswith("n_jobs") or k.endswith("num_threads")}
        assert all(v in (None, 1) for v in threads.values()), (key, threads)


CLASSIFIERS = [key for key in BUILTIN + OPTIONAL if "multiclass" in REGISTRY.get(key).tasks]


@pytest.mark.parametrize("key", CLASSIFIERS)
@pytest.mark.parametrize("rare", [1, 2])
def test_classifier_fits_when_a_class_has_one_or_two_training_rows(key, rare):
    """Stratified folds of data with rare classes leave a class one or two training rows (PMLB's
    kddcup, fars); the SVM's internal 3-fold calibration refused them and failed every SVM there."""
    X, y = messy("multiclass", n=120)
    y = y.copy()
    y[y == 2] = 1
    y[:rare] = 2
    n_classes = 3
    model = fit_one(REGISTRY.get(key).default_config(), X, y, "multiclass", n_classes, seed=0,
                    eval_set=(X.iloc[:30], y[:30]), iterations=ROUNDS)
    pred = predict_one(model, unseen_rows(X), "multiclass", n_classes)
    assert pred.shape == (4, n_classes) and np.allclose(pred.sum(axis=1), 1.0) and np.all(np.isfinite(pred))
