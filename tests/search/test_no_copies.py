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
    assert len(model.trials_) >= 20
    _assert_no_copies_of(model.trials_, task)


def _assert_no_copies_of(trials: list[dict], task: str) -> None:
    """Every trial's configuration canonical for ``task`` (no inactive parameter; its id from that form),
    and no (id, fidelity) tried twice."""
    trials = [t for t in trials if t["origin"] != "resumed"]
    for t in trials:
        family = REGISTRY.get(t["family"])
        assert family.check(t["config"], task) == [], t["config"]  # no inactive parameter
        assert t["config_id"] == config_id(family.complete(t["config"], task))
    copies = {k: n for k, n in Counter((t["config_id"], t["fidelity"]) for t in trials).items() if n > 1}
    assert copies == {}


def test_a_fit_on_the_bundled_example_tries_no_pipeline_twice():
    frame = pd.read_csv(EXAMPLE)
    X, y = frame.drop(columns=["churned"]), frame["churned"]
    # (two workers: batches of two proposals, each of which must also differ from the one running beside it)
    model = AutoML(time_budget=120, seed=0, max_trials=32, include=INCLUDE, n_jobs=2, write_back=False).fit(
        X.iloc[:400], y.iloc[:400])
    assert model.task_ == "binary"
    _assert_no_copies(model, "binary")
    assert {t["family"] for t in model.trials_} == set(INCLUDE)


def test_a_fit_on_a_regression_table_tries_no_pipeline_twice():
    frame = make_dataset("regression", n=400, seed=2)
    model = AutoML(time_budget=120, seed=0, max_trials=32, include=INCLUDE, n_jobs=2, write_back=False).fit(
        frame.drop(columns=["y"]), frame["y"])
    assert model.task_ == "regression"
    _assert_no_copies(model, "regression")
    # the regressor's own parameters are searched: more than one linear model kind
    linear = [t["config"] for t in model.trials_ if t["family"] == "linear"]
    assert linear and all("C" not in c and "class_weight" not in c and "alpha" in c for c in linear)


def test_a_store_with_space_version_1_rows_warm_starts_in_the_current_space(tmp_path):
    """A user store made from an older seed keeps its version-1 rows; the search maps what it reads
    (suggestions, prior observations) into the current space for its task, so the old elastic net is
    suggested as the elastic net it was and carries no classifier parameter."""
    import knowledge_base as kb
    from tests.knowledge_base.factories import make_evaluation, make_run
    frame = make_dataset("regression", n=200, seed=4)
    X, y = frame.drop(columns=["y"]), frame["y"]
    path = tmp_path / "kb.duckdb"
    AutoML(time_budget=30, seed=0, max_trials=2, include=("linear",), knowledge_base=str(path)).fit(X, y)
    store = kb.open_store(path)
    mine = store.datasets().query("source == 'local'").iloc[-1]
    old = {"family": "linear", "C": 3.0, "alpha": 0.05, "l1_ratio": 0.6, "class_weight": "balanced"}
    worse = {"family": "linear", "C": 0.2, "alpha": 5.0, "l1_ratio": 0.1, "class_weight": "none"}
    twin = kb.DatasetRecord(fingerprint="f" * 32, name="v1-twin", source="test", task="regression",
                            n_rows=int(mine.n_rows), n_features=int(mine.n_features),
                            metafeatures=dict(mine.metafeatures), metafeatures_version=mine.metafeatures_version)
    evaluations = [make_evaluation(c, loss, metric="rmse", space_version="1") for c, loss in ((old, 1.0), (worse, 9.0))]
    store.record_run(make_run("v1-run"), twin, evaluations)
    # the first fit's own evaluations of this table come first (own history), so 6 trials reach the twin's
    model = AutoML(time_budget=30, seed=1, max_trials=6, include=("linear",), knowledge_base=str(path),
                   write_back=False).fit(X, y)
    suggested = [t["config"] for t in model.trials_ if t["origin"] == "kb"]
    assert {"family": "linear", "penalty": "elasticnet", "alpha": 0.05, "l1_ratio": 0.6} in suggested
    _assert_no_copies_of(model.trials_, "regression")


def test_a_time_budgeted_regression_fit_keeps_every_trial_canonical_also_the_early_one():
    frame = make_dataset("regression", n=300, seed=5)
    model = AutoML(time_budget=4, seed=0, include=("lightgbm", "linear"), write_back=False).fit(
        frame.drop(columns=["y"]), frame["y"])
    assert "early" in {t["origin"] for t in model.trials_}
    _assert_no_copies_of(model.trials_, "regression")  # the early LightGBM holds no class_weight
