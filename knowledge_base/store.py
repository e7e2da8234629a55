"""The DuckDB store: datasets, configurations, evaluations and runs in one file.

Contract (see ``KnowledgeBase``): every method opens a short-lived connection, works and closes
it, so no process holds the file across a search. DuckDB allows one process on a file at a time
(another process's open fails at once), so opens retry with jittered back-off; a write that
still cannot get the file is staged as Parquet files renamed into place atomically, and the next
writer merges the staging area idempotently (every row has a natural key; inserts never
duplicate). SQL takes values only as parameters.
"""
from __future__ import annotations

import json
import logging
import math
import os
import random
import shutil
import time
import uuid
from abc import ABC, abstractmethod
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .canonical import canonical_json, config_id
from .errors import KnowledgeBaseError, NotAKnowledgeBaseError, SchemaVersionError, StoreBusyError
from .records import DatasetRecord, EvaluationRecord, Neighbour, PriorObservation, RunRecord, Suggestion
from .schema import APP_MARKER, DDL_V1, MIGRATIONS, SCHEMA_VERSION, TABLES

log = logging.getLogger("automl.kb")

SEED_DIR = Path(__file__).resolve().parent / "seed"
DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}
RETRY_SECONDS = 3.0


def resolve_path(path: str | os.PathLike | None = None) -> Path:
    """The store's file: the argument, else ``$AUTOML_KB``, else the per-user data directory."""
    if path:
        return Path(path).expanduser()
    env = os.environ.get("AUTOML_KB")
    if env:
        return Path(env).expanduser()
    import platformdirs
    return Path(platformdirs.user_data_dir("automl")) / "kb.duckdb"


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text or "conflicting" in text or "resource temporarily unavailable" in text


class KnowledgeBase(ABC):
    """What the rest of the system may ask of a knowledge base."""

    @abstractmethod
    def info(self) -> dict: ...

    @abstractmethod
    def similar(self, metafeatures: dict, task: str, k: int = 5, exclude_fingerprint=None,
                exclude_names=()) -> list[Neighbour]: ...

    @abstractmethod
    def suggest(self, metafeatures: dict, task: str, metric: str, n: int = 10, k: int = 10, families=None,
                exclude_fingerprint=None, exclude_names=()) -> list[Suggestion]: ...

    @abstractmethod
    def prior_observations(self, metafeatures: dict, task: str, metric: str, k: int = 10, families=None,
                           exclude_fingerprint=None, exclude_names=()) -> list[PriorObservation]: ...

    @abstractmethod
    def record_run(self, run: RunRecord, dataset: DatasetRecord | None,
                   evaluations: list[EvaluationRecord]) -> int: ...


class DuckDBStore(KnowledgeBase):
    def __init__(self, path: Path, seed_dir: Path | None = SEED_DIR) -> None:
        self.path = Path(path)
        self.staging = self.path.with_name(self.path.name + ".staging")
        self.seed_dir = seed_dir
        self.schema_version = SCHEMA_VERSION
        self._prepare()

    # ------------------------------------------------------------------ connections
    @contextmanager
    def _connect(self, read_only: bool = False, retry_seconds: float = RETRY_SECONDS):
        deadline = time.monotonic() + retry_seconds
        delay = 0.01
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.IOException as exc:
                if not _is_lock_error(exc):
                    raise NotAKnowledgeBaseError(f"{self.path} is not a knowledge base or is damaged: "
                                                 f"{str(exc).splitlines()[0]}") from None
                if time.monotonic() >= deadline:
                    raise StoreBusyError(f"knowledge base {self.path} is busy (held by another process)") from None
                time.sleep(delay * (0.5 + random.random()))
                delay = min(0.2, delay * 2)
            except duckdb.Error as exc:
                raise NotAKnowledgeBaseError(f"{self.path} is not a knowledge base or is damaged: "
                                             f"{str(exc).splitlines()[0]}") from None
        try:
            yield con
        finally:
            con.close()

    def _prepare(self) -> None:
        """Create and seed a new store, check the marker and version, migrate an older one."""
        if self.path.exists() and self.path.is_dir():
            raise NotAKnowledgeBaseError(f"{self.path} is a directory, not a knowledge base file")
        if self.path.exists() and self.path.stat().st_size > 0:
            with open(self.path, "rb") as fh:
                head = fh.read(16)
            if b"DUCK" not in head:
                raise NotAKnowledgeBaseError(f"{self.path} is not a knowledge base (not a DuckDB file); "
                                             f"it was left untouched")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            created = self._create_or_check()
        except StoreBusyError:
            if not self.path.exists():
                raise
            # an existing store held by another process: checked at the next open that gets the file
            log.debug("knowledge base %s busy while opening; checks deferred", self.path)
            return
        if created:
            self._load_seed()

    def _create_or_check(self) -> bool:
        created = False
        with self._connect(retry_seconds=2 * RETRY_SECONDS) as con:
            tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
            if not tables:
                con.execute("BEGIN").fetchall()
                for ddl in DDL_V1:
                    con.execute(ddl).fetchall()
                con.execute("INSERT INTO meta VALUES ('app', ?), ('schema_version', '1')", [APP_MARKER]).fetchall()
                con.execute("COMMIT").fetchall()
                created = True
                tables = {"meta"}
            if "meta" not in tables:
                raise NotAKnowledgeBaseError(f"{self.path} is a DuckDB file but not a knowledge base; "
                                             f"it was left untouched")
            marker = dict(con.execute("SELECT key, value FROM meta").fetchall())
            if marker.get("app") != APP_MARKER:
                raise NotAKnowledgeBaseError(f"{self.path} is a DuckDB file but not a knowledge base")
            version = int(marker.get("schema_version", "0"))
            if version > SCHEMA_VERSION:
                raise SchemaVersionError(f"knowledge base {self.path} has schema version {version}, newer than "
                                         f"this package's {SCHEMA_VERSION}; upgrade the package")
            while version < SCHEMA_VERSION:
                con.execute("BEGIN").fetchall()
                try:
                    for stmt in MIGRATIONS[version]:
                        con.execute(stmt).fetchall()
                    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(version + 1)]).fetchall()
                    con.execute("COMMIT").fetchall()
                except Exception:
                    con.execute("ROLLBACK").fetchall()
                    raise
                log.info("knowledge base %s migrated from schema %d to %d", self.path, version, version + 1)
                version += 1
        return created

    def _load_seed(self) -> None:
        if self.seed_dir is None or not (Path(self.seed_dir) / "datasets.parquet").exists():
            log.warning("no knowledge-base seed found; starting with an empty store")
            return
        n = self.import_(self.seed_dir)
        log.info("knowledge base %s seeded with %d evaluation(s)", self.path, n)

    # ------------------------------------------------------------------ write
    @staticmethod
    def _frames(run: RunRecord, dataset: DatasetRecord | None, evaluations: list[EvaluationRecord]) -> dict:
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        dataset_id = dataset.fingerprint if dataset else None
        frames = {}
        if dataset is not None:
            from metafeatures import FEATURE_NAMES
            values = [_finite(dataset.metafeatures.get(n)) for n in FEATURE_NAMES]
            frames["datasets"] = pd.DataFrame([{
                "dataset_id": dataset_id, "name": dataset.name, "source": dataset.source, "task": dataset.task,
                "n_rows": int(dataset.n_rows), "n_features": int(dataset.n_features),
                "metafeatures_version": dataset.metafeatures_version,
                "metafeatures": json.dumps({k: _finite(v) for k, v in dataset.metafeatures.items()}),
                "mf_values": values, "extra": json.dumps(dataset.extra, default=str), "created_at": now}])
        configs, evals = {}, []
        for i, e in enumerate(evaluations):
            cid = config_id(e.config)
            configs[cid] = {"config_id": cid, "family": e.family, "space_version": e.space_version,
                            "config_json": canonical_json(e.config), "created_at": now}
            evals.append({
                "eval_id": f"{run.run_id}:{i}", "run_id": run.run_id, "dataset_id": dataset_id, "config_id": cid,
                "fidelity": float(e.fidelity), "protocol": e.protocol, "metric": e.metric,
                "score": _finite(e.score), "loss": _finite(e.loss), "normalised_score": None,
                "fit_seconds": float(e.fit_seconds or 0.0), "status": e.status, "error": e.error,
                "seed": int(e.seed), "library_version": e.library_version,
                "created_at": (e.created_at or now).replace(tzinfo=None) if isinstance(e.created_at or now, datetime)
                else now, "origin": e.origin, "source": run.source})
        frames["configurations"] = pd.DataFrame(list(configs.values()),
                                                columns=["config_id", "family", "space_version", "config_json",
                                                         "created_at"])
        frames["evaluations"] = pd.DataFrame(evals, columns=[
            "eval_id", "run_id", "dataset_id", "config_id", "fidelity", "protocol", "metric", "score", "loss",
            "normalised_score", "fit_seconds", "status", "error", "seed", "library_version", "created_at", "origin",
            "source"])
        frames["runs"] = pd.DataFrame([{
            "run_id": run.run_id, "kind": run.kind, "source": run.source,
            "started_at": _naive(run.started_at), "finished_at": _naive(run.finished_at),
            "budget_seconds": run.budget_seconds, "settings": json.dumps(run.settings, default=str),
            "versions": json.dumps(run.versions, default=str), "dataset_id": dataset_id,
            "n_evaluations": len(evaluations)}])
        return frames

    @staticmethod
    def _insert_frames(con, frames: dict[str, pd.DataFrame | pa.Table]) -> int:
        """Insert in one transaction; existing keys are kept (idempotent). Returns new evaluations."""
        con.execute("BEGIN").fetchall()
        try:
            before = con.execute("SELECT count(*) FROM evaluations").fetchall()[0][0]
            for table in TABLES:
                frame = frames.get(table)
                if frame is None or len(frame) == 0:
                    continue
                con.register("incoming", frame)
                names = frame.column_names if isinstance(frame, pa.Table) else list(frame.columns)
                cols = ", ".join(f'"{c}"' for c in names if c in _COLUMNS[table])
                con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM incoming ON CONFLICT DO NOTHING").fetchall()
                con.unregister("incoming")
            after = con.execute("SELECT count(*) FROM evaluations").fetchall()[0][0]
            con.execute("COMMIT").fetchall()
        except Exception:
            con.execute("ROLLBACK").fetchall()
            raise
        return int(after - before)

    def record_run(self, run: RunRecord, dataset: DatasetRecord | None, evaluations: list[EvaluationRecord]) -> int:
        """Write a run, its dataset, configurations and evaluations in one transaction (idempotent).

        When the store stays busy, the write is staged and merged by the next writer; the
        evaluations are counted as written either way.
        """
        frames = self._frames(run, dataset, evaluations)
        try:
            with self._connect() as con:
                self._merge_staged(con)
                self._insert_frames(con, frames)
            return len(evaluations)
        except StoreBusyError:
            self._stage(run.run_id, frames)
            log.warning("knowledge base busy: %d evaluation(s) staged for the next writer", len(evaluations))
            return len(evaluations)

    def _stage(self, run_id: str, frames: dict) -> None:
        self.staging.mkdir(parents=True, exist_ok=True)
        tmp = self.staging / f".tmp-{run_id}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        for table, frame in frames.items():
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp / f"{table}.parquet")
        os.replace(tmp, self.staging / f"run-{run_id}")

    def _merge_staged(self, con) -> int:
        if not self.staging.exists():
            return 0
        merged = 0
        for entry in sorted(self.staging.glob("run-*")):
            frames = {t: pq.read_table(entry / f"{t}.parquet") for t in TABLES if (entry / f"{t}.parquet").exists()}
            merged += self._insert_frames(con, frames)
            shutil.rmtree(entry, ignore_errors=True)
        return merged

    def merge_staged(self) -> int:
        with self._connect(retry_seconds=30) as con:
            return self._merge_staged(con)

    # ------------------------------------------------------------------ read
    def info(self) -> dict:
        with self._connect() as con:
            count = lambda t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]  # noqa: E731
            out = {"path": str(self.path), "schema_version": SCHEMA_VERSION, "n_datasets": count("datasets"),
                   "n_configurations": count("configurations"), "n_evaluations": count("evaluations"),
                   "n_runs": count("runs")}
            out["by_task"] = dict(con.execute("SELECT task, count(*) FROM datasets GROUP BY task ORDER BY task")
                                  .fetchall())
            out["by_source"] = dict(con.execute("SELECT coalesce(source, 'local'), count(*) FROM evaluations "
                                                "GROUP BY 1 ORDER BY 1").fetchall())
            out["datasets_by_source"] = dict(con.execute("SELECT source, count(*) FROM datasets GROUP BY 1 "
                                                         "ORDER BY 1").fetchall())
        out["pending_staged"] = len(list(self.staging.glob("run-*"))) if self.staging.exists() else 0
        return out

    def has_dataset(self, fingerprint: str, metafeatures_version: str | None = None,
                    space_version: str | None = None) -> bool:
        with self._connect() as con:
            rows = con.execute("SELECT metafeatures_version FROM datasets WHERE dataset_id = ?", [fingerprint]).fetchall()
            row = rows[0] if rows else None
            if row is None or (metafeatures_version is not None and row[0] != metafeatures_version):
                return False
            if space_version is None:
                return True
            n = con.execute("SELECT count(*) FROM evaluations e JOIN configurations c USING (config_id) "
                            "WHERE e.dataset_id = ? AND c.space_version = ?", [fingerprint, space_version]).fetchall()[0][0]
            return n > 0

    def _population(self, con, task: str, version: str):
        rows = con.execute("SELECT dataset_id, name, source, n_rows, n_features, mf_values FROM datasets "
                           "WHERE task = ? AND metafeatures_version = ?", [task, version]).fetchall()
        return rows

    def similar(self, metafeatures: dict, task: str, k: int = 5, exclude_fingerprint=None,
                exclude_names=()) -> list[Neighbour]:
        with self._connect() as con:
            return self._similar(con, metafeatures, task, k, exclude_fingerprint, exclude_names)

    def _similar(self, con, metafeatures, task, k, exclude_fingerprint, exclude_names) -> list[Neighbour]:
        from metafeatures import FEATURE_NAMES, METAFEATURES_VERSION, RobustScaler
        rows = self._population(con, task, METAFEATURES_VERSION)
        excluded = set(exclude_names or ())
        rows = [r for r in rows if r[0] != exclude_fingerprint and (r[1] not in excluded)]
        if not rows:
            return []
        matrix = np.array([[np.nan if v is None else v for v in r[5]] for r in rows], dtype=float)
        scaler = RobustScaler.fit(FEATURE_NAMES, matrix)
        Z = scaler.transform(matrix)
        q = scaler.vector(metafeatures)
        d = np.sqrt(((Z - q) ** 2).sum(axis=1) / Z.shape[1])
        order = np.argsort(d, kind="stable")[:k]
        return [Neighbour(fingerprint=rows[i][0], name=rows[i][1], source=rows[i][2], task=task,
                          n_rows=int(rows[i][3]), n_features=int(rows[i][4]), distance=float(d[i]),
                          similarity=float(1.0 / (1.0 + d[i]))) for i in order]

    def _scores(self, con, neighbours: list[Neighbour], metric: str, task: str):
        """Per neighbour, per configuration: the loss at the highest fidelity, rank-normalised (1 = best)."""
        ids = [n.fingerprint for n in neighbours]
        used = metric
        frame = self._evals(con, ids, metric)
        if frame.empty and metric != DEFAULT_METRIC.get(task):
            used = DEFAULT_METRIC.get(task)
            frame = self._evals(con, ids, used)
        if frame.empty:
            return frame, used
        frame["normalised"] = frame.groupby(["dataset_id", "fidelity"])["loss"].transform(
            lambda s: 1.0 - (s.rank(method="average") - 1) / max(1, len(s) - 1) if len(s) > 1 else 0.5 + 0 * s)
        return frame, used

    @staticmethod
    def _evals(con, ids: list[str], metric: str) -> pd.DataFrame:
        if not ids:
            return pd.DataFrame()
        marks = ", ".join("?" for _ in ids)
        return con.execute(
            f"SELECT e.dataset_id, e.config_id, e.fidelity, min(e.loss) AS loss, any_value(c.family) AS family, "
            f"any_value(c.config_json) AS config_json FROM evaluations e JOIN configurations c USING (config_id) "
            f"WHERE e.dataset_id IN ({marks}) AND e.metric = ? AND e.status = 'ok' AND e.loss IS NOT NULL "
            f"GROUP BY e.dataset_id, e.config_id, e.fidelity", [*ids, metric]).df()

    def suggest(self, metafeatures: dict, task: str, metric: str, n: int = 10, k: int = 10, families=None,
                exclude_fingerprint=None, exclude_names=()) -> list[Suggestion]:
        with self._connect() as con:
            neighbours = self._similar(con, metafeatures, task, k, exclude_fingerprint, exclude_names)
            frame, used = self._scores(con, neighbours, metric, task)
        if frame.empty:
            return []
        if families is not None:
            frame = frame[frame["family"].isin(set(families))]
        top = frame.sort_values("fidelity").groupby(["dataset_id", "config_id"]).tail(1)  # highest fidelity
        sim = {nb.fingerprint: nb.similarity for nb in neighbours}
        names = {nb.fingerprint: nb.name or nb.fingerprint[:8] for nb in neighbours}
        dist = {nb.fingerprint: nb.distance for nb in neighbours}
        total = sum(sim.values())
        scored = []
        for cid, group in top.groupby("config_id"):
            got = dict(zip(group["dataset_id"], group["normalised"]))
            expected = sum(sim[d] * got.get(d, 0.5) for d in sim) / total
            sources = sorted(((names[d], float(v), dist[d]) for d, v in got.items()), key=lambda s: s[2])
            scored.append((expected, cid, group["family"].iloc[0], json.loads(group["config_json"].iloc[0]), sources))
        scored.sort(key=lambda s: (-s[0], s[1]))
        chosen: list[Suggestion] = []
        per_family: dict[str, int] = {}
        cap = max(1, math.ceil(n / 2))
        for expected, cid, family, config, sources in scored:
            if per_family.get(family, 0) >= cap or any(_near_duplicate(config, c.config) for c in chosen):
                continue
            where = "; ".join(f"{s[1]:.2f} on {s[0]!r} (distance {s[2]:.2f})" for s in sources[:3])
            note = "" if used == metric else f" [scores under {used}: none under {metric}]"
            chosen.append(Suggestion(config=config, config_id=cid, family=family, expected=float(expected),
                                     explanation=f"expected {expected:.2f}: {where}{note}", sources=sources))
            per_family[family] = per_family.get(family, 0) + 1
            if len(chosen) >= n:
                break
        return chosen

    def prior_observations(self, metafeatures: dict, task: str, metric: str, k: int = 10, families=None,
                           exclude_fingerprint=None, exclude_names=(), limit: int = 300) -> list[PriorObservation]:
        with self._connect() as con:
            neighbours = self._similar(con, metafeatures, task, k, exclude_fingerprint, exclude_names)
            frame, _ = self._scores(con, neighbours, metric, task)
        if frame.empty:
            return []
        if families is not None:
            frame = frame[frame["family"].isin(set(families))]
        sim = {nb.fingerprint: nb.similarity for nb in neighbours}
        frame = frame.assign(weight=frame["dataset_id"].map(sim)).sort_values(["weight", "normalised"],
                                                                               ascending=False).head(limit)
        return [PriorObservation(config=json.loads(r.config_json), config_id=r.config_id, family=r.family,
                                 fidelity=float(r.fidelity), normalised_score=float(r.normalised),
                                 weight=float(r.weight)) for r in frame.itertuples()]

    # ------------------------------------------------------------------ export / import / maintenance
    def export(self, directory: str | os.PathLike) -> dict[str, int]:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        counts = {}
        with self._connect() as con:
            for table in TABLES:
                arrow = con.sql(f"SELECT * FROM {table} ORDER BY 1").to_arrow_table()
                tmp = directory / f".{table}.parquet.tmp"
                pq.write_table(arrow, tmp, compression="zstd")
                os.replace(tmp, directory / f"{table}.parquet")
                counts[table] = arrow.num_rows
        return counts

    def import_(self, directory: str | os.PathLike) -> int:
        directory = Path(directory)
        missing = [t for t in TABLES if not (directory / f"{t}.parquet").exists()]
        if missing:
            raise KnowledgeBaseError(f"{directory} is not a knowledge-base export: missing "
                                     f"{', '.join(t + '.parquet' for t in missing)}")
        try:
            frames = {t: pq.read_table(directory / f"{t}.parquet") for t in TABLES}
        except Exception as exc:
            raise KnowledgeBaseError(f"cannot read the export in {directory}: {exc}") from None
        with self._connect(retry_seconds=30) as con:
            return self._insert_frames(con, frames)

    def check(self) -> list[str]:
        """Integrity problems (empty list when consistent)."""
        problems = []
        with self._connect() as con:
            q = lambda sql: con.execute(sql).fetchall()[0][0]  # noqa: E731
            orphan_cfg = q("SELECT count(*) FROM evaluations e LEFT JOIN configurations c USING (config_id) "
                           "WHERE c.config_id IS NULL")
            orphan_ds = q("SELECT count(*) FROM evaluations e LEFT JOIN datasets d USING (dataset_id) "
                          "WHERE e.dataset_id IS NOT NULL AND d.dataset_id IS NULL")
            orphan_run = q("SELECT count(*) FROM evaluations e LEFT JOIN runs r USING (run_id) WHERE r.run_id IS NULL")
            short = q("SELECT count(*) FROM runs r WHERE n_evaluations != (SELECT count(*) FROM evaluations e "
                      "WHERE e.run_id = r.run_id)")
            bad_status = q("SELECT count(*) FROM evaluations WHERE status NOT IN ('ok', 'failed', 'timeout')")
        for n, what in [(orphan_cfg, "evaluation(s) without their configuration"),
                        (orphan_ds, "evaluation(s) without their dataset"),
                        (orphan_run, "evaluation(s) without their run"),
                        (short, "run(s) whose evaluation count does not match"),
                        (bad_status, "evaluation(s) with an unknown status")]:
            if n:
                problems.append(f"{n} {what}")
        return problems

    def compact(self) -> None:
        """Merge staged writes and rewrite the file without free blocks."""
        self.merge_staged()
        tmp = self.path.with_name(self.path.name + ".compact")
        tmp.unlink(missing_ok=True)
        with self._connect(retry_seconds=30) as con:
            con.execute("CHECKPOINT").fetchall()
            export = Path(str(tmp) + ".d")
            shutil.rmtree(export, ignore_errors=True)
        self.export(export)
        fresh = DuckDBStore(tmp, seed_dir=None)
        fresh.import_(export)
        os.replace(tmp, self.path)
        shutil.rmtree(export, ignore_errors=True)


_COLUMNS = {
    "datasets": {"dataset_id", "name", "source", "task", "n_rows", "n_features", "metafeatures_version",
                 "metafeatures", "mf_values", "extra", "created_at"},
    "configurations": {"config_id", "family", "space_version", "config_json", "created_at"},
    "evaluations": {"eval_id", "run_id", "dataset_id", "config_id", "fidelity", "protocol", "metric", "score", "loss",
                    "normalised_score", "fit_seconds", "status", "error", "seed", "library_version", "created_at",
                    "origin", "source"},
    "runs": {"run_id", "kind", "source", "started_at", "finished_at", "budget_seconds", "settings", "versions",
             "dataset_id", "n_evaluations"},
}


def _finite(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _naive(t):
    if isinstance(t, datetime) and t.tzinfo is not None:
        return t.astimezone(timezone.utc).replace(tzinfo=None)
    return t


def _near_duplicate(a: dict, b: dict, tol: float = 0.1) -> bool:
    """Same family, same non-numeric values, every numeric value within 10 % (relative)."""
    if a.get("family") != b.get("family") or set(a) != set(b):
        return False
    for key, va in a.items():
        vb = b[key]
        if isinstance(va, (int, float)) and not isinstance(va, bool) and isinstance(vb, (int, float)) \
                and not isinstance(vb, bool):
            if abs(va - vb) > tol * max(abs(va), abs(vb), 1e-12):
                return False
        elif va != vb:
            return False
    return True


def open_store(path=None, *, seed_dir: Path | None = SEED_DIR) -> DuckDBStore:
    """Open (creating and seeding when absent, migrating when older) the store at ``resolve_path(path)``."""
    return DuckDBStore(resolve_path(path), seed_dir=seed_dir)
