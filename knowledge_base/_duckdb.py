"""The knowledge base in one DuckDB file that many processes share (``DuckDBStore``, ``open_store``).

No method keeps a connection (``_connection``): reads wait up to ``read_patience`` (2 s) for the file
and then raise ``StoreBusyError`` (the caller starts cold). A write-back waits up to
``write_patience`` (1 s) and then stages the run as Parquet in ``<store>.staging/`` (``_staging``);
the next successful writer merges the staging area in its own transaction, idempotently (a run id
is never written twice). One write-back is one transaction, so a process killed at any point leaves
every run either whole or absent.
"""
from __future__ import annotations

import json
import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator

import duckdb
import pandas as pd
import pyarrow as pa

from . import _nearest
from ._connection import (NeedsMigration, check_file, connect, file_size, first_line, process_lock, transaction,
                          validate)
from ._contract import KnowledgeBase
from ._errors import DamagedStoreError, KnowledgeBaseError, ReadOnlyStoreError, SchemaVersionError, StoreBusyError
from ._exchange import conform, export_tables, parse_metafeatures, read_folder, records_to_tables, write_folder
from ._ingest import ingest
from ._integrity import integrity_problems, remove_orphans
from ._retrieval import Material, Plan
from ._schema import SCHEMA_VERSION, TABLES
from ._seed import create_store_file, default_seed_dir
from ._staging import Staging
from ._vectors import refresh_vectors
from .records import DatasetRecord, EvaluationRecord, Neighbour, PriorObservation, RunRecord, Suggestion

log = logging.getLogger("automl.kb")

READ_PATIENCE = 2.0
WRITE_PATIENCE = 1.0
MAINTENANCE_PATIENCE = 60.0
PREPARE_PATIENCE = 0.5
_DEFAULT = object()
_TIMED = "e.status = 'ok' AND e.fit_seconds > 0"  # an evaluation whose seconds tell a cost (``timings``)


def resolve_path(path: str | os.PathLike | None = None) -> Path:
    """The store's file: ``path``, else ``$AUTOML_KB``, else ``platformdirs.user_data_dir("automl")/kb.duckdb``."""
    if path is not None and str(path) != "":
        return Path(path).expanduser()
    env = os.environ.get("AUTOML_KB")
    if env:
        return Path(env).expanduser()
    import platformdirs
    return Path(platformdirs.user_data_dir("automl")) / "kb.duckdb"


def open_store(path: str | os.PathLike | None = None, *, read_only: bool = False, seed_dir=_DEFAULT,
               read_patience: float = READ_PATIENCE, write_patience: float = WRITE_PATIENCE) -> "DuckDBStore":
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
        create_store_file(resolved, default_seed_dir() if seed_dir is _DEFAULT else
                          (Path(seed_dir) if seed_dir else None))
    store._prepare()
    return store


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
    @contextmanager
    def _session(self, write: bool, patience: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived, validated connection (migrating an older store first)."""
        if write and self.read_only:
            raise ReadOnlyStoreError(f"knowledge base {self.path} was opened read-only")
        patience = (self.write_patience if write else self.read_patience) if patience is None else patience
        with process_lock(self.path):
            con = connect(self.path, write, patience)
            try:
                if not self._validated:
                    con = self._validated_connection(con, write, patience)
                yield con
            except (duckdb.IOException, duckdb.SerializationException, duckdb.InternalException) as exc:
                raise DamagedStoreError(f"knowledge base {self.path} cannot be read, it looks damaged: "
                                        f"{first_line(exc)}") from exc
            except duckdb.Error as exc:
                raise KnowledgeBaseError(f"knowledge base {self.path}: {type(exc).__name__}: "
                                         f"{first_line(exc)}") from exc
            finally:
                con.close()

    def _validated_connection(self, con, write: bool, patience: float):
        """``con`` once the store is validated; a writing connection in its place when a migration is due."""
        try:
            validate(con, self.path, write)
        except NeedsMigration as need:
            if self.read_only:
                raise SchemaVersionError(
                    f"knowledge base {self.path} has schema version {need.version} and needs a migration "
                    f"to {SCHEMA_VERSION}, which a read-only open cannot do") from None
            con.close()
            con = connect(self.path, True, max(patience, MAINTENANCE_PATIENCE))
            try:
                validate(con, self.path, True)
            except BaseException:
                con.close()  # the caller still holds the first (closed) connection: never leave this one open
                raise
        self._validated = True
        return con

    def _prepare(self) -> None:
        """Validate (and migrate) now when the file is free; if another process holds it, on first use."""
        try:
            with self._session(write=False, patience=min(self.read_patience, PREPARE_PATIENCE)):
                pass
        except StoreBusyError:
            check_file(self.path)
            log.debug("knowledge base %s busy at open; it will be checked on first use", self.path)

    def _size(self) -> int:
        return file_size(self.path)

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
                with transaction(con):
                    added = ingest(con, tables, new_runs_only=True, trusted=True)
                if not added.runs:
                    log.debug("run %s is already in the knowledge base; nothing written", run.run_id)
                if self.staging.pending():
                    try:  # the run is committed: merging others' staged runs must not fail this call
                        self._merge_pending(con)
                    except (KnowledgeBaseError, duckdb.Error, OSError) as exc:
                        log.warning("staged runs not merged this time: %s", first_line(exc))
            return added.evaluations
        except StoreBusyError:
            if self.staging.has_run(run.run_id):
                return 0
            folder = self.staging.stage(run.run_id, tables)
            log.info("knowledge base %s busy: run %s (%d evaluation(s)) staged as %s for the next writer",
                     self.path, run.run_id, len(evaluations), folder.name)
            return len(evaluations)

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
            merged = _ingest_transaction(con, tables)
        except (KnowledgeBaseError, duckdb.Error) as exc:
            log.warning("merging %d staged run(s) at once failed (%s); merging one by one", len(used),
                        first_line(exc))
            good = []
            for folder in used:
                one, ok = self.staging.load([folder])
                if not ok:
                    continue
                try:
                    merged += _ingest_transaction(con, one)
                    good.append(folder)
                except (KnowledgeBaseError, duckdb.Error) as err:
                    self.staging.quarantine(folder, first_line(err))
            used = good
        self.staging.discard(used)
        if merged:
            log.info("merged %d staged evaluation(s) into %s", merged, self.path)
        return merged

    def import_(self, directory: str | os.PathLike) -> int:
        """Merge a folder written by :meth:`export` (or the seed); returns the number of new evaluations."""
        tables = read_folder(directory)
        with self._session(write=True, patience=MAINTENANCE_PATIENCE) as con:
            n = _ingest_transaction(con, tables)
        log.info("imported %d new evaluation(s) from %s", n, directory)
        return n

    # ------------------------------------------------------------------------------------ reading
    def info(self) -> dict:
        with self._session(write=False) as con:
            one = lambda sql: con.execute(sql).fetchall()[0][0]  # noqa: E731
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
                               "metafeatures_version, extra, lineage FROM datasets WHERE fingerprint = ?",
                               [fingerprint]).fetchall()
        if not rows:
            return None
        r = rows[0]
        return DatasetRecord(fingerprint=r[0], name=r[1], source=r[2], task=r[3], n_rows=r[4] or 0,
                             n_features=r[5] or 0, metafeatures=parse_metafeatures(r[6]), metafeatures_version=r[7],
                             extra=json.loads(r[8] or "{}"), lineage=r[9])

    def datasets(self) -> pd.DataFrame:
        with self._session(write=False) as con:
            frame = con.execute("SELECT fingerprint, name, source, task, n_rows, n_features, metafeatures, "
                                "metafeatures_version, extra, created_at, updated_at, lineage FROM datasets "
                                "ORDER BY dataset_id").df()
        frame["metafeatures"] = frame["metafeatures"].map(parse_metafeatures)
        frame["extra"] = frame["extra"].map(lambda t: json.loads(t or "{}"))
        return frame

    def evaluations(self, fingerprint: str | None = None, *, origin: str | None = None, metric: str | None = None,
                    run_id: str | None = None) -> pd.DataFrame:
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

    def timings(self) -> pd.DataFrame:
        with self._session(write=False) as con:  # (no configuration text: one narrow read)
            return con.execute(
                "SELECT d.fingerprint, d.name, printf('%016x', e.config_key) AS config_id, e.family, e.fidelity, "
                "e.protocol, e.fit_seconds, e.origin, d.n_rows, d.n_features, d.lineage "
                "FROM evaluations e JOIN datasets d USING (dataset_id) "
                f"WHERE {_TIMED}").df()

    def lineage_fingerprints(self, lineage: str) -> list[str]:
        with self._session(write=False) as con:  # (the rows of timings() of one lineage, without reading them all)
            rows = con.execute(
                "SELECT DISTINCT d.fingerprint FROM datasets d JOIN evaluations e USING (dataset_id) "
                f"WHERE d.lineage = ? AND {_TIMED}", [lineage]).fetchall()
        return sorted(str(fingerprint) for fingerprint, in rows)

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
            query = _nearest.Query(con, metafeatures, metafeatures_version)
            return query.nearest(con, task, k, exclude_fingerprint, exclude_names)

    def suggest(self, metafeatures: dict, task: str, metric: str, n: int = 10, k: int = 10,
                families: set[str] | None = None, exclude_fingerprint: str | None = None, *,
                metafeatures_version: str | None = None, exclude_names: Iterable[str] = ()) -> list[Suggestion]:
        _, plan, texts = self._planned(metafeatures, task, metric, k, 0, exclude_fingerprint, metafeatures_version,
                                       exclude_names, None, lambda m, own: Plan(m, n, _set(families), None,
                                                                                prior=False))
        return plan.suggestions(texts)

    def prior_observations(self, metafeatures: dict, task: str, metric: str, k: int = 10,
                           families: set[str] | None = None, exclude_fingerprint: str | None = None, *,
                           metafeatures_version: str | None = None, exclude_names: Iterable[str] = (),
                           limit: int | None = None) -> list[PriorObservation]:
        _, plan, texts = self._planned(metafeatures, task, metric, k, 0, exclude_fingerprint, metafeatures_version,
                                       exclude_names, None, lambda m, own: Plan(m, 0, _set(families), limit,
                                                                                suggest=False))
        return plan.observations(texts)

    def retrieve(self, metafeatures: dict, task: str, metric: str, n: int = 10, k: int = 10,
                 families: Iterable[str] | None = None, exclude_fingerprint: str | None = None, *,
                 metafeatures_version: str | None = None, exclude_names: Iterable[str] = (),
                 neighbours_k: int | None = None, prior_limit: int | None = None, lineage: str | None = None,
                 own_over_cap: frozenset[str] = frozenset()
                 ) -> tuple[list[Neighbour], list[Suggestion], list[PriorObservation]]:
        """What a fit needs, in one connection: ``similar`` (``neighbours_k``, default ``k``), ``suggest``
        and ``prior_observations``, the stored versions of ``lineage`` first, within ``own_over_cap`` (see the
        contract)."""
        neighbours, plan, texts = self._planned(metafeatures, task, metric, k, neighbours_k or k, exclude_fingerprint,
                                                metafeatures_version, exclude_names, lineage,
                                                lambda m, own: Plan(m, n, _set(families), prior_limit, own=own,
                                                                    own_over_cap=frozenset(own_over_cap)))
        return neighbours, plan.suggestions(texts), plan.observations(texts)

    def _planned(self, metafeatures: dict, task: str, metric: str, k: int, k_all: int,
                 exclude_fingerprint: str | None, version: str | None, exclude_names: Iterable[str],
                 lineage: str | None, plan_of: Callable[[Material | None, Material | None], Plan]
                 ) -> tuple[list[Neighbour], Plan, dict[int, str]]:
        """In one connection: the ``k_all`` nearest datasets, the plan made of the ``k`` nearest with scores
        (and of the stored versions of ``lineage``), and the JSON of the configurations the plan needs."""
        with self._session(write=False) as con:
            neighbours, material, own = _nearest.material(con, metafeatures, task, metric, k, k_all,
                                                          exclude_fingerprint, version, exclude_names, lineage)
            plan = plan_of(material, own)
            return neighbours, plan, _nearest.config_texts(con, plan.keys())

    # ------------------------------------------------------------------------------------ maintenance
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
            with transaction(con):
                orphans = remove_orphans(con)
                refresh_vectors(con, None)
            con.execute("FORCE CHECKPOINT")
        return {"merged_evaluations": merged, "removed_orphans": orphans, "size_before": before,
                "size_after": self._size()}


def _ingest_transaction(con, tables: dict[str, pa.Table | None]) -> int:
    """Conform exchange tables from a folder and merge them in one transaction; returns new evaluations."""
    with transaction(con):
        added = ingest(con, conform({k: v for k, v in tables.items() if v is not None}))
    return added.evaluations


def _set(families: Iterable[str] | None) -> set[str] | None:
    return set(families) if families is not None else None
