"""Dataset sources: folder layouts (PMLB, manifests) and OpenML through the real client + stand-in server."""
from __future__ import annotations

import json
import time

import openml
import pytest

from knowledge_base.sources.folder import discover
from knowledge_base.sources.openml import OpenMLFetchError, OpenMLSource
from tests.fixtures.openml_server import OpenMLStandIn
from tests.fixtures.pmlb import write_pmlb_folder
from tests.fixtures.tables import make_dataset


def test_discover_pmlb_layout_and_manifests(tmp_path):
    write_pmlb_folder(tmp_path, ("analcatdata_aids", "1027_ESL"))
    make_dataset("binary", n=60, messy=False).to_csv(tmp_path / "customers.csv", index=False)
    make_dataset("regression", n=60, messy=False).to_parquet(tmp_path / "prices.parquet")
    (tmp_path / "manifest.json").write_text(json.dumps({"datasets": [
        {"file": "customers.csv", "target": "y", "task": "binary"},
        {"file": "gone.csv", "target": "y"},
    ]}))
    (tmp_path / "datasets.csv").write_text("file,target,task,name\nprices.parquet,y,regression,prices\n")
    sources, problems = discover(tmp_path)
    by_name = {s.name: s for s in sources}
    assert by_name["analcatdata_aids"].task == "multiclass" or by_name["analcatdata_aids"].task == "binary"
    assert by_name["1027_ESL"].task == "regression" and by_name["1027_ESL"].target == "target"
    assert by_name["customers"].origin == "manifest" and by_name["customers"].task == "binary"
    assert by_name["prices"].task == "regression"
    assert [p.name for p in problems] == ["gone"]
    assert by_name["customers"].load().shape == (60, 4)


def _client_source(server: OpenMLStandIn, tmp_path, timeout: float = 0.5) -> OpenMLSource:
    return OpenMLSource(server=server.api_url, apikey="", cache_dir=tmp_path / "openml-cache", timeout=timeout,
                        n_retries=1)


def test_openml_source_fetches_through_the_real_client(tmp_path):
    before = (openml.config.server, openml.config.apikey)
    with OpenMLStandIn(slow_seconds=2.0) as server:
        did = server.add_dataset(make_dataset("multiclass", n=90, messy=False), "y", "three")
        tid = server.add_task(did)
        bad = [server.add_task(server.add_dataset(make_dataset("binary", n=40, seed=i, messy=False), "y", f"b{i}"))
               for i in range(4)]
        server.fail_task(bad[0], "error500")
        server.fail_task(bad[1], "timeout")
        server.fail_task(bad[2], "malformed")
        server.fail_task(bad[3], "close")
        server.add_suite(271, [tid, *bad])
        server.add_run(tid, 7, "sklearn.ensemble._forest.RandomForestClassifier",
                       {"n_estimators": "100", "max_features": '"sqrt"'}, 0.8)
        source = _client_source(server, tmp_path)
        assert source.suite_task_ids(271) == [tid, *bad]
        data = source.fetch_task(tid)
        assert data.task == "multiclass" and data.frame.shape == (90, 4) and data.target == "y"
        assert data.qualities["NumberOfInstances"] == 90.0
        kinds = {}
        for t in bad:
            start = time.monotonic()
            with pytest.raises(OpenMLFetchError) as err:
                source.fetch_task(t)
            kinds[t] = err.value.kind
            assert time.monotonic() - start < 1.8  # the timeout applies; nothing waits for the slow answer
        assert kinds == {bad[0]: "server", bad[1]: "timeout", bad[2]: "malformed", bad[3]: "connection"}
        runs = source.runs(tid, "predictive_accuracy", flow_filter=lambda n: "RandomForest" in n)
        assert len(runs) == 1 and runs[0].value == 0.8
        assert runs[0].parameters["sklearn.ensemble._forest.RandomForestClassifier"]["n_estimators"] == "100"
    # the client's configuration is restored; the cache holds the task and dataset files
    assert (openml.config.server, openml.config.apikey) == before
    cached = list((tmp_path / "openml-cache").rglob("dataset.arff"))
    assert cached and any(p.parent.name == str(did) for p in cached)


def test_openml_forest_runs_map_onto_our_space():
    from automl.refresh import map_openml_run, openml_flow_family
    rf = "sklearn.ensemble.forest.RandomForestClassifier"
    config, reason = map_openml_run({rf: {"n_estimators": "200", "max_features": '"sqrt"', "min_samples_leaf": "2",
                                          "bootstrap": "true", "criterion": '"entropy"', "max_depth": "null",
                                          "class_weight": '"balanced_subsample"', "random_state": "1"}},
                                    "binary", n_rows=1000, n_features=16)
    assert reason == "" and config["family"] == "random_forest"
    assert config["n_estimators"] == 200 and config["max_features"] == 0.25 and config["min_samples_leaf"] == 2
    assert config["class_weight"] == "balanced" and config["bootstrap"] is True
    pipe = {"sklearn.pipeline.Pipeline": {"memory": "null"}, "sklearn.impute._base.SimpleImputer": {},
            "sklearn.ensemble._forest.ExtraTreesRegressor": {"n_estimators": "100", "max_features": "1.0"}}
    config, reason = map_openml_run(pipe, "regression", 500, 8)
    assert config["family"] == "extra_trees" and config["max_features"] == 1.0
    assert map_openml_run({rf: {"n_estimators": "10"}}, "binary", 100, 4)[0] is None  # outside [50, 500]
    assert "max_depth" in map_openml_run({rf: {"n_estimators": "100", "max_depth": "5"}}, "binary", 100, 4)[1]
    assert map_openml_run({rf: {"n_estimators": "100"}}, "regression", 100, 4)[0] is None  # classifier vs task
    assert map_openml_run({"sklearn.decomposition.PCA": {}, rf: {"n_estimators": "100"}}, "binary", 100, 4)[0] is None
    assert openml_flow_family("sklearn.pipeline.Pipeline(imputer=sklearn.impute.SimpleImputer,"
                              "forest=sklearn.ensemble._forest.RandomForestClassifier)(1)") == "random_forest"
    assert openml_flow_family("mlr.classif.ranger(5)") is None
