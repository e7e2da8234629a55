"""The knowledge base: schema and migrations, faults, many writers, retrieval, export/import."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import numpy as np
import pytest

import knowledge_base as kb
from knowledge_base.schema import DDL_V1, SCHEMA_VERSION
from metafeatures import FEATURE_NAMES, METAFEATURES_VERSION
from tests.kb_writer import make_run

REPO = Path(__file__).resolve().parents[1]


def mf(base: float, jitter: float = 0.0, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {n: base + i * 0.1 + jitter * rng.normal() for i, n in enumerate(FEATURE_NAMES)}


def record(store, name, meta, configs_losses, metric="roc_auc", task="binary", fidelity=1.0):
    now = datetime.now(timezone.utc)
    dataset = kb.DatasetRecord(fingerprint=f"fp-{name}", name=name, source="test", task=task, n_rows=100,
                               n_features=5, metafeatures=meta, metafeatures_version=METAFEATURES_VERSION)
    evals = [kb.EvaluationRecord(config=c, family=c["family"], space_version="1", fidelity=fidelity, protocol="cv5",
                                 metric=metric, score=-loss, loss=loss, fit_seconds=0.1, status="ok", error=None,
                                 seed=0, library_version="test") for c, loss in configs_losses]
    run = kb.RunRecord(run_id=f"run-{name}-{metric}", kind="refresh", started_at=now, finished_at=now,
                       budget_seconds=None, settings={}, versions={})
    return store.record_run(run, dataset, evals)


def test_same_run_twice_and_same_config_are_one_row(tmp_path):
    store = kb.open_store(tmp_path / "kb.duckdb", seed_dir=None)
    cfg = {"family": "lightgbm", "num_leaves": 7}
    record(store, "a", mf(0), [(cfg, -0.8), (dict(cfg), -0.8)])
    record(store, "a", mf(0), [(cfg, -0.8), (dict(cfg), -0.8)])
    info = store.info()
    assert (info["n_datasets"], info["n_configurations"], info["n_evaluations"], info["n_runs"]) == (1, 1, 2, 1)
    assert info["schema_version"] == SCHEMA_VERSION and store.check() == []


def test_retrieval_neighbours_diversity_families_and_metric_isolation(tmp_path):
    store = kb.open_store(tmp_path / "kb.duckdb", seed_dir=None)
    lgb = [{"family": "lightgbm", "num_leaves": 100 + i} for i in range(8)]  # near-duplicates of one another
    knn = {"family": "knn", "n_neighbors": 5}
    lin = {"family": "linear", "C": 1.0}
    record(store, "near", mf(1.0), [(c, -0.9 - i * 1e-4) for i, c in enumerate(lgb)] + [(knn, -0.85), (lin, -0.5)])
    record(store, "far", mf(9.0), [(lin, -0.99), (knn, -0.1)])
    record(store, "near-logloss", mf(1.05), [(lin, 0.01)], metric="log_loss")
    query = mf(1.0, jitter=0.01, seed=3)
    neighbours = store.similar(query, "binary", k=3)
    assert [n.name for n in neighbours][:2] == ["near", "near-logloss"] and neighbours[0].distance < 0.2
    assert store.similar(query, "regression") == []
    sugg = store.suggest(query, "binary", "roc_auc", n=4, k=2)
    families = [s.family for s in sugg]
    assert families[0] == "lightgbm" and "knn" in families
    assert families.count("lightgbm") == 1  # near-duplicates collapsed
    assert "near" in sugg[0].explanation and "distance" in sugg[0].explanation
    assert all(s.family != "lightgbm" for s in store.suggest(query, "binary", "roc_auc", families={"knn", "linear"}))
    only_logloss = store.suggest(query, "binary", "log_loss", n=5, k=3)
    assert [s.family for s in only_logloss] == ["linear"]  # scores under another metric are not mixed in
    prior = store.prior_observations(query, "binary", "roc_auc", k=2)
    assert prior and all(0.0 <= p.normalised_score <= 1.0 and p.weight > 0 for p in prior)
    assert store.similar(query, "binary", k=3, exclude_names=["near"])[0].name == "near-logloss"


def test_sql_values_are_parameters(tmp_path):
    store = kb.open_store(tmp_path / "kb.duckdb", seed_dir=None)
    evil = "x'); DROP TABLE evaluations; --"
    record(store, evil, mf(0), [({"family": "linear", "note": evil}, -0.7)])
    assert store.similar(mf(0), "binary")[0].name == evil
    assert store.info()["n_evaluations"] == 1


def test_not_a_knowledge_base_is_refused_and_untouched(tmp_path):
    garbage = tmp_path / "garbage.duckdb"
    garbage.write_bytes(b"this is not a database" * 100)
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE t (a INT)").fetchall()
    con.close()
    for path in (garbage, other):
        before = path.read_bytes()
        with pytest.raises(kb.NotAKnowledgeBaseError, match="not a knowledge base"):
            kb.open_store(path, seed_dir=None)
        assert path.read_bytes() == before


def test_older_schema_is_migrated_and_newer_refused(tmp_path):
    path = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(path))
    for ddl in DDL_V1:
        con.execute(ddl).fetchall()
    con.execute("INSERT INTO meta VALUES ('app', 'automl-knowledge-base'), ('schema_version', '1')").fetchall()
    con.execute("INSERT INTO evaluations (eval_id, run_id, metric, status) VALUES ('e1', 'r1', 'rmse', 'ok')").fetchall()
    con.close()
    store = kb.open_store(path, seed_dir=None)
    con = duckdb.connect(str(path))
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()[0][0] == str(SCHEMA_VERSION)
    assert con.execute("SELECT source FROM evaluations").fetchall() == [("local",)]
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'").fetchall()
    con.close()
    with pytest.raises(kb.SchemaVersionError, match=f"99.*{SCHEMA_VERSION}"):
        kb.open_store(path, seed_dir=None)
    assert store.path == path


def test_seed_is_loaded_on_first_use_only(tmp_path):
    source = kb.open_store(tmp_path / "source.duckdb", seed_dir=None)
    record(source, "seeded", mf(0), [({"family": "linear", "C": 2.0}, -0.6)])
    seed = tmp_path / "seed"
    source.export(seed)
    fresh = kb.open_store(tmp_path / "fresh.duckdb", seed_dir=seed)
    assert fresh.info()["n_evaluations"] == 1
    record(fresh, "mine", mf(3), [({"family": "linear", "C": 3.0}, -0.6)])
    again = kb.open_store(tmp_path / "fresh.duckdb", seed_dir=seed)
    assert again.info()["n_evaluations"] == 2
    assert sorted(p.name for p in seed.iterdir()) == ["configurations.parquet", "datasets.parquet",
                                                     "evaluations.parquet", "runs.parquet"]


def test_busy_store_stages_and_next_writer_merges(tmp_path, monkeypatch):
    import knowledge_base.store as store_mod
    path = tmp_path / "kb.duckdb"
    store = kb.open_store(path, seed_dir=None)
    monkeypatch.setattr(store_mod, "RETRY_SECONDS", 0.2)
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb,sys,time; c=duckdb.connect(sys.argv[1]); "
                               "print('held', flush=True); time.sleep(30)", str(path)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        written = store.record_run(*make_run(1, 0, 5))
        assert written == 5 and store.staging.exists()
    finally:
        holder.kill()
        holder.wait()
    store.record_run(*make_run(2, 0, 3))
    info = store.info()
    assert info["n_evaluations"] == 8 and info["pending_staged"] == 0


@pytest.mark.slow
def test_eight_processes_write_1600_evaluations(tmp_path):
    path = tmp_path / "kb.duckdb"
    kb.open_store(path, seed_dir=None)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = [subprocess.Popen([sys.executable, "-m", "tests.kb_writer", str(path), str(w), "10", "20"], cwd=REPO,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for w in range(8)]
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
    store = kb.open_store(path, seed_dir=None)
    store.merge_staged()
    info = store.info()
    assert info["n_evaluations"] == 1600 and info["n_runs"] == 80 and info["pending_staged"] == 0
    assert store.check() == []


@pytest.mark.slow
def test_kill_minus_nine_during_writes_leaves_a_consistent_store(tmp_path):
    path = tmp_path / "kb.duckdb"
    kb.open_store(path, seed_dir=None)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    rng = np.random.default_rng(0)
    for attempt in range(4):
        proc = subprocess.Popen([sys.executable, "-m", "tests.kb_writer", str(path), str(attempt), "1000", "50"],
                                cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        proc.stdout.readline()  # at least one run written, then kill at a random moment
        time.sleep(float(rng.uniform(0.0, 0.4)))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        store = kb.open_store(path, seed_dir=None)
        store.merge_staged()
        assert store.check() == []
        info = store.info()
        assert info["n_evaluations"] == 50 * info["n_runs"]  # all or nothing per run
