"""The exchange format: four Parquet tables that export, import, the seed and the staging area all share.

A folder holds ``datasets.parquet``, ``configurations.parquet``, ``runs.parquet`` and
``evaluations.parquet``; each file's Parquet metadata (key ``automl-kb``) names the format and the
schema version that wrote it. Datasets and
runs are keyed by content fingerprint and run id, configurations by canonical hash and evaluations by
``(run_id, seq)``, so loading a folder twice adds nothing. Integer ids, scaled vectors and scaler
parameters are internal and never exported (they are recomputed on load). JSON columns hold plain
data; a meta-feature value that is NaN is stored as ``null``. Times are naive UTC.

Folders written by the first (schema 1/2) store are read too (``dataset_id`` = fingerprint,
``config_json``, ``eval_id``).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import uuid
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ._errors import ExchangeError, InvalidRecordError
from ._schema import SCHEMA_VERSION, TABLES
from .canonical import canonical_json
from .records import DatasetRecord, EvaluationRecord, RunRecord

FORMAT = "automl-kb-export"
FORMAT_VERSION = 1
METADATA_KEY = "automl-kb"

_TS = pa.timestamp("us")
SCHEMAS: dict[str, pa.Schema] = {
    "datasets": pa.schema([
        ("fingerprint", pa.string()), ("name", pa.string()), ("source", pa.string()), ("task", pa.string()),
        ("n_rows", pa.int64()), ("n_features", pa.int64()), ("metafeatures", pa.string()),
        ("metafeatures_version", pa.string()), ("extra", pa.string()), ("created_at", _TS), ("updated_at", _TS),
        ("lineage", pa.string())]),
    "configurations": pa.schema([
        ("config_id", pa.string()), ("config", pa.string()), ("family", pa.string()),
        ("space_version", pa.string()), ("created_at", _TS)]),
    "runs": pa.schema([
        ("run_id", pa.string()), ("kind", pa.string()), ("source", pa.string()), ("started_at", _TS),
        ("finished_at", _TS), ("budget_seconds", pa.float64()), ("settings", pa.string()), ("versions", pa.string()),
        ("fingerprint", pa.string()), ("n_evaluations", pa.int32()), ("recorded_at", _TS)]),
    "evaluations": pa.schema([
        ("run_id", pa.string()), ("seq", pa.int32()), ("fingerprint", pa.string()), ("config_id", pa.string()),
        ("space_version", pa.string()), ("fidelity", pa.float64()), ("protocol", pa.string()), ("metric", pa.string()),
        ("score", pa.float64()), ("loss", pa.float64()), ("fit_seconds", pa.float64()), ("status", pa.string()),
        ("error", pa.string()), ("seed", pa.int64()), ("library_version", pa.string()), ("created_at", _TS),
        ("origin", pa.string())]),
}
# columns that must be present (and non-null) in an incoming table
REQUIRED = {
    "datasets": ("fingerprint", "task", "metafeatures", "metafeatures_version"),
    "configurations": ("config_id", "config"),
    "runs": ("run_id",),
    "evaluations": ("run_id", "fingerprint", "config_id", "fidelity", "metric", "status"),
}


# ---------------------------------------------------------------------------------------------- plain data
def utc_naive(value: datetime | None) -> datetime | None:
    """Aware datetimes are converted to UTC; naive ones are taken as UTC already."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def plain(value: Any) -> Any:
    """JSON-safe plain data: numpy scalars unwrapped, non-finite floats -> None, other objects -> str."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic):
        return plain(value.item())
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        items = list(value) if not isinstance(value, (set, frozenset)) else sorted(value, key=str)
        return [plain(v) for v in items]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def dumps(value: Any, *, sort_keys: bool = True) -> str:
    return json.dumps(plain(value), sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def metafeatures_json(values: dict[str, float]) -> str:
    """Meta-features in their given order (``FEATURE_NAMES``), NaN as null."""
    return dumps({k: (v if v is not None and math.isfinite(v) else None) for k, v in values.items()}, sort_keys=False)


def parse_metafeatures(text: str | None) -> dict[str, float]:
    if not text:
        return {}
    raw = json.loads(text)
    return {str(k): (math.nan if v is None else float(v)) for k, v in raw.items()}


# ---------------------------------------------------------------------------------------------- records -> tables
def records_to_tables(run: RunRecord, dataset: DatasetRecord | None, evaluations: list[EvaluationRecord],
                      now: datetime | None = None) -> dict[str, pa.Table]:
    """One run's write as exchange tables (configurations deduplicated by canonical hash)."""
    if not isinstance(run, RunRecord):
        raise InvalidRecordError(f"record_run: run must be a RunRecord; got {type(run).__name__}")
    if dataset is not None and not isinstance(dataset, DatasetRecord):
        raise InvalidRecordError(f"record_run: dataset must be a DatasetRecord or None; got {type(dataset).__name__}")
    evaluations = list(evaluations or [])
    if evaluations and dataset is None:
        raise InvalidRecordError("record_run: evaluations need the dataset they were made on (dataset is None)")
    now = now or now_utc()
    fp = dataset.fingerprint if dataset is not None else None
    datasets = []
    if dataset is not None:
        datasets.append({
            "fingerprint": fp, "name": dataset.name, "source": dataset.source, "task": dataset.task,
            "n_rows": dataset.n_rows, "n_features": dataset.n_features,
            "metafeatures": metafeatures_json(dataset.metafeatures),
            "metafeatures_version": dataset.metafeatures_version, "extra": dumps(dataset.extra),
            "created_at": now, "updated_at": now, "lineage": dataset.lineage})
    configs: dict[str, dict] = {}
    rows = []
    for seq, e in enumerate(evaluations):
        if not isinstance(e, EvaluationRecord):
            raise InvalidRecordError(f"record_run: evaluation {seq} must be an EvaluationRecord; "
                                     f"got {type(e).__name__}")
        try:
            text = canonical_json(e.config)
        except (TypeError, ValueError) as exc:
            raise InvalidRecordError(f"record_run: evaluation {seq} has a configuration that is not plain JSON "
                                     f"data: {exc}") from None
        cid = _id_of_text(text)
        configs.setdefault(cid, {"config_id": cid, "config": text, "family": e.family,
                                 "space_version": e.space_version, "created_at": now})
        rows.append({
            "run_id": run.run_id, "seq": seq, "fingerprint": fp, "config_id": cid, "space_version": e.space_version,
            "fidelity": e.fidelity, "protocol": e.protocol, "metric": e.metric, "score": e.score, "loss": e.loss,
            "fit_seconds": e.fit_seconds, "status": e.status, "error": e.error, "seed": e.seed,
            "library_version": e.library_version, "created_at": utc_naive(e.created_at) or now,
            "origin": e.origin})
    runs = [{
        "run_id": run.run_id, "kind": run.kind, "source": run.source, "started_at": utc_naive(run.started_at),
        "finished_at": utc_naive(run.finished_at), "budget_seconds": run.budget_seconds,
        "settings": dumps(run.settings), "versions": dumps(run.versions), "fingerprint": fp,
        "n_evaluations": len(rows), "recorded_at": now}]
    return {
        "datasets": pa.Table.from_pylist(datasets, schema=SCHEMAS["datasets"]),
        "configurations": pa.Table.from_pylist(list(configs.values()), schema=SCHEMAS["configurations"]),
        "runs": pa.Table.from_pylist(runs, schema=SCHEMAS["runs"]),
        "evaluations": pa.Table.from_pylist(rows, schema=SCHEMAS["evaluations"]),
    }


def _id_of_text(text: str) -> str:
    """``canonical.config_id`` from the canonical text already at hand (it is sha256 of that text, 16 hex);
    tests assert the two agree."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def empty_tables() -> dict[str, pa.Table]:
    return {name: SCHEMAS[name].empty_table() for name in TABLES}


# ---------------------------------------------------------------------------------------------- conforming
def _rename(table: pa.Table, mapping: dict[str, str]) -> pa.Table:
    return table.rename_columns([mapping.get(n, n) for n in table.column_names])


def _legacy(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """Tables written by the schema-1/2 store, in today's layout."""
    out = dict(tables)
    if "dataset_id" in tables["datasets"].column_names and "fingerprint" not in tables["datasets"].column_names:
        ds = _rename(tables["datasets"], {"dataset_id": "fingerprint"})
        if "updated_at" not in ds.column_names and "created_at" in ds.column_names:
            ds = ds.append_column("updated_at", ds.column("created_at"))
        out["datasets"] = ds
    cf = tables["configurations"]
    if "config_json" in cf.column_names and "config" not in cf.column_names:
        out["configurations"] = _rename(cf, {"config_json": "config"})
    rn = tables["runs"]
    if "dataset_id" in rn.column_names and "fingerprint" not in rn.column_names:
        rn = _rename(rn, {"dataset_id": "fingerprint"})
        if "recorded_at" not in rn.column_names and "finished_at" in rn.column_names:
            rn = rn.append_column("recorded_at", rn.column("finished_at"))
        out["runs"] = rn
    ev = tables["evaluations"]
    if "dataset_id" in ev.column_names and "fingerprint" not in ev.column_names:
        ev = _rename(ev, {"dataset_id": "fingerprint"})
        if "seq" not in ev.column_names and "eval_id" in ev.column_names:
            seq = [_seq_of(x, i) for i, x in enumerate(ev.column("eval_id").to_pylist())]
            ev = ev.append_column("seq", pa.array(seq, pa.int32()))
        if "space_version" not in ev.column_names:
            configs = out["configurations"]
            versions = dict(zip(configs.column("config_id").to_pylist(),
                                configs.column("space_version").to_pylist())) \
                if "space_version" in configs.column_names else {}
            ev = ev.append_column("space_version", pa.array([versions.get(c) or "" for c in
                                                             ev.column("config_id").to_pylist()], pa.string()))
        out["evaluations"] = ev
    return out


def _seq_of(eval_id: Any, position: int) -> int:
    try:
        return int(str(eval_id).rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return position


def conform(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """Incoming tables in the exchange schema: missing optional columns null, types cast, checked."""
    tables = _legacy({name: tables.get(name, SCHEMAS[name].empty_table()) for name in TABLES})
    out = {}
    for name in TABLES:
        table, schema = tables[name], SCHEMAS[name]
        missing = [c for c in REQUIRED[name] if c not in table.column_names]
        if missing and table.num_rows:
            raise ExchangeError(f"{name}: required column(s) missing: {', '.join(missing)}")
        columns = []
        for field in schema:
            if field.name in table.column_names:
                column = table.column(field.name)
                try:
                    column = column.cast(field.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise ExchangeError(f"{name}.{field.name}: cannot read as {field.type}: {exc}") from None
            else:
                column = pa.nulls(table.num_rows, field.type)
            columns.append(column)
        table = pa.Table.from_arrays(columns, schema=schema)
        for c in REQUIRED[name]:
            if table.num_rows and table.column(c).null_count:
                raise ExchangeError(f"{name}.{c}: {table.column(c).null_count} missing value(s)")
        out[name] = table
    for name in ("configurations", "evaluations"):
        ids = out[name].column("config_id")
        if len(ids) and not pc.all(pc.match_substring_regex(ids, "^[0-9a-f]{16}$")).as_py():
            raise ExchangeError(f"{name}.config_id: not every value is a configuration id (16 hex digits)")
    now = now_utc()
    out["datasets"] = _fill(out["datasets"], {"source": "local", "extra": "{}", "created_at": now, "updated_at": now})
    out["configurations"] = _fill(out["configurations"], {"family": "unknown", "space_version": "",
                                                          "created_at": now})
    out["runs"] = _fill(out["runs"], {"kind": "import", "source": "local", "settings": "{}", "versions": "{}",
                                      "recorded_at": now})
    out["evaluations"] = _fill(out["evaluations"], {"space_version": "", "protocol": "unknown", "fit_seconds": 0.0,
                                                    "seed": 0, "library_version": "", "created_at": now})
    if out["evaluations"].num_rows and out["evaluations"].column("seq").null_count:
        raise ExchangeError("evaluations.seq: missing values")
    return out


def _fill(table: pa.Table, defaults: dict[str, Any]) -> pa.Table:
    for name, value in defaults.items():
        i = table.schema.get_field_index(name)
        column = table.column(i)
        if column.null_count:
            table = table.set_column(i, name, pc.fill_null(column, pa.scalar(value, column.type)))
    return table


# ---------------------------------------------------------------------------------------------- folders
def write_folder(directory: str | os.PathLike, tables: dict[str, pa.Table], *, extra: dict | None = None) -> Path:
    """Write the four tables, each renamed into place; format, schema version and ``extra`` go into
    every file's Parquet metadata (key ``automl-kb``), so the folder holds nothing but the tables."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "schema_version": SCHEMA_VERSION,
            "written_at": now_utc().isoformat(timespec="seconds") + "Z", **(extra or {})}
    for name in TABLES:
        table = tables[name].replace_schema_metadata({METADATA_KEY: json.dumps({**meta, "table": name})})
        _atomic_parquet(table, directory / f"{name}.parquet")
    return directory


def _atomic_parquet(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def has_tables(directory: str | os.PathLike) -> bool:
    directory = Path(directory)
    return directory.is_dir() and any((directory / f"{name}.parquet").exists() for name in TABLES)


def read_folder(directory: str | os.PathLike) -> dict[str, pa.Table]:
    """The four tables of an exchange folder, conformed; ``ExchangeError`` when unusable."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ExchangeError(f"{str(directory)!r} is not a folder")
    missing = [f"{name}.parquet" for name in TABLES if not (directory / f"{name}.parquet").exists()]
    if missing:
        raise ExchangeError(f"{str(directory)!r} is not a knowledge-base export: missing {', '.join(missing)}")
    tables = {}
    for name in TABLES:
        path = directory / f"{name}.parquet"
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException) as exc:
            raise ExchangeError(f"{path}: unreadable ({str(exc).splitlines()[0]})") from None
        _check_metadata(path, table)
        tables[name] = table
    return conform(tables)


def _check_metadata(path: Path, table: pa.Table) -> None:
    raw = (table.schema.metadata or {}).get(METADATA_KEY.encode())
    if raw is None:  # written by the first store, or by hand: the columns are checked instead
        return
    try:
        doc = json.loads(raw)
    except ValueError:
        raise ExchangeError(f"{path}: unreadable knowledge-base metadata") from None
    if doc.get("format") != FORMAT:
        raise ExchangeError(f"{path}: not a knowledge-base export (format {doc.get('format')!r})")
    if int(doc.get("format_version", 1)) > FORMAT_VERSION:
        raise ExchangeError(f"{path}: export format version {doc.get('format_version')} is newer than this "
                            f"library's {FORMAT_VERSION}")


__all__ = ["SCHEMAS", "FORMAT", "METADATA_KEY", "records_to_tables", "conform", "write_folder", "read_folder",
           "has_tables", "empty_tables", "plain", "dumps", "utc_naive", "now_utc", "metafeatures_json",
           "parse_metafeatures"]


_EXPORT_QUERIES = {
    "datasets": "SELECT fingerprint, name, source, task, n_rows, n_features, metafeatures, metafeatures_version, "
                "extra, created_at, updated_at, lineage FROM datasets ORDER BY fingerprint",
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


def export_tables(con) -> dict[str, pa.Table]:
    """The store's four primary tables in the exchange format (internal ids replaced by natural keys)."""
    return {name: con.sql(sql).to_arrow_table().cast(SCHEMAS[name]) for name, sql in _EXPORT_QUERIES.items()}
