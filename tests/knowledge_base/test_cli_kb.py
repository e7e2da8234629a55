"""``automl kb ...`` on real stores: info, export/import round trip, check, similar, and bad files."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import knowledge_base as kb
from cli import main
from tests.knowledge_base.factories import lgbm, record


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_info_export_import_check(tmp_path):
    source = tmp_path / "source.duckdb"
    store = kb.open_store(source, seed_dir=None)
    record(store, "a", 0.0, [(lgbm(7), -0.9), (lgbm(9), -0.8)])
    record(store, "b", 1.0, [(lgbm(7), 2.0)], task="regression", metric="rmse")
    result = invoke("kb", "info", "--kb", source, "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert (info["n_datasets"], info["n_configurations"], info["n_evaluations"]) == (2, 2, 3)
    assert info["by_task"] == {"binary": 1, "regression": 1} and info["schema_version"] == kb.SCHEMA_VERSION
    assert invoke("kb", "export", tmp_path / "out", "--kb", source).exit_code == 0
    target = tmp_path / "target.duckdb"
    kb.open_store(target, seed_dir=None)
    result = invoke("kb", "import", tmp_path / "out", "--kb", target)
    assert result.exit_code == 0 and "3" in result.stdout
    assert json.loads(invoke("kb", "info", "--kb", target, "--json").stdout)["n_evaluations"] == 3
    assert invoke("kb", "check", "--kb", target).exit_code == 0
    assert invoke("kb", "compact", "--kb", target).exit_code == 0


@pytest.mark.parametrize("content", [b"not a database at all" * 200, b""])
def test_a_file_that_is_not_a_knowledge_base_exits_2_and_is_untouched(tmp_path, content):
    path = tmp_path / "kb.duckdb"
    path.write_bytes(content)
    result = CliRunner().invoke(main, ["kb", "info", "--kb", str(path)])
    assert result.exit_code == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "not a knowledge base" in lines[0]
    assert path.read_bytes() == content


def test_similar_on_a_table(tmp_path):
    import metafeatures
    from automl.data import TableEncoder, encode_target
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    frame["y"] = (frame["a"] + rng.normal(scale=0.3, size=120) > 0).map({True: "yes", False: "no"})
    store_path = tmp_path / "kb.duckdb"
    store = kb.open_store(store_path, seed_dir=None)
    X = TableEncoder().fit_transform(frame.drop(columns="y"))
    target = encode_target(frame["y"], None)
    now = datetime.now(timezone.utc)
    store.record_run(kb.RunRecord(run_id="r", kind="fit", started_at=now, finished_at=now, budget_seconds=1.0,
                                  settings={}, versions={}),
                     kb.DatasetRecord(fingerprint=kb.fingerprint(X, target.y), name="twin", source="test",
                                      task=target.task, n_rows=120, n_features=2,
                                      metafeatures=metafeatures.compute(X, target.y, target.task),
                                      metafeatures_version=metafeatures.METAFEATURES_VERSION),
                     [kb.EvaluationRecord(config=lgbm(7), family="lightgbm", space_version="1", fidelity=1.0,
                                          protocol="cv5", metric="roc_auc", score=0.9, loss=-0.9, fit_seconds=1.0,
                                          status="ok", error=None, seed=0, library_version="t")])
    csv = tmp_path / "data.csv"
    frame.to_csv(csv, index=False)
    result = invoke("kb", "similar", csv, "--target", "y", "--kb", store_path, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["neighbours"][0]["name"] == "twin" and out["neighbours"][0]["distance"] < 1e-6
    assert out["suggestions"][0]["config"] == lgbm(7)
