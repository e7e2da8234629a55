"""No two trials of a fit build the same pipeline: on the bundled example (binary) and on a regression table,
a fit over the families with conditional parameters holds canonical configurations only, each tried once per
fidelity (issue #27: 18 of the 20 best trials of one fit were one logistic regression with different unused
``alpha`` and ``l1_ratio``)."""
from __future__ import annotations

from collections import Counter

import pandas as pd

from automl import AutoML
from automl.models import REGISTRY
from knowledge_base.canonical import config_id
from tests.conftest import EXAMPLE
from tests.fixtures.tables import make_dataset

INCLUDE = ("linear", "svm", "random_forest")


def _assert_no_copies(model, task: str) -> None:
    trials = [t for t in model.trials_ if t["origin"] != "resumed"]
    assert len(trials) >= 20
    for t in trials:
        family = REGISTRY.get(t["family"])
        assert family.check(t["config"], task) == [], t["config"]  # no inactive parameter
        assert t["config_id"] == config_id(family.complete(t["config"], task))
    copies = {k: n for k, n in Counter((t["config_id"], t["fidelity"]) for t in trials).items() if n > 1}
    assert copies == {}


def test_a_fit_on_the_bundled_example_tries_no_pipeline_twice():
    frame = pd.read_csv(EXAMPLE)
    X, y = frame.drop(columns=["churned"]), frame["churned"]
    model = AutoML(time_budget=60, seed=0, max_trials=32, include=INCLUDE, write_back=False).fit(X.iloc[:600], y.iloc[:600])
    assert model.task_ == "binary"
    _assert_no_copies(model, "binary")
    assert {t["family"] for t in model.trials_} == set(INCLUDE)


def test_a_fit_on_a_regression_table_tries_no_pipeline_twice():
    frame = make_dataset("regression", n=400, seed=2)
    model = AutoML(time_budget=60, seed=0, max_trials=32, include=INCLUDE, write_back=False).fit(
        frame.drop(columns=["y"]), frame["y"])
    assert model.task_ == "regression"
    _assert_no_copies(model, "regression")
    # the regressor's own parameters are searched: more than one linear model kind
    linear = [t["config"] for t in model.trials_ if t["family"] == "linear"]
    assert linear and all("C" not in c and "class_weight" not in c and "alpha" in c for c in linear)
