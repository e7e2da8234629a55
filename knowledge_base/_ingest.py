"""Merging exchange tables into a store: the one write path of record_run, import, staging and the seed.

Idempotent by natural keys: datasets are upserted by fingerprint, configurations inserted by hash,
runs by id, and evaluations are added only with a run that was not stored yet, so loading the same
tables twice adds nothing. Runs inside the caller's transaction. SQL only ever receives values as
parameters; identifiers in SQL text are this module's constants.

Near copies: an incoming dataset that is not stored but has a lineage, and whose scaled meta-feature
distance (as retrieval measures it) to a stored dataset of the same lineage, task and meta-feature
version is below ``NEAR_COPY_DISTANCE``, is that dataset: its runs and evaluations are written to the
stored one (whose meta-features stay those first written), so cross-validation folds, subsets and
repeated fits of one table add evaluations to one dataset instead of new datasets.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from ._errors import ExchangeError
from ._exchange import parse_metafeatures
from ._vectors import load_scaler, refresh_vectors

NEAR_COPY_DISTANCE = 0.1  # below it two datasets of one lineage are one (why: docs/knowledge-base.md)

_INCOMING = {"datasets": "kb_in_datasets", "configurations": "kb_in_configurations", "runs": "kb_in_runs",
             "evaluations": "kb_in_evaluations"}


@dataclass(frozen=True)
class Added:
    """What one ``ingest`` added: datasets (inserted or updated), configurations, runs and evaluations."""

    datasets: int = 0
    configurations: int = 0
    runs: int = 0
    evaluations: int = 0


def ingest(con, tables: dict[str, pa.Table], *, new_runs_only: bool = False, trusted: bool = False) -> Added:
    """Merge exchange tables inside the caller's transaction; returns what was added.

    The newer ``updated_at`` wins for a dataset's meta-features, shape and ``extra``; a record with
    a name sets name and source. ``new_runs_only``: when every incoming run is already stored, change
    nothing at all (a repeated write-back). ``trusted``: the tables come from ``records_to_tables`` and
    are consistent by construction (references are not re-checked).
    """
    tables = _onto_near_copies(con, tables)
    runs, seen = _new_runs(con, tables["runs"])
    if new_runs_only and tables["runs"].num_rows and not runs.num_rows:
        return Added()
    evaluations = _evaluations_of(tables["evaluations"], seen, set(runs.column("run_id").to_pylist()))
    incoming = {"datasets": _one_per_key(tables["datasets"], "fingerprint", latest="updated_at"),
                "configurations": _one_per_key(tables["configurations"], "config_id"),
                "runs": runs, "evaluations": evaluations}
    with _registered(con, incoming):
        if not trusted:
            _check_references(con)
        if incoming["datasets"].num_rows:
            _upsert_datasets(con)
        if incoming["configurations"].num_rows:
            _insert_configurations(con)
        if runs.num_rows:
            _insert_runs(con)
        if evaluations.num_rows:
            _insert_evaluations(con, trusted)
            _count_ok_evaluations(con)
    fingerprints = incoming["datasets"].column("fingerprint").to_pylist()
    refresh_vectors(con, fingerprints)
    return Added(datasets=len(fingerprints), configurations=incoming["configurations"].num_rows,
                 runs=runs.num_rows, evaluations=evaluations.num_rows)


def near_copy_of(con, fingerprint: str, lineage: str | None, task: str, version: str,
                 metafeatures: dict[str, float]) -> str | None:
    """The stored dataset this one is a near copy of (module docstring), or None."""
    if lineage is None:
        return None
    scaler = load_scaler(con, version)
    if scaler is None:
        return None
    rows = con.execute(
        "SELECT d.fingerprint, list_distance(v.vec, ?::FLOAT[]) / sqrt(greatest(1, len(v.vec))) AS dist "
        "FROM datasets d JOIN vectors v USING (dataset_id) WHERE d.lineage = ? AND d.task = ? "
        "AND d.metafeatures_version = ? AND v.scaler_id = ? AND d.fingerprint <> ? ORDER BY dist, d.fingerprint "
        "LIMIT 1", [scaler.vector(metafeatures).tolist(), lineage, task, version, scaler.scaler_id,
                    fingerprint]).fetchall()
    return rows[0][0] if rows and rows[0][1] is not None and rows[0][1] < NEAR_COPY_DISTANCE else None


def _onto_near_copies(con, tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """``tables`` with each new dataset that is a near copy of a stored one replaced by the stored one:
    the dataset row left out, its runs' and evaluations' fingerprints pointed at the stored dataset."""
    datasets = tables["datasets"]
    if not datasets.num_rows or datasets.column("lineage").null_count == datasets.num_rows:
        return tables
    fingerprints = datasets.column("fingerprint").to_pylist()
    stored = {r[0] for r in con.execute("SELECT fingerprint FROM datasets WHERE fingerprint IN "
                                        "(SELECT unnest(?::VARCHAR[]))", [fingerprints]).fetchall()}
    onto: dict[str, str] = {}
    for row in datasets.select(["fingerprint", "lineage", "task", "metafeatures_version", "metafeatures"]).to_pylist():
        if row["fingerprint"] in stored or row["fingerprint"] in onto:
            continue
        target = near_copy_of(con, row["fingerprint"], row["lineage"], row["task"], row["metafeatures_version"],
                              parse_metafeatures(row["metafeatures"]))
        if target is not None:
            onto[row["fingerprint"]] = target
    if not onto:
        return tables
    out = dict(tables)
    out["datasets"] = datasets.filter(pa.array([fp not in onto for fp in fingerprints], pa.bool_()))
    for name in ("runs", "evaluations"):
        table = tables[name]
        i = table.schema.get_field_index("fingerprint")
        moved = [onto.get(fp, fp) for fp in table.column(i).to_pylist()]
        out[name] = table.set_column(i, table.schema.field(i), pa.array(moved, pa.string()))
    return out


def _new_runs(con, runs: pa.Table) -> tuple[pa.Table, set[str]]:
    """The incoming runs not stored yet (the first of repeated ids), and every incoming run id."""
    incoming_ids = runs.column("run_id").to_pylist()
    existing: set[str] = set()
    if incoming_ids:
        existing = {r[0] for r in con.execute("SELECT run_id FROM runs WHERE run_id IN (SELECT unnest(?::VARCHAR[]))",
                                              [incoming_ids]).fetchall()}
    keep, seen = [], set()
    for rid in incoming_ids:
        keep.append(rid not in existing and rid not in seen)
        seen.add(rid)
    return (runs.filter(pa.array(keep, pa.bool_())) if runs.num_rows else runs), seen


def _evaluations_of(evaluations: pa.Table, seen: set[str], new_ids: set[str]) -> pa.Table:
    """The evaluations of the new runs; an evaluation of no incoming run is an ``ExchangeError``."""
    eval_runs = evaluations.column("run_id").to_pylist()
    unknown = {r for r in eval_runs if r not in seen}
    if unknown:
        raise ExchangeError(f"{len(unknown)} run id(s) have evaluations but no run record (e.g. "
                            f"{sorted(unknown)[0]!r})")
    if not evaluations.num_rows:
        return evaluations
    return evaluations.filter(pa.array([r in new_ids for r in eval_runs], pa.bool_()))


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


@contextmanager
def _registered(con, incoming: dict[str, pa.Table]) -> Iterator[None]:
    """The incoming tables visible to SQL as ``kb_in_<table>`` for the duration of the block."""
    for table, name in _INCOMING.items():
        con.register(name, incoming[table])
    try:
        yield
    finally:
        for name in _INCOMING.values():
            con.unregister(name)


def _check_references(con) -> None:
    """Every incoming evaluation names a known dataset and configuration, and no ``(run_id, seq)`` twice."""
    problems = con.execute(
        "SELECT (SELECT count(*) FROM kb_in_evaluations e WHERE e.fingerprint NOT IN "
        "   (SELECT fingerprint FROM kb_in_datasets) AND e.fingerprint NOT IN (SELECT fingerprint FROM datasets)), "
        "(SELECT count(*) FROM kb_in_evaluations e WHERE e.config_id NOT IN "
        "   (SELECT config_id FROM kb_in_configurations) AND ('0x' || e.config_id)::UBIGINT NOT IN "
        "   (SELECT config_key FROM configurations)), "
        "(SELECT count(*) - count(DISTINCT (run_id, seq)) FROM kb_in_evaluations)").fetchall()[0]
    if problems[0] or problems[1] or problems[2]:
        raise ExchangeError(f"inconsistent input: {problems[0]} evaluation(s) of unknown datasets, "
                            f"{problems[1]} of unknown configurations, {problems[2]} duplicate (run_id, seq)")


def _upsert_datasets(con) -> None:
    """Update the stored datasets from the incoming ones (one row per fingerprint, the newest), insert the rest."""
    con.execute("""
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
            extra = CASE WHEN i.updated_at >= datasets.updated_at AND i.extra <> '{}' THEN i.extra
                         ELSE datasets.extra END,
            created_at = least(datasets.created_at, i.created_at),
            updated_at = greatest(datasets.updated_at, i.updated_at),
            lineage = coalesce(datasets.lineage, i.lineage)
        FROM kb_in_datasets i WHERE datasets.fingerprint = i.fingerprint""")
    con.execute("""
        INSERT INTO datasets (fingerprint, name, source, task, n_rows, n_features, metafeatures,
                              metafeatures_version, extra, created_at, updated_at, lineage)
        SELECT fingerprint, name, source, task, n_rows, n_features, metafeatures, metafeatures_version,
               extra, created_at, updated_at, lineage
        FROM kb_in_datasets i WHERE NOT EXISTS (SELECT 1 FROM datasets d WHERE d.fingerprint = i.fingerprint)
        ORDER BY created_at, fingerprint""")


def _insert_configurations(con) -> None:
    # an anti-join without a window function: a window here stops the filter pushdown (far slower)
    con.execute("""
        INSERT INTO configurations (config_key, config, family, space_version, created_at)
        SELECT key, config, family, space_version, created_at
        FROM (SELECT ('0x' || config_id)::UBIGINT AS key, * FROM kb_in_configurations) i
        WHERE NOT EXISTS (SELECT 1 FROM configurations c WHERE c.config_key = i.key)""")


def _insert_runs(con) -> None:
    con.execute("""
        INSERT INTO runs (run_id, kind, source, started_at, finished_at, budget_seconds, settings, versions,
                          fingerprint, n_evaluations, recorded_at)
        SELECT run_id, kind, source, started_at, finished_at, budget_seconds, settings, versions,
               fingerprint, n_evaluations, recorded_at FROM kb_in_runs""")


def _insert_evaluations(con, trusted: bool) -> None:
    """Insert the incoming evaluations; the family comes with the configuration: the incoming one, else
    (untrusted imports that refer to configurations already stored) the store's."""
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


def _count_ok_evaluations(con) -> None:
    """Add the incoming ``ok`` evaluations to ``dataset_metrics`` (per dataset and metric)."""
    added = ("(SELECT d.dataset_id, e.metric, count(*)::INTEGER AS n FROM kb_in_evaluations e "
             "JOIN datasets d ON d.fingerprint = e.fingerprint WHERE e.status = 'ok' GROUP BY ALL)")
    con.execute(f"UPDATE dataset_metrics SET n_ok = dataset_metrics.n_ok + a.n FROM {added} a "
                f"WHERE dataset_metrics.dataset_id = a.dataset_id AND dataset_metrics.metric = a.metric")
    con.execute(f"INSERT INTO dataset_metrics SELECT a.dataset_id, a.metric, a.n FROM {added} a "
                f"WHERE NOT EXISTS (SELECT 1 FROM dataset_metrics m WHERE m.dataset_id = a.dataset_id "
                f"AND m.metric = a.metric)")
