"""Scaled meta-feature vectors for nearest-neighbour search, and when the scaler is refitted.

Scaling is ``metafeatures.scaling.RobustScaler`` (median / IQR, clipped, NaN -> 0), fitted on the
stored datasets of one ``metafeatures_version`` and kept in the ``scalers`` table; ``vectors`` holds
one ``FLOAT[]`` per dataset, scaled by the newest scaler of its version. Datasets of another
meta-feature version than the query are never compared (the refresh job recomputes them).

Refit policy (inside the writing transaction): a version's scaler is refitted, and all of that
version's vectors rewritten, when it has none yet, while the population is small (fewer than
``SMALL_POPULATION`` datasets: every new dataset), or once the population has grown by
``REFIT_GROWTH`` (25 %) since the last fit. In between, new datasets are scaled with the current
scaler. A new ``METAFEATURES_VERSION`` starts its own scaler from its first dataset.

Distance: Euclidean over the scaled vector divided by ``sqrt(dimension)`` (``metafeatures.distance``).
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ._exchange import now_utc, parse_metafeatures

log = logging.getLogger("automl.kb")

REFIT_GROWTH = 1.25
SMALL_POPULATION = 50


@dataclass(frozen=True)
class Scaler:
    scaler_id: int
    version: str
    n_fitted: int
    model: object  # metafeatures.scaling.RobustScaler

    @property
    def names(self) -> list[str]:
        return list(self.model.names)

    def vector(self, metafeatures: dict) -> np.ndarray:
        return np.asarray(self.model.vector(metafeatures), dtype=np.float32)

    def transform(self, rows: list[dict]) -> np.ndarray:
        matrix = [[row.get(n, math.nan) for n in self.model.names] for row in rows]
        return np.asarray(self.model.transform(np.asarray(matrix, dtype=float).reshape(len(rows), -1)),
                          dtype=np.float32)


def _scaler_class():
    from metafeatures.scaling import RobustScaler
    return RobustScaler


def current_metafeatures_version() -> str | None:
    try:
        import metafeatures
    except Exception:  # pragma: no cover - the package ships with this one
        return None
    return str(metafeatures.METAFEATURES_VERSION)


def _feature_names(version: str, rows: list[dict]) -> list[str]:
    try:
        import metafeatures
        if str(metafeatures.METAFEATURES_VERSION) == version:
            return list(metafeatures.FEATURE_NAMES)
    except Exception:  # pragma: no cover
        pass
    names: dict[str, None] = {}
    for row in rows:  # first-seen order over the population
        for key in row:
            names.setdefault(key, None)
    return list(names)


def load_scaler(con, version: str, with_population: bool = False):
    """The newest scaler of ``version`` (None if none); with ``with_population``: ``(scaler, n_datasets)``."""
    if with_population:
        rows = con.execute("SELECT s.scaler_id, s.params, s.n_fitted, (SELECT count(*) FROM datasets "
                           "WHERE metafeatures_version = ?) FROM (SELECT 1) LEFT JOIN (SELECT * FROM scalers "
                           "WHERE metafeatures_version = ? ORDER BY scaler_id DESC LIMIT 1) s ON TRUE",
                           [version, version]).fetchall()
    else:
        rows = con.execute("SELECT scaler_id, params, n_fitted, 0 FROM scalers WHERE metafeatures_version = ? "
                           "ORDER BY scaler_id DESC LIMIT 1", [version]).fetchall()
    scaler = None
    if rows and rows[0][0] is not None:
        scaler_id, params, n_fitted, _ = rows[0]
        scaler = Scaler(int(scaler_id), version, int(n_fitted), _scaler_class().from_json(json.loads(params)))
    if with_population:
        return scaler, int(rows[0][3]) if rows else 0
    return scaler


def _needs_refit(scaler: Scaler | None, population: int) -> bool:
    if scaler is None:
        return population > 0
    if population <= scaler.n_fitted:
        return False
    return scaler.n_fitted < SMALL_POPULATION or population >= REFIT_GROWTH * scaler.n_fitted


def _write_vectors(con, ids: list[int], scaler_id: int, matrix: np.ndarray) -> None:
    if not ids:
        return
    dim = matrix.shape[1]
    flat = pa.array(np.ascontiguousarray(matrix, dtype=np.float32).ravel(), pa.float32())
    vec = pa.FixedSizeListArray.from_arrays(flat, dim).cast(pa.list_(pa.float32())) if dim else \
        pa.array([[] for _ in ids], pa.list_(pa.float32()))
    table = pa.table({"dataset_id": pa.array(ids, pa.int32()), "scaler_id": pa.array([scaler_id] * len(ids),
                                                                                     pa.int32()), "vec": vec})
    con.register("kb_new_vectors", table)
    try:
        con.execute("INSERT INTO vectors SELECT dataset_id, scaler_id, vec FROM kb_new_vectors")
    finally:
        con.unregister("kb_new_vectors")


def refresh_vectors(con, fingerprints: list[str] | None = None) -> int:
    """(Re)compute vectors for ``fingerprints`` (all datasets when None), refitting scalers per the policy.

    Runs inside the caller's transaction. Returns the number of vectors written.
    """
    if fingerprints is not None and not fingerprints:
        return 0
    if fingerprints is None:
        con.execute("DELETE FROM vectors")
        versions = [r[0] for r in con.execute("SELECT DISTINCT metafeatures_version FROM datasets").fetchall()]
        wanted = None
    else:
        rows = con.execute("SELECT dataset_id, metafeatures_version FROM datasets "
                           "WHERE fingerprint IN (SELECT unnest(?::VARCHAR[]))", [list(fingerprints)]).fetchall()
        wanted = [int(r[0]) for r in rows]
        con.execute("DELETE FROM vectors WHERE dataset_id IN (SELECT unnest(?::INTEGER[]))", [wanted])
        versions = sorted({r[1] for r in rows})
    try:
        _scaler_class()
    except Exception as exc:  # pragma: no cover - without meta-features nothing can be compared
        log.error("meta-feature scaling unavailable (%s): similar-dataset search disabled until it is", exc)
        return 0
    written = 0
    for version in versions:
        scaler, population = load_scaler(con, version, with_population=True)
        if _needs_refit(scaler, population):
            rows = con.execute("SELECT dataset_id, metafeatures FROM datasets WHERE metafeatures_version = ? "
                               "ORDER BY dataset_id", [version]).fetchall()
            ids = [int(r[0]) for r in rows]
            values = [parse_metafeatures(r[1]) for r in rows]
            names = _feature_names(version, values)
            matrix = np.asarray([[v.get(n, math.nan) for n in names] for v in values], dtype=float).reshape(
                len(values), len(names))
            model = _scaler_class().fit(names, matrix)
            new_id = con.execute("SELECT coalesce(max(scaler_id), 0) + 1 FROM scalers").fetchall()[0][0]
            con.execute("INSERT INTO scalers VALUES (?, ?, ?, ?, ?)",
                        [int(new_id), version, json.dumps(model.to_json()), len(ids), now_utc()])
            scaler = Scaler(int(new_id), version, len(ids), model)
            con.execute("DELETE FROM vectors WHERE dataset_id IN (SELECT dataset_id FROM datasets "
                        "WHERE metafeatures_version = ?)", [version])
            _write_vectors(con, ids, scaler.scaler_id, scaler.transform(values))
            log.debug("meta-feature scaler for version %s refitted on %d dataset(s)", version, len(ids))
            written += len(ids)
            continue
        if scaler is None:
            continue
        if wanted is None:
            rows = con.execute("SELECT dataset_id, metafeatures FROM datasets WHERE metafeatures_version = ?",
                               [version]).fetchall()
        else:
            rows = con.execute("SELECT dataset_id, metafeatures FROM datasets WHERE metafeatures_version = ? "
                               "AND dataset_id IN (SELECT unnest(?::INTEGER[]))", [version, wanted]).fetchall()
        values = [parse_metafeatures(r[1]) for r in rows]
        _write_vectors(con, [int(r[0]) for r in rows], scaler.scaler_id, scaler.transform(values))
        written += len(rows)
    return written


__all__ = ["Scaler", "load_scaler", "refresh_vectors", "current_metafeatures_version", "REFIT_GROWTH",
           "SMALL_POPULATION"]
