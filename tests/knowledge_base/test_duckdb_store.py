"""The DuckDB file: location, seed, schema versions and migrations, refusing foreign or damaged files,
a busy store (staging), the read-only mode and the meta-feature scaler."""
from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import knowledge_base as kb
from knowledge_base import _schema
from tests.knowledge_base.factories import VERSION, lgbm, make_dataset, make_metafeatures, make_run, record

Q = {"metafeatures_version": VERSION}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------------------ location
def test_path_is_argument_then_environment_then_user_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOML_KB", str(tmp_path / "env.duckdb"))
    assert kb.resolve_path(tmp_path / "arg.duckdb") == tmp_path / "arg.duckdb"
    assert kb.resolve_path() == tmp_path / "env.duckdb"
    monkeypatch.delenv("AUTOML_KB")
    import platformdirs
    assert kb.resolve_path() == Path(platformdirs.user_data_dir("automl")) / "kb.duckdb"


def test_write_back_is_visible_to_the_next_open(tmp_path):
    path = tmp_path / "deep" / "folder" / "kb.duckdb"
    record(kb.open_store(path, seed_dir=None), "a", 0.0, [(lgbm(), -0.8)])
    again = kb.open_store(path, seed_dir=None)
    assert again.info()["n_evaluations"] == 1 and again.similar(make_metafeatures(0.0), "binary", **Q)[0].name == "a"
    assert kb.open_store(path, read_only=True).info()["n_runs"] == 1


# ------------------------------------------------------------------------------------------------ seed
def test_seed_is_loaded_on_first_creation_only_and_never_written(tmp_path):
    source = kb.open_store(tmp_path / "source.duckdb", seed_dir=None)
    record(source, "seeded", 0.0, [(lgbm(), -0.8)])
    seed = tmp_path / "seed"
    source.export(seed)
    before = {p.name: digest(p) for p in seed.iterdir()}
    fresh = kb.open_store(tmp_path / "user" / "kb.duckdb", seed_dir=seed)
    assert fresh.info()["n_evaluations"] == 1
    record(fresh, "mine", 3.0, [(lgbm(), -0.6)])
    again = kb.open_store(tmp_path / "user" / "kb.duckdb", seed_dir=seed)
    assert again.info()["n_evaluations"] == 2 and again.info()["n_datasets"] == 2
    assert {p.name: digest(p) for p in seed.iterdir()} == before  # the seed folder is read, never written
    assert not list(seed.glob("*.staging")) and not (seed / "kb.duckdb").exists()


def test_seed_from_environment(tmp_path, monkeypatch):
    source = kb.open_store(tmp_path / "source.duckdb", seed_dir=None)
    record(source, "seeded", 0.0, [(lgbm(), -0.8)])
    source.export(tmp_path / "seed")
    monkeypatch.setenv("AUTOML_KB_SEED", str(tmp_path / "seed"))
    assert kb.open_store(tmp_path / "kb.duckdb").info()["n_datasets"] == 1


@pytest.mark.parametrize("make", [lambda p: None, lambda p: p.mkdir()])
def test_absent_or_empty_seed_gives_an_empty_store_and_a_warning(tmp_path, caplog, make):
    seed = tmp_path / "seed"
    make(seed)
    logger = logging.getLogger("automl.kb")  # (the CLI may have stopped "automl" from propagating to the root)
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="automl.kb"):
            store = kb.open_store(tmp_path / "kb.duckdb", seed_dir=seed)
    finally:
        logger.removeHandler(caplog.handler)
    assert store.info()["n_datasets"] == 0
    assert any("seed" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_damaged_seed_is_a_clear_error_and_leaves_no_store(tmp_path):
    seed = tmp_path / "seed"
    seed.mkdir()
    for name in ("datasets", "configurations", "runs", "evaluations"):
        (seed / f"{name}.parquet").write_bytes(b"not parquet")
    with pytest.raises(kb.ExchangeError, match="unreadable"):
        kb.open_store(tmp_path / "kb.duckdb", seed_dir=seed)
    assert list(tmp_path.glob("*kb.duckdb*")) == []


# ------------------------------------------------------------------------------------------------ versions
def _old_store(path: Path, ddl: list[str], version: int) -> duckdb.DuckDBPyConnection:
    """A connection to a new store file in an older layout (its DDL verbatim), marked with its version."""
    con = duckdb.connect(str(path))
    for statement in ddl:
        con.execute(statement)
    con.execute("INSERT INTO meta VALUES ('app', 'automl-knowledge-base'), ('schema_version', ?)", [str(version)])
    return con


def _v1_file(path: Path) -> None:
    """A store as the first release wrote it (its DDL verbatim) with one dataset, run and evaluation."""
    con = _old_store(path, _schema.DDL_V1, 1)
    mf = '{"mf_00": 0.0, "mf_01": 0.1, "mf_02": null}'
    con.execute("INSERT INTO datasets VALUES ('fp1', 'old', 'openml', 'binary', 100, 4, ?, ?, NULL, '{}', "
                "TIMESTAMP '2024-01-01')", [VERSION, mf])
    cid = kb.config_id({"family": "linear", "C": 1.0})
    con.execute("INSERT INTO configurations VALUES (?, 'linear', '1', '{\"C\":1.0,\"family\":\"linear\"}', "
                "TIMESTAMP '2024-01-01')", [cid])
    con.execute("INSERT INTO runs VALUES ('r1', 'fit', 'local', NULL, NULL, 5.0, '{}', '{}', 'fp1', 2)")
    for i, loss in enumerate([-0.9, -0.7]):
        con.execute("INSERT INTO evaluations VALUES (?, 'r1', 'fp1', ?, 1.0, 'cv5', 'roc_auc', ?, ?, NULL, 0.1, "
                    "'ok', NULL, 0, 'x', TIMESTAMP '2024-01-01')", [f"r1:{i}", cid, -loss, loss])
    con.close()


@pytest.mark.parametrize("steps", [0, 1])
def test_older_schema_is_migrated_in_place(tmp_path, steps):
    path = tmp_path / "old.duckdb"
    _v1_file(path)
    if steps:  # a version-2 file: the first migration already applied by the older library
        con = duckdb.connect(str(path))
        for statement in _schema.MIGRATIONS[1]:
            con.execute(statement)
        con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
        con.close()
    with pytest.raises(kb.SchemaVersionError, match="read-only"):
        kb.open_store(path, read_only=True)
    store = kb.open_store(path, seed_dir=None)
    info = store.info()
    assert info["schema_version"] == kb.SCHEMA_VERSION == 4
    assert (info["n_datasets"], info["n_configurations"], info["n_evaluations"], info["n_runs"]) == (1, 1, 2, 1)
    assert store.check() == []
    assert store.similar({"mf_00": 0.0, "mf_01": 0.1}, "binary", **Q)[0].name == "old"
    assert store.evaluations()["space_version"].tolist() == ["1", "1"]
    assert store.suggest({"mf_00": 0.0}, "binary", "roc_auc", **Q)[0].config == {"C": 1.0, "family": "linear"}


def test_version_3_store_gains_a_null_lineage_and_keeps_its_rows(tmp_path):
    """A store written by schema 3 (its DDL verbatim) is migrated in place: its datasets get no lineage and
    are still retrieved; a new write records its lineage."""
    path = tmp_path / "v3.duckdb"
    con = _old_store(path, _schema.DDL_V3, 3)
    mf = '{"mf_00": 0.0, "mf_01": 0.1, "mf_02": null}'
    con.execute("INSERT INTO datasets (fingerprint, name, source, task, n_rows, n_features, metafeatures, "
                "metafeatures_version, extra, created_at, updated_at) VALUES ('fp1', 'old', 'local', 'binary', "
                "100, 4, ?, ?, '{}', TIMESTAMP '2026-01-01', TIMESTAMP '2026-01-01')", [mf, VERSION])
    cid = kb.config_id({"family": "linear", "C": 1.0})
    con.execute("INSERT INTO configurations VALUES (('0x' || ?)::UBIGINT, '{\"C\":1.0,\"family\":\"linear\"}', "
                "'linear', '1', TIMESTAMP '2026-01-01')", [cid])
    con.execute("INSERT INTO runs VALUES ('r1', 'fit', 'local', NULL, NULL, 5.0, '{}', '{}', 'fp1', 1, "
                "TIMESTAMP '2026-01-01')")
    con.execute("INSERT INTO evaluations VALUES ('r1', 0, 1, ('0x' || ?)::UBIGINT, 'linear', '1', 1.0, 'cv5', "
                "'roc_auc', 0.9, -0.9, 0.1, 'ok', NULL, 0, 'x', TIMESTAMP '2026-01-01', 'kb')", [cid])
    con.execute("INSERT INTO dataset_metrics VALUES (1, 'roc_auc', 1)")
    con.close()
    store = kb.open_store(path, seed_dir=None)
    assert store.info()["schema_version"] == 4
    assert store.dataset("fp1").lineage is None
    assert store.check() == []
    record(store, "new", 3.0, [(lgbm(), -0.7)], lineage="L-new")
    frame = store.datasets().set_index("name")
    assert frame.loc["new", "lineage"] == "L-new"
    assert pd.isna(frame.loc["old", "lineage"])
    assert store.suggest({"mf_00": 0.0}, "binary", "roc_auc", **Q)[0].config == {"C": 1.0, "family": "linear"}


def test_failed_migration_leaves_the_file_unchanged(tmp_path, monkeypatch):
    path = tmp_path / "old.duckdb"
    _v1_file(path)
    before = digest(path)
    monkeypatch.setitem(_schema.MIGRATIONS, 2, _schema.MIGRATIONS[2] + ["SELECT no_such_function()"])
    with pytest.raises(kb.SchemaVersionError, match="unchanged"):
        kb.open_store(path, seed_dir=None)
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall() == [("1",)]
    con.close()
    monkeypatch.undo()
    assert kb.open_store(path, seed_dir=None).info()["n_evaluations"] == 2
    assert before  # (the file was rewritten by the successful migration only)


def test_newer_schema_is_refused_naming_both_versions(tmp_path):
    path = tmp_path / "kb.duckdb"
    kb.open_store(path, seed_dir=None)
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    before = digest(path)
    with pytest.raises(kb.SchemaVersionError, match=r"schema version 99.*version 4") as err:
        kb.open_store(path, seed_dir=None)
    assert err.value.exit_code == 2 and "\n" not in str(err.value)
    assert digest(path) == before


# ------------------------------------------------------------------------------------------------ foreign files
def _other_duckdb(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE meta (key VARCHAR, value VARCHAR)")
    con.execute("INSERT INTO meta VALUES ('app', 'something else')")
    con.close()


@pytest.mark.parametrize("kind", ["garbage", "empty", "other duckdb", "damaged store", "folder"])
def test_foreign_or_damaged_files_are_refused_and_left_byte_identical(tmp_path, kind):
    path = tmp_path / "kb.duckdb"
    if kind == "garbage":
        path.write_bytes(b"PAR1 this is not a database \x00\x01" * 300)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "other duckdb":
        _other_duckdb(path)
    elif kind == "damaged store":
        record(kb.open_store(path, seed_dir=None), "a", 0.0, [(lgbm(), -0.8)])
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 3])
    else:
        path.mkdir()
    before = digest(path) if path.is_file() else None
    with pytest.raises(kb.NotAKnowledgeBaseError) as err:
        kb.open_store(path, seed_dir=None)
    message = str(err.value)
    assert str(path) in message and "\n" not in message and err.value.exit_code == 2
    if before is not None:
        assert digest(path) == before
        assert not Path(str(path) + ".wal").exists()


def test_read_only_store_refuses_writes(tmp_path):
    path = tmp_path / "kb.duckdb"
    kb.open_store(path, seed_dir=None)
    store = kb.open_store(path, read_only=True)
    with pytest.raises(kb.ReadOnlyStoreError):
        record(store, "a", 0.0, [(lgbm(), -0.8)])
    with pytest.raises(kb.KnowledgeBaseError, match="no knowledge base"):
        kb.open_store(tmp_path / "absent.duckdb", read_only=True)
    assert not (tmp_path / "absent.duckdb").exists()


# ------------------------------------------------------------------------------------------------ busy store
HOLD = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(60)"


def test_busy_store_stages_the_write_and_the_next_writer_merges_it(tmp_path):
    path = tmp_path / "kb.duckdb"
    record(kb.open_store(path, seed_dir=None), "first", 0.0, [(lgbm(), -0.8)])
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        store = kb.open_store(path, seed_dir=None, read_patience=0.2, write_patience=0.2)  # opening never fails
        assert record(store, "staged", 1.0, [(lgbm(), -0.7), (lgbm(8), -0.6)], run_id="staged") == 2
        assert record(store, "staged", 1.0, [(lgbm(), -0.7), (lgbm(8), -0.6)], run_id="staged") == 0
        assert len(store.staging.pending()) == 1 and store.staging.exists()
        with pytest.raises(kb.StoreBusyError, match="busy"):
            store.similar(make_metafeatures(0.0), "binary", **Q)
    finally:
        holder.kill()
        holder.wait()
    assert record(store, "later", 2.0, [(lgbm(), -0.5)]) == 1
    info = store.info()
    assert (info["n_runs"], info["n_evaluations"], info["pending_staged"]) == (3, 4, 0)
    assert store.merge_staged() == 0 and store.check() == []


def test_unreadable_staged_write_is_kept_aside_and_reported(tmp_path):
    path = tmp_path / "kb.duckdb"
    store = kb.open_store(path, seed_dir=None)
    bad = store.staging.root / "run-0123456789abcdef-00000000"
    bad.mkdir(parents=True)
    (bad / "runs.parquet").write_bytes(b"junk")
    assert record(store, "a", 0.0, [(lgbm(), -0.8)]) == 1  # a bad staged folder never fails a write
    problems = store.check()
    assert len(problems) == 1 and "could not be merged" in problems[0]
    assert store.info()["n_evaluations"] == 1 and store.staging.bad()


# ------------------------------------------------------------------------------------------------ scaling
def test_scaler_is_refitted_as_the_population_grows_and_versions_stay_apart(tmp_path, monkeypatch):
    from knowledge_base import _vectors
    store = kb.open_store(tmp_path / "kb.duckdb", seed_dir=None)
    monkeypatch.setattr(_vectors, "SMALL_POPULATION", 6)
    for i in range(_vectors.SMALL_POPULATION + 2):
        store.record_run(make_run(f"r{i}"), make_dataset(f"d{i}", float(i % 7)), [])
    con = duckdb.connect(str(store.path), read_only=True)
    fitted = [r[0] for r in con.execute("SELECT n_fitted FROM scalers ORDER BY scaler_id").fetchall()]
    con.close()
    # every new dataset while small; then the 7th is scaled with the scaler of 6 (grown < 25 %), the 8th refits
    assert fitted == [1, 2, 3, 4, 5, 6, 8]
    store.record_run(make_run("v2"), make_dataset("other version", 0.0, version="synthetic-2"), [])
    assert [n.name for n in store.similar(make_metafeatures(0.0), "binary", k=100,
                                          metafeatures_version="synthetic-2")] == ["other version"]
    assert "other version" not in [n.name for n in store.similar(make_metafeatures(0.0), "binary", k=100, **Q)]
    assert store.check() == []
    assert store.compact()["removed_orphans"] == 0 and store.check() == []


def test_an_export_of_the_first_store_layout_is_importable(tmp_path):
    old = tmp_path / "old.duckdb"
    _v1_file(old)
    con = duckdb.connect(str(old))
    for statement in _schema.MIGRATIONS[1]:  # the first store's version 2 (what its export wrote)
        con.execute(statement)
    folder = tmp_path / "old-export"
    folder.mkdir()
    import pyarrow.parquet as pq
    for table in ("datasets", "configurations", "evaluations", "runs"):
        pq.write_table(con.sql(f"SELECT * FROM {table}").to_arrow_table(), folder / f"{table}.parquet")
    con.close()
    store = kb.open_store(tmp_path / "kb.duckdb", seed_dir=folder)  # as a seed ...
    assert store.info()["n_evaluations"] == 2 and store.check() == []
    assert store.import_(folder) == 0  # ... and imported again: nothing new
    assert store.evaluations()["seq"].tolist() == [0, 1]


def test_threads_of_one_process_take_turns(tmp_path):
    from concurrent.futures import ThreadPoolExecutor
    path = tmp_path / "kb.duckdb"
    kb.open_store(path, seed_dir=None)

    def work(worker: int) -> int:
        store = kb.open_store(path, seed_dir=None)  # one store object per thread, like separate fits
        written = 0
        for i in range(4):
            written += record(store, f"t{worker}-{i}", float(worker), [(lgbm(2 + i), -0.5), (lgbm(50 + i), -0.4)])
            store.similar(make_metafeatures(float(worker)), "binary", **Q)
        return written

    with ThreadPoolExecutor(4) as pool:
        assert sum(pool.map(work, range(4))) == 32
    store = kb.open_store(path, seed_dir=None)
    assert store.info()["n_evaluations"] == 32 and store.check() == []
