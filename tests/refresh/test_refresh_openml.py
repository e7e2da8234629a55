"""OpenML refresh through the real ``openml`` client against the local stand-in server."""
from __future__ import annotations

import json
import time

import openml
import pytest

from automl.refresh import refresh_from_openml
from tests.fixtures.openml_server import OpenMLStandIn
from tests.refresh.conftest import ONE_CANDIDATE
from tests.fixtures.tables import make_dataset

RF = "sklearn.ensemble._forest.RandomForestClassifier"
ET = "sklearn.ensemble._forest.ExtraTreesRegressor"


@pytest.fixture
def server():
    with OpenMLStandIn(slow_seconds=3.0) as s:
        good = []
        for i, task in enumerate(["binary", "multiclass", "regression"]):
            did = s.add_dataset(make_dataset(task, n=90, seed=10 + i, messy=False), "y", f"tiny-{task}")
            good.append(s.add_task(did, kind="regression" if task == "regression" else "classification"))
        bad = [s.add_task(s.add_dataset(make_dataset("binary", n=40, seed=20 + i, messy=False), "y", f"bad{i}"))
               for i in range(3)]
        for tid, fault in zip(bad, ["error500", "timeout", "malformed"]):
            s.fail_task(tid, fault)
        s.add_suite(271, good + bad)
        params = {"n_estimators": "100", "max_features": '"sqrt"', "min_samples_leaf": "1", "bootstrap": "true",
                  "criterion": '"gini"', "max_depth": "null", "class_weight": "null"}
        s.add_run(good[0], 11, RF, params, 0.90, function="area_under_roc_curve")
        s.add_run(good[0], 11, RF, params, 0.92, function="area_under_roc_curve")  # same setup again: averaged
        s.add_run(good[0], 11, RF, {**params, "n_estimators": "300", "min_samples_leaf": "4"}, 0.94,
                  function="area_under_roc_curve")
        s.add_run(good[0], 11, RF, {**params, "max_depth": "5"}, 0.80, function="area_under_roc_curve")  # no map
        s.add_run(good[2], 12, ET, {"n_estimators": "200", "max_features": "0.5", "bootstrap": "false"}, 1.7,
                  function="root_mean_squared_error")
        s.good, s.bad = good, bad
        yield s


def test_openml_refresh_imports_tasks_qualities_and_prior_runs(server, store, options, tmp_path):
    before = (openml.config.server, openml.config.apikey)
    kwargs = dict(store=store, options=options(pool=ONE_CANDIDATE), server=server.api_url, apikey="",
                  cache_dir=tmp_path / "openml-cache", timeout=0.5, n_retries=1)
    start = time.monotonic()
    summary = refresh_from_openml(suite=271, **kwargs)
    assert time.monotonic() - start < 60
    outcomes = {o.name: o for o in summary.outcomes}
    assert [outcomes[f"openml-task-{t}"].status for t in server.good] == ["added"] * 3
    reasons = [outcomes[f"openml-task-{t}"].reason for t in server.bad]
    assert [outcomes[f"openml-task-{t}"].status for t in server.bad] == ["failed"] * 3
    assert "server error" in reasons[0] and "timeout" in reasons[1] and "malformed" in reasons[2]
    assert summary.failed

    # OpenML's qualities next to our meta-features
    datasets = store.datasets().set_index("name")
    extra = datasets.loc[f"openml-task-{server.good[0]}", "extra"]
    assert extra["openml"]["qualities"]["NumberOfInstances"] == 90.0
    overlap = extra["openml_overlap"]["majority_share"]
    assert overlap["openml_quality"] == "MajorityClassPercentage" and overlap["ours"] == pytest.approx(
        overlap["openml"], abs=1e-6)
    assert set(datasets["source"]) == {"openml"}
    # OpenML's units converted to ours: counts, class shares and missing cells (OpenML counts the target's)
    for name in datasets.index:
        for ours, pair in datasets.loc[name, "extra"]["openml_overlap"].items():
            if ours in ("n_rows_log", "n_features_log", "n_classes", "majority_share", "minority_share",
                        "share_missing_cells"):
                assert pair["ours"] == pytest.approx(pair["openml"], abs=1e-6), (name, ours, pair)

    # prior evidence: RF runs mapped onto random_forest, averaged per configuration, unmappable one skipped
    prior = store.evaluations(origin="openml")
    on_binary = prior[prior["name"] == f"openml-task-{server.good[0]}"]
    assert len(on_binary) == 2 and set(on_binary["family"]) == {"random_forest"}
    assert set(on_binary["metric"]) == {"openml:area_under_roc_curve"}
    assert sorted(on_binary["score"].round(4)) == [0.91, 0.94]
    assert all(p.startswith("openml:crossvalidation") for p in on_binary["protocol"])
    assert "1 not mappable" in outcomes[f"openml-task-{server.good[0]}"].reason
    on_reg = prior[prior["name"] == f"openml-task-{server.good[2]}"]
    assert list(on_reg["family"]) == ["extra_trees"] and list(on_reg["loss"]) == [1.7]
    ours = store.evaluations(origin="candidate")
    assert not set(ours["metric"]) & set(prior["metric"])  # never mixed with our own scores
    runs = store.runs()
    assert set(runs[runs["kind"] == "openml-import"]["source"]) == {"openml"}

    # the client is left as it was; its cache holds what was fetched
    assert (openml.config.server, openml.config.apikey) == before
    assert list((tmp_path / "openml-cache").rglob("task.xml"))

    n_eval = store.info()["n_evaluations"]
    again = refresh_from_openml(tasks=server.good, **kwargs)
    assert again.count("skipped") == 3 and not again.failed
    assert store.info()["n_evaluations"] == n_eval


def test_unknown_suite_is_reported(server, store, options, tmp_path):
    summary = refresh_from_openml(suite=999, store=store, options=options(), server=server.api_url, apikey="",
                                  cache_dir=tmp_path / "c", timeout=0.5, n_retries=1)
    assert summary.failed and summary.outcomes[0].name == "suite 999"
    assert json.dumps(summary.to_dict(), default=str)
