"""The store contract (``KnowledgeBase``) and its DuckDB implementation.

Concurrency. DuckDB lets one process hold a file read-write, and while it does, every other
process's open fails at once (even read-only). So no method keeps a connection: each opens, works
and closes, and opens retry with jittered exponential back-off (5 ms doubling to 100 ms).
Reads wait up to ``read_patience`` (2 s) and then raise ``StoreBusyError`` (the caller starts
cold). A write-back waits up to ``write_patience`` (1 s) and then stages the run as Parquet in
``<store>.staging/`` (see ``_staging``); the next successful writer merges the staging area in
its own transaction, idempotently (a run id is never written twice). One write-back is one
transaction, so a process killed at any point leaves every run either whole or absent.

Safety. A path that is not a DuckDB file (checked from its header before DuckDB touches it), a
DuckDB database without the knowledge-base marker, or an unreadable file gives a one-line
``KnowledgeBaseError`` and is never written to. A new store is built in a temporary file and
hard-linked into place, so a kill during creation or seeding leaves no half-made store. SQL only
ever receives values as parameters; identifiers in SQL text are this module's constants.
"""
from __future__ import annotations

import json
import logging
import math
import os
import random
import threading
import time
import uuid
from abc import ABC, abstractmethod
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import _retrieval as R
from ._errors import (DamagedStoreError, ExchangeError, KnowledgeBaseError, NotAKnowledgeBaseError,
                      ReadOnlyStoreError, SchemaVersionError, StoreBusyError)
from ._exchange import (conform, has_tables, now_utc, parse_metafeatures, read_folder, records_to_tables,
                        write_folder)
from ._schema import APP_MARKER, DDL_CURRENT, MIGRATIONS, SCHEMA_VERSION, TABLES
from ._staging import Staging
from ._vectors import current_metafeatures_version, load_scaler, refresh_vectors
from .canonical import config_id as _config_id
from .records import (DEFAULT_METRICS, DatasetRecord, EvaluationRecord, Neighbour, PriorObservation, RunRecord,
                      Suggestion)

log = logging.getLogger("automl.kb")

SEED_DIR = Path(__file__).resolve().parent / "seed"
SEED_ENV = "AUTOML_KB_SEED"
READ_PATIENCE = 2.0
WRITE_PATIENCE = 1.0
MAINTENANCE_PATIENCE = 60.0
PREPARE_PATIENCE = 0.5
HASH_CHECK_SAMPLE = 50_000  # check() re-hashes every configuration up to this many, else a sample
STALE_CREATION_SECONDS = 3600.0
_FIRST_DELAY, _MAX_DELAY = 0.005, 0.1
_DEFAULT = object()
_HEADER_BYTES = 3 * 4096  # DuckDB's main header and its two database headers


def resolve_path(path: str | os.PathLike | None = None) -> Path:
    """The store's file: ``path``, else ``$AUTOML_KB``, else ``platformdirs.user_data_dir("automl")/kb.duckdb``."""
    if path is not None and str(path) != "":
        return Path(path).expanduser()
    env = os.environ.get("AUTOML_KB")
    if env:
        return Path(env).expanduser()
    import platformdirs
    return Path(platformdirs.user_data_dir("automl")) / "kb.duckdb"


def default_seed_dir() -> Path:
    env = os.environ.get(SEED_ENV)
    return Path(env) if env else SEED_DIR


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc)
    return "Could not set lock" in text or "Conflicting lock" in text


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def _process_lock(path: Path) -> threading.RLock:
    """Threads of one process take turns on a file (DuckDB shares one database per process)."""
    key = os.path.abspath(path)
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.RLock())


class _NeedsMigration(Exception):
    def __init__(self, version: int) -> None:
        super().__init__(version)
        self.version = version


# ================================================================================================ contract
class KnowledgeBase(ABC):
    """What the rest of the system may ask of a knowledge base (one conformance suite tests every store).

    Scores are compared only within one metric; ``normalised`` scores are per dataset, 1 = best.
    Reads never fail because another process is writing for long: they raise ``StoreBusyError``
    after a few seconds and callers start cold. ``record_run`` is one transaction and idempotent.
    """

    @abstractmethod
    def info(self) -> dict:
        """``path``, ``schema_version``, ``n_datasets``, ``n_configurations``, ``n_evaluations``, ``n_runs``,
        ``by_task`` (datasets), ``by_source`` (evaluations by dataset source), ``pending_staged``, ..."""

    @abstractmethod
    def similar(self, metafeatures: dict, task: str, k: int = 5, exclude_fingerprint: str | None = None, *,
                metafeatures_version: str | None = None, exclude_names: Iterable[str] = ()) -> list[Neighbour]:
        """The ``k`` nearest stored datasets of ``task`` (same meta-feature version), nearest first."""

    @abstractmethod
    def suggest(self, metafeatures: dict, task: str, metric: str, n: int = 10, k: int = 10,
                families: set[str] | None = None, exclude_fingerprint: str | None = None, *,
                metafeatures_version: str | None = None, exclude_names: Iterable[str] = ()) -> list[Suggestion]:
        """Up to ``n`` diverse warm-start configurations from the ``k`` nearest datasets, best first."""

    @abstractmethod
    def prior_observations(self, metafeatures: dict, task: str, metric: str, k: int = 10,
                           families: set[str] | None = None, exclude_fingerprint: str | None = None, *,
                           metafeatures_version: str | None = None, exclude_names: Iterable[str] = (),
                           limit: int | None = None) -> list[PriorObservation]:
        """Normalised scores of configurations on the ``k`` nearest datasets, weighted by similarity."""

    def retrieve(self, metafeatures: dict, task: str, metric: str, n: int = 10, k: int = 10,
                 families: Iterable[str] | None = None, exclude_fingerprint: str | None = None, *,
                 metafeatures_version: str | None = None, exclude_names: Iterable[str] = (),
                 neighbours_k: int | None = None, prior_limit: int | None = None
                 ) -> tuple[list[Neighbour], list[Suggestion], list[PriorObservation]]:
        """``(similar, suggest, prior_observations)`` for one fit (a store may do it in one connection)."""
        families = set(families) if families is not None else None
        common = dict(exclude_fingerprint=exclude_fingerprint, metafeatures_version=metafeatures_version,
                      exclude_names=exclude_names)
        return (self.similar(metafeatures, task, neighbours_k or k, **common),
                self.suggest(metafeatures, task, metric, n, k, families, **common),
                self.prior_observations(metafeatures, task, metric, k, families, limit=prior_limit, **common))

    @abstractmethod
    def record_run(self, run: RunRecord, dataset: DatasetRecord | None,
                   evaluations: list[EvaluationRecord]) -> int:
        """Write (or stage) a run in one transaction; returns evaluations written; same run id twice: 0."""

    @abstractmethod
    def has_dataset(self, fingerprint: str, metafeatures_version: str | None = None,
                    space_version: str | None = None) -> bool:
        """Whether the dataset is stored (with these meta-feature / search-space versions)."""

    @abstractmethod
    def export(self, directory: str | os.PathLike) -> dict[str, int]:
        """Write the store as Parquet (exchange format); returns row counts per table."""

    @abstractmethod
    def import_(self, directory: str | os.PathLike) -> int:
        """Merge an exported folder (idempotent); returns the number of new evaluations."""

    @abstractmethod
    def merge_staged(self) -> int:
        """Merge staged writes; returns the number of evaluations merged."""

    @abstractmethod
    def check(self) -> list[str]:
        """Integrity problems, one line each (empty when consistent)."""

    @abstractmethod
    def compact(self) -> dict:
        """Merge staged writes, drop unusable rows, checkpoint; returns what was done."""


# ================================================================================================ DuckDB
class DuckDBStore(KnowledgeBase):
    """The knowledge base in one DuckDB file. Build it with :func:`open_store`."""

    def __init__(self, path: str | os.PathLike, *, read_only: bool = False, read_patience: float = READ_PATIENCE,
                 write_patience: float = WRITE_PATIENCE) -> None:
        self.path = Path(path)
        self.read_only = bool(read_only)
        self.read_patience = float(read_patience)
        self.write_patience = float(write_patience)
        self.staging = Staging(self.path)
        self.schema_version = SCHEMA_VERSION
        self._validated = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}{', read_only=True' if self.read_only else ''})"

    # ------------------------------------------------------------------------------------ connections
    def _check_file(self) -> None:
        """Refuse anything that is not a DuckDB file before DuckDB opens (and could initialise) it."""
        try:
            if self.path.is_dir():
                raise NotAKnowledgeBaseError(f"{self.path} is a folder, not a knowledge-base file")
            with open(self.path, "rb") as fh:
                head = fh.read(12)
        except FileNotFoundError:
            raise KnowledgeBaseError(f"no knowledge base at {self.path}") from None
        except OSError as exc:
            raise NotAKnowledgeBaseError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        if len(head) < 12 or head[8:12] != b"DUCK":
            raise NotAKnowledgeBaseError(f"{self.path} is not a knowledge base (not a DuckDB database file); "
                                         f"it was left untouched")

    def _connect(self, write: bool, patience: float) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + max(0.0, patience)
        delay = _FIRST_DELAY
        while True:
            self._check_file()
            try:
                return duckdb.connect(str(self.path), read_only=not write)
            except duckdb.IOException as exc:
                if not _is_lock_error(exc):
                    raise DamagedStoreError(f"cannot open knowledge base {self.path}: {_first_line(exc)}") from None
            except duckdb.ConnectionException as exc:
                raise KnowledgeBaseError(f"knowledge base {self.path} is already open in this process with other "
                                         f"settings: {_first_line(exc)}") from None
            except duckdb.Error as exc:
                raise DamagedStoreError(f"cannot open knowledge base {self.path}: {_first_line(exc)}") from None
            if time.monotonic() >= deadline:
                raise StoreBusyError(f"knowledge base {self.path} is busy: another process held it for more than "
                                     f"{patience:.1f}s")
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(_MAX_DELAY, delay * 2)

    @contextmanager
    def _session(self, write: bool, patience: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived, validated connection (migrating an older store first)."""
        if write and self.read_only:
            raise ReadOnlyStoreError(f"knowledge base {self.path} was opened read-only")
        patience = (self.write_patience if write else self.read_patience) if patience is None else patience
        with _process_lock(self.path):
            con = self._connect(write, patience)
            try:
                if not self._validated:
                    try:
                        self._validate(con, write)
                    except _NeedsMigration as need:
                        if self.read_only:
                            raise SchemaVersionError(
                                f"knowledge base {self.path} has schema version {need.version} and needs a migration "
                                f"to {SCHEMA_VERSION}, which a read-only open cannot do") from None
                        con.close()
                        con = self._connect(True, max(patience, MAINTENANCE_PATIENCE))
                        self._validate(con, True)
                yield con
            except (duckdb.IOException, duckdb.SerializationException, duckdb.InternalException) as exc:
                raise DamagedStoreError(f"knowledge base {self.path} cannot be read, it looks damaged: "
                                        f"{_first_line(exc)}") from exc
            except duckdb.Error as exc:
                raise KnowledgeBaseError(f"knowledge base {self.path}: {type(exc).__name__}: "
                                         f"{_first_line(exc)}") from exc
            finally:
                con.close()

    def _validate(self, con, write: bool) -> None:
        try:
            tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                                "WHERE table_schema = 'main'").fetchall()}
            meta = dict(con.execute("SELECT key, value FROM meta").fetchall()) if "meta" in tables else {}
        except duckdb.Error as exc:
            raise DamagedStoreError(f"knowledge base {self.path} cannot be read: {_first_line(exc)}") from None
        if meta.get("app") != APP_MARKER:
            raise NotAKnowledgeBaseError(f"{self.path} is not a knowledge base (a DuckDB database without the "
                                         f"knowledge-base marker); it was left untouched")
        try:
            version = int(meta.get("schema_version", ""))
        except ValueError:
            raise DamagedStoreError(f"knowledge base {self.path} has an unreadable schema version "
                                    f"{meta.get('schema_version')!r}") from None
        self._check_size(con)
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(f"knowledge base {self.path} has schema version {version}, newer than "
                                     f"version {SCHEMA_VERSION} that this library reads; upgrade automl-meta "
                                     f"or use another --kb")
        if version < SCHEMA_VERSION:
            if not write:
                raise _NeedsMigration(version)
            self._migrate(con, version)
        self._validated = True

    def _check_size(self, con) -> None:
        """A file shorter than its used blocks is damaged (truncated); a pending WAL is not checked.

        Every used block lies inside the file, so ``header + used_blocks * block_size`` is a lower bound
        of its size (``total_blocks`` is not: a checkpoint may cut free trailing blocks off the file).
        Damage this misses (or corrupt bytes) surfaces as ``DamagedStoreError`` when the blocks are read.
        """
        if Path(str(self.path) + ".wal").exists():
            return
        cursor = con.execute("PRAGMA database_size")
        row = dict(zip([d[0] for d in cursor.description], cursor.fetchall()[0]))
        expected = _HEADER_BYTES + int(row["used_blocks"]) * int(row["block_size"])
        size = self._size()
        if size < expected:
            raise DamagedStoreError(f"knowledge base {self.path} is damaged (truncated to {size} bytes, its data "
                                    f"needs at least {expected}); it was left untouched")

    def _migrate(self, con, version: int) -> None:
        if any(v not in MIGRATIONS for v in range(version, SCHEMA_VERSION)):
            raise SchemaVersionError(f"knowledge base {self.path} has schema version {version}, which this library "
                                     f"cannot migrate to {SCHEMA_VERSION}")
        con.execute("BEGIN")
        try:
            for v in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[v]:
                    con.execute(statement)
            con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION)])
            con.execute("INSERT INTO meta VALUES ('migrated_at', ?) ON CONFLICT (key) DO UPDATE SET value = "
                        "EXCLUDED.value", [now_utc().isoformat(timespec="seconds") + "Z"])
            refresh_vectors(con, None)
            con.execute("COMMIT")
        except Exception as exc:
            con.execute("ROLLBACK")
            raise SchemaVersionError(f"migrating knowledge base {self.path} from schema {version} to "
                                     f"{SCHEMA_VERSION} failed, the file is unchanged: {_first_line(exc)}") from None
        log.warning("knowledge base %s migrated from schema %d to %d", self.path, version, SCHEMA_VERSION)

    # ------------------------------------------------------------------------------------ creation
    def _create(self, seed_dir: Path | None) -> None:
        """Build a new store (schema + seed) in a temporary file and link it into place atomically."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise NotAKnowledgeBaseError(f"cannot create knowledge base at {self.path}: "
                                         f"{exc.strerror or exc}") from None
        for stale in self.path.parent.glob(f".{self.path.name}.creating-*"):  # left by a killed creator
            try:
                if time.time() - stale.stat().st_mtime > STALE_CREATION_SECONDS:
                    stale.unlink()
            except OSError:
                pass
        tmp = self.path.with_name(f".{self.path.name}.creating-{uuid.uuid4().hex[:12]}")
        try:
            con = duckdb.connect(str(tmp))
            try:
                create_schema(con)
                seeded = _load_seed(con, seed_dir)
                con.execute("CHECKPOINT")
            finally:
                con.close()
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                log.debug("knowledge base %s was created by another process meanwhile", self.path)
                return
            except OSError:  # no hard links on this file system: rename (a tiny race instead of none)
                if self.path.exists():
                    return
                os.replace(tmp, self.path)
            log.info("created knowledge base %s (%s)", self.path, seeded)
        except OSError as exc:
            raise NotAKnowledgeBaseError(f"cannot create knowledge base at {self.path}: "
                                         f"{exc.strerror or exc}") from None
        finally:
            tmp.unlink(missing_ok=True)
            Path(str(tmp) + ".wal").unlink(missing_ok=True)

    def _prepare(self) -> None:
        """Validate (and migrate) now when the file is free; if another process holds it, on first use."""
        try:
            with self._session(write=False, patience=min(self.read_patience, PREPARE_PATIENCE)):
                pass
        except StoreBusyError:
            self._check_file()
            log.debug("knowledge base %s busy at open; it will be checked on first use", self.path)

    # ------------------------------------------------------------------------------------ writing
    def record_run(self, run: RunRecord, dataset: DatasetRecord | None,
                   evaluations: list[EvaluationRecord]) -> int:
        """Upsert the dataset and configurations and append the run with its evaluations, in one transaction.

        Returns the number of evaluations written, or staged when the store stayed busy for
        ``write_patience`` seconds (merged by the next writer); 0 when the run id is already stored.
        """
        if self.read_only:
            raise ReadOnlyStoreError(f"knowledge base {self.path} was opened read-only")
        tables = records_to_tables(run, dataset, evaluations)
        try:
            with self._session(write=True) as con:
                written = self._write_run(con, run.run_id, tables)
                if self.staging.pending():
                    try:  # the run is committed: merging others' staged runs must not fail this call
                        self._merge_pending(con)
                    except (KnowledgeBaseError, duckdb.Error, OSError) as exc:
                        log.warning("staged runs not merged this time: %s", _first_line(exc))
            return written
        except StoreBusyError:
            if self.staging.has_run(run.run_id):
                return 0
            folder = self.staging.stage(run.run_id, tables)
            log.info("knowledge base %s busy: run %s (%d evaluation(s)) staged as %s for the next writer",
                     self.path, run.run_id, len(evaluations), folder.name)
            return len(evaluations)

    def _write_run(self, con, run_id: str, tables: dict[str, pa.Table]) -> int:
        con.execute("BEGIN")
        try:
            counts = ingest(con, tables, new_runs_only=True, trusted=True)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        if not counts["runs"]:
            log.debug("run %s is already in the knowledge base; nothing written", run_id)
        return counts["evaluations"]

    def merge_staged(self) -> int:
        with self._session(write=True, patience=MAINTENANCE_PATIENCE) as con:
            return self._merge_pending(con)

    def _merge_pending(self, con) -> int:
        """Merge every staged run in one transaction (one by one if that fails); never raises for bad folders."""
        self.staging.clean_stale()
        folders = self.staging.pending()
        if not folders:
            return 0
        tables, used = self.staging.load(folders)
        if not used:
            return 0
        merged = 0
        try:
            merged = self._ingest_transaction(con, {k: v for k, v in tables.items() if v is not None})
        except (KnowledgeBaseError, duckdb.Error) as exc:
            log.warning("merging %d staged run(s) at once failed (%s); merging one by one", len(used),
                        _first_line(exc))
            good = []
            for folder in used:
                one, ok = self.staging.load([folder])
                if not ok:
                    continue
                try:
                    merged += self._ingest_transaction(con, {k: v for k, v in one.items() if v is not None})
                    good.append(folder)
                except (KnowledgeBaseError, duckdb.Error) as err:
                    self.staging.quarantine(folder, _first_line(err))
            used = good
        self.staging.discard(used)
        if merged:
            log.info("merged %d staged evaluation(s) into %s", merged, self.path)
        return merged

    def _ingest_transaction(self, con, tables: dict[str, pa.Table]) -> int:
        con.execute("BEGIN")
        try:
            counts = ingest(con, conform(tables))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return counts["evaluations"]

    def import_(self, directory: str | os.PathLike) -> int:
        """Merge a folder written by :meth:`export` (or the seed); returns the number of new evaluations."""
        tables = read_folder(directory)
        with self._session(write=True, patience=MAINTENANCE_PATIENCE) as con:
            n = self._ingest_transaction(con, tables)
        log.info("imported %d new evaluation(s) from %s", n, directory)
        return n

    # ------------------------------------------------------------------------------------ reading
    def info(self) -> dict:
        with self._session(write=False) as con:
            one = lambda sql, p=(): con.execute(sql, list(p)).fetchall()[0][0]  # noqa: E731
            pairs = lambda sql: {str(k): int(v) for k, v in con.execute(sql).fetchall()}  # noqa: E731
            out = {
                "path": str(self.path),
                "schema_version": int(one("SELECT value FROM meta WHERE key = 'schema_version'")),
                "n_datasets": int(one("SELECT count(*) FROM datasets")),
                "n_configurations": int(one("SELECT count(*) FROM configurations")),
                "n_evaluations": int(one("SELECT count(*) FROM evaluations")),
                "n_runs": int(one("SELECT count(*) FROM runs")),
                "by_task": pairs("SELECT task, count(*) FROM datasets GROUP BY 1 ORDER BY 1"),
                "by_source": pairs("SELECT d.source, count(*) FROM evaluations e JOIN datasets d USING (dataset_id) "
                                   "GROUP BY 1 ORDER BY 1"),
                "datasets_by_source": pairs("SELECT source, count(*) FROM datasets GROUP BY 1 ORDER BY 1"),
                "evaluations_by_task": pairs("SELECT d.task, count(*) FROM evaluations e JOIN datasets d "
                                             "USING (dataset_id) GROUP BY 1 ORDER BY 1"),
                "metafeatures_versions": pairs("SELECT metafeatures_version, count(*) FROM datasets GROUP BY 1 "
                                               "ORDER BY 1"),
            }
        out["pending_staged"] = len(self.staging.pending())
        out["size_bytes"] = self._size()
        return out

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def has_dataset(self, fingerprint: str, metafeatures_version: str | None = None,
                    space_version: str | None = None) -> bool:
        with self._session(write=False) as con:
            rows = con.execute("SELECT dataset_id, metafeatures_version FROM datasets WHERE fingerprint = ?",
                               [fingerprint]).fetchall()
            if not rows or (metafeatures_version is not None and rows[0][1] != str(metafeatures_version)):
                return False
            if space_version is None:
                return True
            return bool(con.execute("SELECT count(*) FROM evaluations WHERE dataset_id = ? AND space_version = ?",
                                    [rows[0][0], str(space_version)]).fetchall()[0][0])

    def dataset(self, fingerprint: str) -> DatasetRecord | None:
        with self._session(write=False) as con:
            rows = con.execute("SELECT fingerprint, name, source, task, n_rows, n_features, metafeatures, "
                               "metafeatures_version, extra FROM datasets WHERE fingerprint = ?",
                               [fingerprint]).fetchall()
        if not rows:
            return None
        r = rows[0]
        return DatasetRecord(fingerprint=r[0], name=r[1], source=r[2], task=r[3], n_rows=r[4] or 0,
                             n_features=r[5] or 0, metafeatures=parse_metafeatures(r[6]), metafeatures_version=r[7],
                             extra=json.loads(r[8] or "{}"))

    def datasets(self) -> pd.DataFrame:
        """All datasets; ``metafeatures`` as dicts (NaN for missing values)."""
        with self._session(write=False) as con:
            frame = con.execute("SELECT fingerprint, name, source, task, n_rows, n_features, metafeatures, "
                                "metafeatures_version, extra, created_at, updated_at FROM datasets "
                                "ORDER BY dataset_id").df()
        frame["metafeatures"] = frame["metafeatures"].map(parse_metafeatures)
        frame["extra"] = frame["extra"].map(lambda t: json.loads(t or "{}"))
        return frame

    def evaluations(self, fingerprint: str | None = None, *, origin: str | None = None, metric: str | None = None,
                    run_id: str | None = None) -> pd.DataFrame:
        """Evaluations joined with their dataset (``fingerprint``, ``name``, ``task``) and configuration
        (``config`` as canonical JSON text, ``family``); optional equality filters."""
        clauses, params = [], []
        for column, value in (("d.fingerprint", fingerprint), ("e.origin", origin), ("e.metric", metric),
                              ("e.run_id", run_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._session(write=False) as con:
            return con.execute(
                "SELECT e.run_id, e.seq, d.fingerprint, d.name, d.task, printf('%016x', e.config_key) AS config_id, "
                "c.config, e.family, "
                "e.space_version, e.fidelity, e.protocol, e.metric, e.score, e.loss, e.fit_seconds, e.status, "
                "e.error, e.seed, e.library_version, e.created_at, e.origin "
                "FROM evaluations e JOIN datasets d USING (dataset_id) LEFT JOIN configurations c USING (config_key) "
                f"{where} ORDER BY e.run_id, e.seq", params).df()

    def runs(self) -> pd.DataFrame:
        with self._session(write=False) as con:
            frame = con.execute("SELECT * FROM runs ORDER BY recorded_at, run_id").df()
        for column in ("settings", "versions"):
            frame[column] = frame[column].map(lambda t: json.loads(t or "{}"))
        return frame

    # ------------------------------------------------------------------------------------ retrieval
    def similar(self, metafeatures: dict, task: str, k: int = 5, exclude_fingerprint: str | None = None, *,
                metafeatures_version: str | None = None, exclude_names: Iterable[str] = ()) -> list[Neighbour]:
        with self._session(write=False) as con:
            query = _Query(con, metafeatures, metafeatures_version)
            return [n for _, n in query.neighbours(con, task, k, exclude_fingerprint, exclude_names)]

    def suggest(self, metafeatures: dict, task: str, metric: str, n: int = 10, k: int = 10,
                families: set[str] | None = None, exclude_fingerprint: str | None = None, *,
                metafeatures_version: str | None = None, exclude_names: Iterable[str] = ()) -> list[Suggestion]:
        families = set(families) if families is not None else None
        with self._session(write=False) as con:
            _, material = _retrieve(con, metafeatures, task, metric, k, 0, exclude_fingerprint, metafeatures_version,
                                    exclude_names)
            plan = _Plan(material, n, families, None, prior=False)
            return plan.suggestions(_configs(con, plan.keys()))

    def prior_observations(self, metafeatures: dict, task: str, metric: str, k: int = 10,
                           families: set[str] | None = None, exclude_fingerprint: str | None = None, *,
                           metafeatures_version: str | None = None, exclude_names: Iterable[str] = (),
                           limit: int | None = None) -> list[PriorObservation]:
        families = set(families) if families is not None else None
        with self._session(write=False) as con:
            _, material = _retrieve(con, metafeatures, task, metric, k, 0, exclude_fingerprint, metafeatures_version,
                                    exclude_names)
            plan = _Plan(material, 0, families, limit, suggest=False)
            return plan.observations(_configs(con, plan.keys()))

    def retrieve(self, metafeatures: dict, task: str, metric: str, n: int = 10, k: int = 10,
                 families: Iterable[str] | None = None, exclude_fingerprint: str | None = None, *,
                 metafeatures_version: str | None = None, exclude_names: Iterable[str] = (),
                 neighbours_k: int | None = None, prior_limit: int | None = None
                 ) -> tuple[list[Neighbour], list[Suggestion], list[PriorObservation]]:
        """What a fit needs, in one connection: ``similar`` (``neighbours_k``, default ``k``), ``suggest``
        and ``prior_observations``."""
        families = set(families) if families is not None else None
        with self._session(write=False) as con:
            neighbours, material = _retrieve(con, metafeatures, task, metric, k, neighbours_k or k,
                                             exclude_fingerprint, metafeatures_version, exclude_names)
            plan = _Plan(material, n, families, prior_limit)
            texts = _configs(con, plan.keys())
        return neighbours, plan.suggestions(texts), plan.observations(texts)

    # ------------------------------------------------------------------------------------ exchange
    def export(self, directory: str | os.PathLike) -> dict[str, int]:
        """Write the four tables into ``directory`` (exchange format); returns row counts."""
        if not self.read_only and self.staging.pending():
            try:
                with self._session(write=True) as con:
                    self._merge_pending(con)
            except StoreBusyError:
                log.warning("knowledge base busy: %d staged run(s) not included in the export",
                            len(self.staging.pending()))
        with self._session(write=False) as con:
            tables = export_tables(con)
        write_folder(directory, tables, extra={"source": str(self.path)})
        return {name: tables[name].num_rows for name in TABLES}

    # ------------------------------------------------------------------------------------ maintenance
    def check(self) -> list[str]:
        with self._session(write=False) as con:
            problems = integrity_problems(con)
        for folder in self.staging.bad():
            problems.append(f"staged write {folder.name} could not be merged (kept in {self.staging.root})")
        return problems

    def compact(self) -> dict:
        """Merge staged runs, drop evaluations that lost their dataset/configuration, rebuild the vectors
        and checkpoint. DuckDB reuses the space of deleted rows; a fully rewritten file is
        ``kb export`` + ``kb import`` into a new path."""
        before = self._size()
        with self._session(write=True, patience=MAINTENANCE_PATIENCE) as con:
            merged = self._merge_pending(con)
            con.execute("BEGIN")
            try:
                orphans = con.execute(
                    "DELETE FROM evaluations WHERE dataset_id NOT IN (SELECT dataset_id FROM datasets) "
                    "OR config_key NOT IN (SELECT config_key FROM configurations)").fetchall()[0][0]
                con.execute("DELETE FROM vectors WHERE dataset_id NOT IN (SELECT dataset_id FROM datasets)")
                con.execute("DELETE FROM dataset_metrics")
                con.execute("INSERT INTO dataset_metrics SELECT dataset_id, metric, count(*) FROM evaluations "
                            "WHERE status = 'ok' GROUP BY ALL")
                refresh_vectors(con, None)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("FORCE CHECKPOINT")
        return {"merged_evaluations": merged, "removed_orphans": int(orphans), "size_before": before,
                "size_after": self._size()}


class _NoStaging:
    root = Path(":memory:")

    def pending(self) -> list[Path]:
        return []

    def bad(self) -> list[Path]:
        return []

    def clean_stale(self) -> int:
        return 0


class MemoryStore(DuckDBStore):
    """The same store in memory (one process, no file, no staging): a stand-in for unit tests."""

    def __init__(self, *, seed_dir: str | os.PathLike | None = None) -> None:
        super().__init__(Path(":memory:"))
        self.staging = _NoStaging()
        self._con = duckdb.connect(":memory:")
        self._lock = threading.RLock()
        create_schema(self._con)
        _load_seed(self._con, Path(seed_dir) if seed_dir is not None else None, warn=False)
        self._validated = True

    def __repr__(self) -> str:
        return "MemoryStore()"

    @contextmanager
    def _session(self, write: bool, patience: float | None = None):
        with self._lock:
            cursor = self._con.cursor()
            try:
                yield cursor
            except duckdb.Error as exc:
                raise KnowledgeBaseError(f"in-memory knowledge base: {type(exc).__name__}: "
                                         f"{_first_line(exc)}") from exc
            finally:
                cursor.close()

    def _size(self) -> int:
        return 0

    def close(self) -> None:
        self._con.close()


# ================================================================================================ open
def open_store(path: str | os.PathLike | None = None, *, read_only: bool = False, seed_dir=_DEFAULT,
               read_patience: float = READ_PATIENCE, write_patience: float = WRITE_PATIENCE) -> DuckDBStore:
    """The store at :func:`resolve_path` ``(path)``: created and seeded when absent, migrated when older.

    ``seed_dir``: Parquet folder loaded into a new store (default ``$AUTOML_KB_SEED`` or the package's
    ``knowledge_base/seed``; ``None``: no seed). Nothing is ever written into the seed folder.
    Never holds the file after returning. Raises ``NotAKnowledgeBaseError`` / ``SchemaVersionError``
    for files it must not use; a store another process holds is checked on first use instead.
    """
    resolved = resolve_path(path)
    store = DuckDBStore(resolved, read_only=read_only, read_patience=read_patience, write_patience=write_patience)
    if not resolved.exists() and not resolved.is_symlink():
        if read_only:
            raise KnowledgeBaseError(f"no knowledge base at {resolved}")
        store._create(default_seed_dir() if seed_dir is _DEFAULT else (Path(seed_dir) if seed_dir else None))
    store._prepare()
    return store


# ================================================================================================ SQL helpers
def create_schema(con) -> None:
    con.execute("BEGIN")
    for ddl in DDL_CURRENT:
        con.execute(ddl)
    con.execute("INSERT INTO meta VALUES ('app', ?), ('schema_version', ?), ('created_at', ?)",
                [APP_MARKER, str(SCHEMA_VERSION), now_utc().isoformat(timespec="seconds") + "Z"])
    con.execute("COMMIT")


def _load_seed(con, seed_dir: Path | None, warn: bool = True) -> str:
    if seed_dir is None:
        return "no seed"
    if not has_tables(seed_dir):
        if warn:
            log.warning("no knowledge-base seed in %s: the new store starts empty (fits warm-start from the "
                        "default portfolio until it learns)", seed_dir)
        return "empty seed"
    tables = read_folder(seed_dir)
    con.execute("BEGIN")
    try:
        counts = ingest(con, tables)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return f"seeded from {seed_dir}: {counts['datasets']} dataset(s), {counts['evaluations']} evaluation(s)"


def ingest(con, tables: dict[str, pa.Table], *, new_runs_only: bool = False, trusted: bool = False
           ) -> dict[str, int]:
    """Merge exchange tables inside the caller's transaction; idempotent by natural keys.

    Datasets are upserted by fingerprint (the newer ``updated_at`` wins for meta-features, shape and
    ``extra``; a record with a name sets name and source), configurations inserted by hash, runs by id;
    evaluations are added only with a run that was not stored yet. ``new_runs_only``: when every
    incoming run is already stored, change nothing at all (a repeated write-back). ``trusted``: the
    tables come from :func:`records_to_tables` and are consistent by construction (references are
    not re-checked). Returns counts of what was added.
    """
    runs, evals = tables["runs"], tables["evaluations"]
    incoming_ids = runs.column("run_id").to_pylist()
    existing: set[str] = set()
    if incoming_ids:
        existing = {r[0] for r in con.execute("SELECT run_id FROM runs WHERE run_id IN (SELECT unnest(?::VARCHAR[]))",
                                              [incoming_ids]).fetchall()}
    keep_run, seen = [], set()
    for rid in incoming_ids:
        keep_run.append(rid not in existing and rid not in seen)
        seen.add(rid)
    new_runs = runs.filter(pa.array(keep_run, pa.bool_())) if runs.num_rows else runs
    if new_runs_only and runs.num_rows and not new_runs.num_rows:
        return {"datasets": 0, "configurations": 0, "runs": 0, "evaluations": 0}
    new_ids = set(new_runs.column("run_id").to_pylist())
    eval_runs = evals.column("run_id").to_pylist()
    unknown = {r for r in eval_runs if r not in seen}
    if unknown:
        raise ExchangeError(f"{len(unknown)} run id(s) have evaluations but no run record (e.g. "
                            f"{sorted(unknown)[0]!r})")
    new_evals = evals.filter(pa.array([r in new_ids for r in eval_runs], pa.bool_())) if evals.num_rows else evals
    datasets = _one_per_key(tables["datasets"], "fingerprint", latest="updated_at")
    configurations = _one_per_key(tables["configurations"], "config_id")
    names = ("kb_in_datasets", "kb_in_configurations", "kb_in_runs", "kb_in_evaluations")
    con.register("kb_in_datasets", datasets)
    con.register("kb_in_configurations", configurations)
    con.register("kb_in_runs", new_runs)
    con.register("kb_in_evaluations", new_evals)
    try:
        problems = (0, 0, 0) if trusted else con.execute(
            "SELECT (SELECT count(*) FROM kb_in_evaluations e WHERE e.fingerprint NOT IN "
            "   (SELECT fingerprint FROM kb_in_datasets) AND e.fingerprint NOT IN (SELECT fingerprint FROM datasets)), "
            "(SELECT count(*) FROM kb_in_evaluations e WHERE e.config_id NOT IN "
            "   (SELECT config_id FROM kb_in_configurations) AND ('0x' || e.config_id)::UBIGINT NOT IN "
            "   (SELECT config_key FROM configurations)), "
            "(SELECT count(*) - count(DISTINCT (run_id, seq)) FROM kb_in_evaluations)").fetchall()[0]
        if problems[0] or problems[1] or problems[2]:
            raise ExchangeError(f"inconsistent input: {problems[0]} evaluation(s) of unknown datasets, "
                                f"{problems[1]} of unknown configurations, {problems[2]} duplicate (run_id, seq)")
        if datasets.num_rows:
            latest = "kb_in_datasets"  # one row per fingerprint (the newest)
            con.execute(f"""
                UPDATE datasets SET
                    name = coalesce(i.name, datasets.name),
                    source = CASE WHEN i.name IS NOT NULL THEN i.source ELSE datasets.source END,
                    n_rows = CASE WHEN i.updated_at >= datasets.updated_at THEN i.n_rows ELSE datasets.n_rows END,
                    n_features = CASE WHEN i.updated_at >= datasets.updated_at THEN i.n_features
                                      ELSE datasets.n_features END,
                    metafeatures = CASE WHEN i.updated_at >= datasets.updated_at THEN i.metafeatures
                                        ELSE datasets.metafeatures END,
                    metafeatures_version = CASE WHEN i.updated_at >= datasets.updated_at THEN i.metafeatures_version
                                                ELSE datasets.metafeatures_version END,
                    extra = CASE WHEN i.updated_at >= datasets.updated_at AND i.extra <> '{{}}' THEN i.extra
                                 ELSE datasets.extra END,
                    created_at = least(datasets.created_at, i.created_at),
                    updated_at = greatest(datasets.updated_at, i.updated_at)
                FROM {latest} i WHERE datasets.fingerprint = i.fingerprint""")
            con.execute(f"""
                INSERT INTO datasets (fingerprint, name, source, task, n_rows, n_features, metafeatures,
                                      metafeatures_version, extra, created_at, updated_at)
                SELECT fingerprint, name, source, task, n_rows, n_features, metafeatures, metafeatures_version,
                       extra, created_at, updated_at
                FROM {latest} i WHERE NOT EXISTS (SELECT 1 FROM datasets d WHERE d.fingerprint = i.fingerprint)
                ORDER BY created_at, fingerprint""")
        if configurations.num_rows:
            # (a window function here would stop the anti-join's filter pushdown: 5x slower at 700k rows)
            con.execute("""
                INSERT INTO configurations (config_key, config, family, space_version, created_at)
                SELECT key, config, family, space_version, created_at
                FROM (SELECT ('0x' || config_id)::UBIGINT AS key, * FROM kb_in_configurations) i
                WHERE NOT EXISTS (SELECT 1 FROM configurations c WHERE c.config_key = i.key)""")
        if new_runs.num_rows:
            con.execute("""
                INSERT INTO runs (run_id, kind, source, started_at, finished_at, budget_seconds, settings, versions,
                                  fingerprint, n_evaluations, recorded_at)
                SELECT run_id, kind, source, started_at, finished_at, budget_seconds, settings, versions,
                       fingerprint, n_evaluations, recorded_at FROM kb_in_runs""")
        if new_evals.num_rows:
            # the family comes with the configuration: from the incoming ones, else from the store (imports
            # that refer to configurations already stored)
            family = "ic.family" if trusted else "coalesce(ic.family, c.family)"
            stored = "" if trusted else "LEFT JOIN configurations c ON c.config_key = ('0x' || e.config_id)::UBIGINT"
            con.execute(f"""
                INSERT INTO evaluations (run_id, seq, dataset_id, config_key, family, space_version, fidelity,
                                         protocol, metric, score, loss, fit_seconds, status, error, seed,
                                         library_version, created_at, origin)
                SELECT e.run_id, e.seq, d.dataset_id, ('0x' || e.config_id)::UBIGINT, {family}, e.space_version,
                       e.fidelity, e.protocol, e.metric, e.score, e.loss, e.fit_seconds, e.status, e.error, e.seed,
                       e.library_version, e.created_at, e.origin
                FROM kb_in_evaluations e JOIN datasets d ON d.fingerprint = e.fingerprint
                LEFT JOIN kb_in_configurations ic ON ic.config_id = e.config_id
                {stored}""")
            added = ("(SELECT d.dataset_id, e.metric, count(*)::INTEGER AS n FROM kb_in_evaluations e "
                     "JOIN datasets d ON d.fingerprint = e.fingerprint WHERE e.status = 'ok' GROUP BY ALL)")
            con.execute(f"UPDATE dataset_metrics SET n_ok = dataset_metrics.n_ok + a.n FROM {added} a "
                        f"WHERE dataset_metrics.dataset_id = a.dataset_id AND dataset_metrics.metric = a.metric")
            con.execute(f"INSERT INTO dataset_metrics SELECT a.dataset_id, a.metric, a.n FROM {added} a "
                        f"WHERE NOT EXISTS (SELECT 1 FROM dataset_metrics m WHERE m.dataset_id = a.dataset_id "
                        f"AND m.metric = a.metric)")
    finally:
        for name in names:
            con.unregister(name)
    fingerprints = datasets.column("fingerprint").to_pylist()
    refresh_vectors(con, fingerprints)
    return {"datasets": len(fingerprints), "configurations": configurations.num_rows,
            "runs": new_runs.num_rows, "evaluations": new_evals.num_rows}


def _one_per_key(table: pa.Table, key: str, latest: str | None = None) -> pa.Table:
    """``table`` with one row per ``key``: the first, or the one with the greatest ``latest``."""
    if table.num_rows <= 1 or pc.count_distinct(table.column(key)).as_py() == table.num_rows:
        return table
    if latest is not None:
        table = table.sort_by([(latest, "descending")])
    first: dict = {}
    for i, k in enumerate(table.column(key).to_pylist()):
        first.setdefault(k, i)
    return table.take(pa.array(sorted(first.values()), pa.int64()))


def export_tables(con) -> dict[str, pa.Table]:
    from ._exchange import SCHEMAS
    queries = {
        "datasets": "SELECT fingerprint, name, source, task, n_rows, n_features, metafeatures, metafeatures_version, "
                    "extra, created_at, updated_at FROM datasets ORDER BY fingerprint",
        "configurations": "SELECT printf('%016x', config_key) AS config_id, config, family, space_version, "
                          "created_at FROM configurations ORDER BY config_key",
        "runs": "SELECT run_id, kind, source, started_at, finished_at, budget_seconds, settings, versions, "
                "fingerprint, n_evaluations, recorded_at FROM runs ORDER BY run_id",
        "evaluations": "SELECT e.run_id, e.seq, d.fingerprint, printf('%016x', e.config_key) AS config_id, "
                       "e.space_version, e.fidelity, e.protocol, "
                       "e.metric, e.score, e.loss, e.fit_seconds, e.status, e.error, e.seed, e.library_version, "
                       "e.created_at, e.origin FROM evaluations e JOIN datasets d USING (dataset_id) "
                       "ORDER BY e.run_id, e.seq",
    }
    return {name: con.sql(sql).to_arrow_table().cast(SCHEMAS[name]) for name, sql in queries.items()}


def integrity_problems(con) -> list[str]:
    one = lambda sql: int(con.execute(sql).fetchall()[0][0])  # noqa: E731
    checks = [
        ("SELECT count(*) FROM evaluations WHERE dataset_id NOT IN (SELECT dataset_id FROM datasets)",
         "evaluation(s) refer to a missing dataset"),
        ("SELECT count(*) FROM evaluations WHERE config_key NOT IN (SELECT config_key FROM configurations)",
         "evaluation(s) refer to a missing configuration"),
        ("SELECT count(*) FROM evaluations e JOIN configurations c USING (config_key) WHERE e.family <> c.family",
         "evaluation(s) whose family differs from their configuration's"),
        ("SELECT count(*) FROM (SELECT dataset_id, metric, count(*) AS n FROM evaluations WHERE status = 'ok' "
         "GROUP BY ALL) e FULL JOIN dataset_metrics m USING (dataset_id, metric) WHERE e.n IS DISTINCT FROM m.n_ok",
         "dataset/metric count(s) out of step with the evaluations"),
        ("SELECT count(*) FROM evaluations WHERE run_id NOT IN (SELECT run_id FROM runs)",
         "evaluation(s) belong to no run"),
        ("SELECT count(*) FROM runs r LEFT JOIN (SELECT run_id, count(*) AS n FROM evaluations GROUP BY run_id) e "
         "USING (run_id) WHERE coalesce(e.n, 0) <> r.n_evaluations",
         "run(s) whose stored evaluations do not match their count (a partial write)"),
        ("SELECT count(*) - count(DISTINCT (run_id, seq)) FROM evaluations", "duplicate evaluation(s)"),
        ("SELECT count(*) FROM evaluations WHERE status NOT IN ('ok', 'failed', 'timeout') OR NOT (fidelity > 0 "
         "AND fidelity <= 1)", "evaluation(s) with an invalid status or fidelity"),
        ("SELECT count(*) - count(DISTINCT fingerprint) FROM datasets", "duplicate dataset fingerprint(s)"),
        ("SELECT count(*) - count(DISTINCT dataset_id) FROM datasets", "duplicate dataset id(s)"),
        ("SELECT count(*) - count(DISTINCT config_key) FROM configurations", "duplicate configuration(s)"),
        ("SELECT count(*) - count(DISTINCT run_id) FROM runs", "duplicate run(s)"),
        ("SELECT count(*) - count(DISTINCT (dataset_id, metric)) FROM dataset_metrics",
         "duplicate dataset/metric count(s)"),
        ("SELECT count(*) FROM datasets d WHERE EXISTS (SELECT 1 FROM scalers s WHERE s.metafeatures_version = "
         "d.metafeatures_version) AND NOT EXISTS (SELECT 1 FROM vectors v WHERE v.dataset_id = d.dataset_id)",
         "dataset(s) without a meta-feature vector"),
        ("SELECT count(*) - count(DISTINCT dataset_id) FROM vectors", "duplicate meta-feature vector(s)"),
        ("SELECT count(*) FROM vectors WHERE scaler_id NOT IN (SELECT scaler_id FROM scalers)",
         "vector(s) scaled by an unknown scaler"),
        ("SELECT count(*) FROM vectors v JOIN datasets d USING (dataset_id) WHERE v.scaler_id <> "
         "(SELECT max(s.scaler_id) FROM scalers s WHERE s.metafeatures_version = d.metafeatures_version)",
         "vector(s) scaled by an outdated scaler"),
    ]
    problems = [f"{n} {text}" for sql, text in checks if (n := one(sql))]
    n_configs = one("SELECT count(*) FROM configurations")
    sample = "" if n_configs <= HASH_CHECK_SAMPLE else \
        f" USING SAMPLE reservoir({HASH_CHECK_SAMPLE} ROWS) REPEATABLE (0)"  # constants only
    bad = 0
    for cid, text in con.execute(f"SELECT printf('%016x', config_key), config FROM configurations{sample}").fetchall():
        try:
            if _config_id(json.loads(text)) != cid:
                bad += 1
        except (ValueError, TypeError):
            bad += 1
    if bad:
        where = f" (in a sample of {HASH_CHECK_SAMPLE})" if sample else ""
        problems.append(f"{bad} configuration(s) whose id is not the hash of their canonical JSON{where}")
    return problems


# ================================================================================================ retrieval
def _default_version(con) -> str | None:
    version = current_metafeatures_version()
    if version is not None:
        return version
    rows = con.execute("SELECT metafeatures_version FROM scalers ORDER BY scaler_id DESC LIMIT 1").fetchall()
    return rows[0][0] if rows else None


def _neighbours(con, scaler, query: list[float], task: str, k: int, exclude_fingerprint: str | None,
                exclude_names: Iterable[str], metric: str | None = None) -> list[tuple[int, Neighbour]]:
    """The ``k`` nearest datasets of ``task`` scaled by ``scaler`` (with ``ok`` scores under ``metric``)."""
    if k <= 0 or scaler is None:
        return []
    sql = ("SELECT d.dataset_id, d.fingerprint, d.name, d.source, d.task, d.n_rows, d.n_features, "
           "list_distance(v.vec, ?::FLOAT[]) AS dist FROM vectors v JOIN datasets d USING (dataset_id) "
           "WHERE v.scaler_id = ? AND d.task = ? AND d.fingerprint IS DISTINCT FROM ? "
           "AND NOT list_contains(?::VARCHAR[], coalesce(d.name, ''))")
    params: list = [query, scaler.scaler_id, task, exclude_fingerprint, [str(x) for x in exclude_names]]
    if metric is not None:
        sql += " AND d.dataset_id IN (SELECT dataset_id FROM dataset_metrics WHERE metric = ? AND n_ok > 0)"
        params.append(metric)
    sql += " ORDER BY dist, d.fingerprint LIMIT ?"
    params.append(int(k))
    dim = math.sqrt(max(1, len(query)))
    out = []
    for did, fp, name, source, task_, n_rows, n_features, dist in con.execute(sql, params).fetchall():
        distance = float(dist) / dim
        out.append((int(did), Neighbour(fingerprint=fp, name=name, source=source, task=task_, n_rows=int(n_rows or 0),
                                        n_features=int(n_features or 0), distance=distance,
                                        similarity=R.similarity(distance))))
    return out


_SETS_SQL = """
    WITH c AS MATERIALIZED (
        SELECT d.dataset_id, d.fingerprint, d.name, d.source, d.task, d.n_rows, d.n_features,
               list_distance(v.vec, ?::FLOAT[]) AS dist,
               d.dataset_id IN (SELECT dataset_id FROM dataset_metrics WHERE metric = ? AND n_ok > 0) AS m1,
               d.dataset_id IN (SELECT dataset_id FROM dataset_metrics WHERE metric = ? AND n_ok > 0) AS m2
        FROM vectors v JOIN datasets d USING (dataset_id)
        WHERE v.scaler_id = ? AND d.task = ? AND d.fingerprint IS DISTINCT FROM ?
          AND NOT list_contains(?::VARCHAR[], coalesce(d.name, '')))
    SELECT * FROM (SELECT *, 0 AS which FROM c ORDER BY dist, fingerprint LIMIT ?)
    UNION ALL SELECT * FROM (SELECT *, 1 AS which FROM c WHERE m1 ORDER BY dist, fingerprint LIMIT ?)
    UNION ALL SELECT * FROM (SELECT *, 2 AS which FROM c WHERE m2 ORDER BY dist, fingerprint LIMIT ?)"""


class _Query:
    """One retrieval: the scaler of the query's meta-feature version and the scaled query vector."""

    def __init__(self, con, metafeatures: dict, version: str | None) -> None:
        version = str(version) if version is not None else _default_version(con)
        self.scaler = load_scaler(con, version) if version is not None else None
        self.vector = self.scaler.vector(metafeatures).tolist() if self.scaler is not None else []

    def neighbours(self, con, task, k, exclude_fingerprint, exclude_names, metric=None):
        return _neighbours(con, self.scaler, self.vector, task, k, exclude_fingerprint, exclude_names, metric)

    def sets(self, con, task, k_all, k, exclude_fingerprint, exclude_names, metric, default):
        """In one pass over the distances: the ``k_all`` nearest, and the ``k`` nearest with ``ok`` scores
        under ``metric`` and under ``default``."""
        if self.scaler is None or max(k_all, k) <= 0:
            return [], [], []
        rows = con.execute(_SETS_SQL, [self.vector, metric, default, self.scaler.scaler_id, task, exclude_fingerprint,
                                       [str(x) for x in exclude_names], int(k_all), int(k), int(k)]).fetchall()
        dim = math.sqrt(max(1, len(self.vector)))
        sets: tuple[list, list, list] = ([], [], [])
        for did, fp, name, source, task_, n_rows, n_features, dist, _, _, which in rows:
            distance = float(dist) / dim
            sets[which].append((int(did), Neighbour(fingerprint=fp, name=name, source=source, task=task_,
                                                    n_rows=int(n_rows or 0), n_features=int(n_features or 0),
                                                    distance=distance, similarity=R.similarity(distance))))
        return sets


class _Material:
    """Neighbours under the metric actually used and their ``ok`` evaluations, normalised per dataset."""

    def __init__(self, task: str, requested: str, used: str, neighbours: list[tuple[int, Neighbour]],
                 obs: R.Observations) -> None:
        self.task, self.requested, self.used = task, requested, used
        self.neighbours = neighbours
        self.obs = obs
        self.by_id = {did: nb for did, nb in neighbours}
        self.weights = {did: nb.similarity for did, nb in neighbours}

    @property
    def note(self) -> str:
        if self.used == self.requested:
            return ""
        return (f"; no similar dataset has {self.requested} evaluations, so these are {self.used} scores "
                f"(the {self.task} default)")


def _retrieve(con, metafeatures, task, metric, k, k_all, exclude_fingerprint, version, exclude_names):
    """``(all neighbours, material or None)`` for one query, in two statements."""
    query = _Query(con, metafeatures, version)
    default = DEFAULT_METRICS.get(task, metric)
    everyone, first, second = query.sets(con, task, k_all, k, exclude_fingerprint, exclude_names, metric, default)
    used, neighbours = metric, first
    if not first and second and default != metric:
        used, neighbours = default, second
        log.info("no similar dataset has %s evaluations; warm start uses %s scores", metric, default)
    if not neighbours:
        return [nb for _, nb in everyone], None
    cols = con.execute(
        "SELECT dataset_id, config_key, family, fidelity, loss, fit_seconds, protocol FROM evaluations "
        "WHERE dataset_id IN (SELECT unnest(?::INTEGER[])) AND metric = ? AND status = 'ok' "
        "AND loss IS NOT NULL AND isfinite(loss)", [[did for did, _ in neighbours], used]).fetchnumpy()
    obs = R.Observations(np.asarray(cols["dataset_id"], dtype=np.int64), np.asarray(cols["config_key"]),
                         np.asarray(cols["family"], dtype=object), np.asarray(cols["fidelity"], dtype=float),
                         np.asarray(cols["loss"], dtype=float),
                         seconds=np.asarray(cols["fit_seconds"], dtype=float))
    if not len(obs):
        return [nb for _, nb in everyone], None
    obs.normalised = R.normalise(R.comparable_groups(obs.dataset, cols["protocol"]), obs.loss)
    return [nb for _, nb in everyone], _Material(task, metric, used, neighbours, obs)


def _filtered(m: _Material, families: set[str] | None) -> R.Observations:
    if families is None:
        return m.obs
    return m.obs.subset(np.isin(m.obs.family, np.asarray(sorted(families), dtype=object)))


def _configs(con, keys: Iterable[int]) -> dict[int, str]:
    keys = sorted(set(keys))
    if not keys:
        return {}
    return {int(k): t for k, t in con.execute("SELECT config_key, config FROM configurations WHERE config_key IN "
                                              "(SELECT unnest(?::UBIGINT[]))", [keys]).fetchall()}


class _Plan:
    """Suggestions and prior observations ranked without SQL, so their configurations are fetched at once."""

    def __init__(self, m: _Material | None, n: int, families: set[str] | None, limit: int | None,
                 suggest: bool = True, prior: bool = True) -> None:
        self.m, self.n = m, n
        self.pairs, self.ranked, self.rows = {}, [], []
        if m is None:
            return
        obs = _filtered(m, families)
        if not len(obs):
            return
        self.family_of = dict(zip(obs.config.tolist(), obs.family.tolist()))
        if suggest and n > 0:
            self.pairs = R.per_config(obs)
            self.ranked = R.expected_scores(self.pairs, m.weights)[:max(50, 20 * n)]
        if prior:
            self.rows = R.prior_rows(obs, m.weights)
            if limit is not None:
                self.rows = self.rows[:int(limit)]

    def keys(self) -> set[int]:
        return {c for c, *_ in self.ranked} | {c for _, c, *_ in self.rows}

    def suggestions(self, texts: dict[int, str]) -> list[Suggestion]:
        m = self.m
        if not self.ranked:
            return []
        scores: dict[int, dict[int, float]] = {}
        costs: dict[int, dict[int, float]] = {}
        for (d, c), (score, fidelity, cost) in self.pairs.items():
            scores.setdefault(c, {})[d] = score * fidelity
            costs.setdefault(c, {})[d] = cost
        candidates = [R.Candidate(R.config_id_of(c), self.family_of[c], float(expected), R.load_json(texts[c]),
                                  scores.get(c, {}), R.typical_cost(costs.get(c, {}), m.weights))
                      for c, expected, *_ in self.ranked if c in texts]
        chosen = R.select_complementary(candidates, self.n, m.weights)
        wanted = {int(c.config_id, 16) for c in chosen}
        sources_of: dict[int, list] = {}
        for (d, c), (score, *_) in self.pairs.items():
            if c in wanted:
                nb = m.by_id[d]
                sources_of.setdefault(c, []).append((_label(nb), float(score), float(nb.distance)))
        out = []
        for c in chosen:
            sources = sorted(sources_of[int(c.config_id, 16)], key=lambda t: (t[2], t[0]))
            shown = ", ".join(f"{label!r} (distance {dist:.2f}, score {score:.2f})"
                              for label, score, dist in sources[:3])
            more = f" and {len(sources) - 3} more" if len(sources) > 3 else ""
            explanation = (f"{c.family}: expected {c.expected:.2f} (similarity-weighted normalised {m.used}, "
                           f"1 = best) from {len(sources)} of {len(m.neighbours)} similar {m.task} dataset(s): "
                           f"{shown}{more}{m.note}")
            out.append(Suggestion(config=c.config, config_id=c.config_id, family=c.family, expected=float(c.expected),
                                  explanation=explanation, sources=sources, metric=m.used))
        return out

    def observations(self, texts: dict[int, str]) -> list[PriorObservation]:
        m = self.m
        parsed: dict[int, dict] = {}
        out = []
        for d, c, f, v, fam, w in self.rows:
            if c not in texts:
                continue
            config = parsed.get(c)
            if config is None:
                config = parsed[c] = json.loads(texts[c])
            out.append(PriorObservation(config=config, config_id=R.config_id_of(c), family=fam, fidelity=float(f),
                                        normalised_score=float(v), weight=float(w), fingerprint=m.by_id[d].fingerprint,
                                        metric=m.used))
        return out


def _label(nb: Neighbour) -> str:
    return nb.name or nb.fingerprint[:12]


__all__ = ["KnowledgeBase", "DuckDBStore", "MemoryStore", "open_store", "resolve_path", "SEED_DIR", "SEED_ENV",
           "ingest", "create_schema"]
