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

# the nearest datasets of the task (``which`` 0), and the nearest with ``ok`` scores under the metric
# (1) and under the task's default metric (2), in one pass over the distances
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
        """The ``k`` nearest datasets of ``task``, nearest first."""
        return [nb for _, nb in self.sets(con, task, k, 0, exclude_fingerprint, exclude_names, None, None)[0]]

    def sets(self, con, task: str, k_all: int, k: int, exclude_fingerprint: str | None,
             exclude_names: Iterable[str], metric: str | None, default: str | None) -> tuple[Pairs, Pairs, Pairs]:
        """In one pass over the distances: the ``k_all`` nearest, and the ``k`` nearest with ``ok`` scores
        under ``metric`` and under ``default``."""
        if self.scaler is None or max(k_all, k) <= 0:
            return [], [], []
        rows = con.execute(_SETS_SQL, [self.vector, metric, default, self.scaler.scaler_id, task, exclude_fingerprint,
                                       [str(x) for x in exclude_names], int(k_all), int(k), int(k)]).fetchall()
        dim = math.sqrt(max(1, len(self.vector)))
        sets: tuple[Pairs, Pairs, Pairs] = ([], [], [])
        for did, fp, name, source, task_, n_rows, n_features, dist, _, _, which in rows:
            distance = float(dist) / dim
            sets[which].append((int(did), Neighbour(fingerprint=fp, name=name, source=source, task=task_,
                                                    n_rows=int(n_rows or 0), n_features=int(n_features or 0),
                                                    distance=distance, similarity=R.similarity(distance))))
        return sets


def material(con, metafeatures: dict, task: str, metric: str, k: int, k_all: int, exclude_fingerprint: str | None,
             version: str | None, exclude_names: Iterable[str]) -> tuple[list[Neighbour], R.Material | None]:
    """``(the k_all nearest, material or None)`` for one query, in two statements.

    The material's neighbours are the ``k`` nearest with ``ok`` scores under ``metric``, else (none has
    any) under the task's default metric.
    """
    query = Query(con, metafeatures, version)
    default = DEFAULT_METRICS.get(task, metric)
    everyone, first, second = query.sets(con, task, k_all, k, exclude_fingerprint, exclude_names, metric, default)
    used, neighbours = metric, first
    if not first and second and default != metric:
        used, neighbours = default, second
        log.info("no similar dataset has %s evaluations; warm start uses %s scores", metric, default)
    obs, protocols = _observations(con, [did for did, _ in neighbours], used) if neighbours else (None, None)
    if obs is None or not len(obs):
        return [nb for _, nb in everyone], None
    obs.normalised = R.normalise(R.comparable_groups(obs.dataset, protocols), obs.loss)
    return [nb for _, nb in everyone], R.Material(task, metric, used, neighbours, obs)


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
