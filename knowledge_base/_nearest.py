"""The SQL side of retrieval: the stored datasets nearest to a query, and their ``ok`` evaluations.

Distances are computed in DuckDB over the scaled vectors of the query's meta-feature version only
(``_vectors``); the ranking of configurations is pure Python (``_retrieval``). A query whose version
has no scaler yet finds nothing.
"""
from __future__ import annotations

import logging
import math
from typing import Iterable

import numpy as np

from . import _retrieval as R
from ._vectors import current_metafeatures_version, load_scaler
from .records import DEFAULT_METRICS, Neighbour

log = logging.getLogger("automl.kb")

# One pass over the distances: the nearest datasets of the task (``which`` 0), the nearest with ``ok`` scores
# under the metric (1) and under the task's default metric (2), each counting a lineage once (its nearest
# copy; a dataset without a lineage is its own); 1 and 2 leave the query's lineage out, which comes whole
# (every version with scores, nearest first) as 3 and 4.
_SETS_SQL = """
    WITH c AS MATERIALIZED (
        SELECT d.dataset_id, d.fingerprint, d.name, d.source, d.task, d.n_rows, d.n_features, d.lineage,
               list_distance(v.vec, ?::FLOAT[]) AS dist,
               d.dataset_id IN (SELECT dataset_id FROM dataset_metrics WHERE metric = ? AND n_ok > 0) AS m1,
               d.dataset_id IN (SELECT dataset_id FROM dataset_metrics WHERE metric = ? AND n_ok > 0) AS m2,
               coalesce(d.lineage = ?, FALSE) AS own,
               coalesce(d.lineage, d.fingerprint) AS copies
        FROM vectors v JOIN datasets d USING (dataset_id)
        WHERE v.scaler_id = ? AND d.task = ? AND d.fingerprint IS DISTINCT FROM ?
          AND NOT list_contains(?::VARCHAR[], coalesce(d.name, ''))),
    once AS (SELECT *, row_number() OVER (PARTITION BY copies ORDER BY dist, fingerprint) AS r0,
                    row_number() OVER (PARTITION BY copies, m1 ORDER BY dist, fingerprint) AS r1,
                    row_number() OVER (PARTITION BY copies, m2 ORDER BY dist, fingerprint) AS r2 FROM c)
    SELECT * FROM (SELECT *, 0 AS which FROM once WHERE r0 = 1 ORDER BY dist, fingerprint LIMIT ?)
    UNION ALL SELECT * FROM (SELECT *, 1 AS which FROM once WHERE m1 AND r1 = 1 AND NOT own
                             ORDER BY dist, fingerprint LIMIT ?)
    UNION ALL SELECT * FROM (SELECT *, 2 AS which FROM once WHERE m2 AND r2 = 1 AND NOT own
                             ORDER BY dist, fingerprint LIMIT ?)
    UNION ALL SELECT * FROM (SELECT *, 3 AS which FROM once WHERE m1 AND own ORDER BY dist, fingerprint LIMIT ?)
    UNION ALL SELECT * FROM (SELECT *, 4 AS which FROM once WHERE m2 AND own ORDER BY dist, fingerprint LIMIT ?)"""

Pairs = list[tuple[int, Neighbour]]  # (internal dataset id, neighbour), nearest first


def _default_version(con) -> str | None:
    version = current_metafeatures_version()
    if version is not None:
        return version
    rows = con.execute("SELECT metafeatures_version FROM scalers ORDER BY scaler_id DESC LIMIT 1").fetchall()
    return rows[0][0] if rows else None


class Query:
    """One retrieval: the scaler of the query's meta-feature version and the scaled query vector."""

    def __init__(self, con, metafeatures: dict, version: str | None) -> None:
        version = str(version) if version is not None else _default_version(con)
        self.scaler = load_scaler(con, version) if version is not None else None
        self.vector = self.scaler.vector(metafeatures).tolist() if self.scaler is not None else []

    def nearest(self, con, task: str, k: int, exclude_fingerprint: str | None,
                exclude_names: Iterable[str]) -> list[Neighbour]:
        """The ``k`` nearest datasets of ``task``, one per lineage, nearest first."""
        return [nb for _, nb in self.sets(con, task, k, 0, exclude_fingerprint, exclude_names, None, None)[0]]

    def sets(self, con, task: str, k_all: int, k: int, exclude_fingerprint: str | None,
             exclude_names: Iterable[str], metric: str | None, default: str | None,
             lineage: str | None = None) -> tuple[Pairs, Pairs, Pairs, Pairs, Pairs]:
        """In one pass over the distances (``_SETS_SQL``): the ``k_all`` nearest, the ``k`` nearest of other
        lineages with ``ok`` scores under ``metric`` and under ``default``, and up to ``k`` datasets of
        ``lineage`` with such scores."""
        sets: tuple[Pairs, Pairs, Pairs, Pairs, Pairs] = ([], [], [], [], [])
        if self.scaler is None or max(k_all, k) <= 0:
            return sets
        rows = con.execute(_SETS_SQL, [self.vector, metric, default, lineage, self.scaler.scaler_id, task,
                                       exclude_fingerprint, [str(x) for x in exclude_names], int(k_all), int(k),
                                       int(k), int(k), int(k)]).fetchall()
        dim = math.sqrt(max(1, len(self.vector)))
        for did, fp, name, source, task_, n_rows, n_features, lin, dist, *_, which in rows:
            distance = float(dist) / dim
            sets[which].append((int(did), Neighbour(fingerprint=fp, name=name, source=source, task=task_,
                                                    n_rows=int(n_rows or 0), n_features=int(n_features or 0),
                                                    distance=distance, similarity=R.similarity(distance),
                                                    lineage=lin)))
        return sets


def material(con, metafeatures: dict, task: str, metric: str, k: int, k_all: int, exclude_fingerprint: str | None,
             version: str | None, exclude_names: Iterable[str], lineage: str | None = None
             ) -> tuple[list[Neighbour], R.Material | None, R.Material | None]:
    """``(the k_all nearest, material of other lineages or None, material of the query's lineage or None)``
    for one query, in three statements.

    The first material's neighbours are the ``k`` nearest of other lineages with ``ok`` scores under
    ``metric``, else (none has any) under the task's default metric; the second's are the stored versions
    of ``lineage`` (the fit's own history), under the same choice of metric.
    """
    query = Query(con, metafeatures, version)
    default = DEFAULT_METRICS.get(task, metric)
    everyone, first, second, own_first, own_second = query.sets(con, task, k_all, k, exclude_fingerprint,
                                                                exclude_names, metric, default, lineage)
    used, neighbours, own = metric, first, own_first
    if not first and not own_first and (second or own_second) and default != metric:
        used, neighbours, own = default, second, own_second
        log.info("no similar dataset has %s evaluations; warm start uses %s scores", metric, default)
    return ([nb for _, nb in everyone], _material(con, task, metric, used, neighbours),
            _material(con, task, metric, used, own))


def _material(con, task: str, requested: str, used: str, neighbours: Pairs) -> R.Material | None:
    """The neighbours' ``ok`` evaluations under ``used``, normalised per dataset and scheme; None without any."""
    if not neighbours:
        return None
    obs, protocols = _observations(con, [did for did, _ in neighbours], used)
    if not len(obs):
        return None
    obs.normalised = R.normalise(R.comparable_groups(obs.dataset, protocols), obs.loss)
    return R.Material(task, requested, used, neighbours, obs)


def _observations(con, dataset_ids: list[int], metric: str) -> tuple[R.Observations, np.ndarray]:
    """The ``ok`` evaluations with a finite loss of these datasets under ``metric``, and each one's
    validation protocol (losses are normalised per dataset and scheme)."""
    cols = con.execute(
        "SELECT dataset_id, config_key, family, fidelity, loss, fit_seconds, protocol FROM evaluations "
        "WHERE dataset_id IN (SELECT unnest(?::INTEGER[])) AND metric = ? AND status = 'ok' "
        "AND loss IS NOT NULL AND isfinite(loss)", [dataset_ids, metric]).fetchnumpy()
    obs = R.Observations(np.asarray(cols["dataset_id"], dtype=np.int64), np.asarray(cols["config_key"]),
                         np.asarray(cols["family"], dtype=object), np.asarray(cols["fidelity"], dtype=float),
                         np.asarray(cols["loss"], dtype=float), seconds=np.asarray(cols["fit_seconds"], dtype=float))
    return obs, cols["protocol"]


def config_texts(con, keys: Iterable[int]) -> dict[int, str]:
    """Configuration key -> canonical JSON text, for the keys that are stored."""
    keys = sorted(set(keys))
    if not keys:
        return {}
    return {int(k): t for k, t in con.execute("SELECT config_key, config FROM configurations WHERE config_key IN "
                                              "(SELECT unnest(?::UBIGINT[]))", [keys]).fetchall()}
