"""Predictions on several threads (the estimator's ``n_jobs``, ``Family.predict_threads``): on a real table, every
family that takes threads at predict time and a fitted, saved and reloaded model give the same probabilities on one
and on two threads, and the members' models do get the threads."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl import AutoML
from automl.models import REGISTRY
from automl.models.boosting import final_estimator
from automl.prepare import prepare
from automl.search.trial import fit_one, predict_one
from tests.conftest import PMLB

THREADED = [k for k in REGISTRY.keys() if REGISTRY.get(k).predict_threads]
TRAIN_ROWS = 3000  # of phoneme's 5,404: the rest are predicted


def phoneme() -> tuple[pd.DataFrame, pd.Series]:
    path = PMLB / "phoneme.tsv.gz"
    if not path.exists():
        pytest.skip(f"PMLB table phoneme not found at {PMLB}")
    frame = pd.read_csv(path, sep="\t")
    return frame.drop(columns=["target"]), frame["target"]


def threads_of(model, key: str) -> int:
    return final_estimator(model).get_params()[REGISTRY.get(key).predict_threads]


def test_the_threaded_families_are_the_boosting_libraries_and_knn():
    assert {"lightgbm", "knn"} <= set(THREADED)
    assert not {"random_forest", "extra_trees"} & set(THREADED)  # (their threads add the trees in varying order)


@pytest.mark.parametrize("key", THREADED)
def test_a_family_predicts_the_same_on_one_and_two_threads(key):
    X, y = phoneme()
    table = prepare(X, y, "binary", describe=False)
    Xc, codes = table.X, table.y
    fit = {"eval_set": (Xc.iloc[2500:TRAIN_ROWS], codes[2500:TRAIN_ROWS])} if REGISTRY.get(key).boosting else {}
    model = fit_one({"family": key}, Xc.iloc[:2500], codes[:2500], "binary", 2, seed=0, **fit)
    assert threads_of(model, key) == 1
    one = predict_one(model, Xc.iloc[TRAIN_ROWS:], "binary", 2)
    REGISTRY.get(key).set_predict_threads(model, 2)
    assert threads_of(model, key) == 2
    np.testing.assert_array_equal(predict_one(model, Xc.iloc[TRAIN_ROWS:], "binary", 2), one)


def test_a_fitted_model_predicts_on_its_n_jobs_threads_with_the_same_probabilities(tmp_path):
    X, y = phoneme()
    model = AutoML(include=("lightgbm", "knn"), max_trials=4, time_budget=120, seed=0, n_jobs=1, warm_start=False,
                   write_back=False).fit(X.iloc[:TRAIN_ROWS], y.iloc[:TRAIN_ROWS])
    test = X.iloc[TRAIN_ROWS:]
    one = model.predict_proba(test)
    members = list(zip(model.model_.members, model.model_.families))
    assert members and all(threads_of(m, key) == 1 for models, key in members for m in models)
    model.set_params(n_jobs=2)
    np.testing.assert_array_equal(model.predict_proba(test), one)
    assert all(threads_of(m, key) == 2 for models, key in members for m in models)
    model.save(tmp_path / "m")
    again = AutoML.load(tmp_path / "m")
    np.testing.assert_array_equal(again.predict_proba(test), one)
    again.set_params(n_jobs=1)
    np.testing.assert_array_equal(again.predict_proba(test), one)
    assert np.array_equal(again.predict(test), model.predict(test))
