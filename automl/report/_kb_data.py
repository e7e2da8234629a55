"""Figure data about the knowledge base: datasets by task and size, the meta-feature map, winning families.

Pure functions from the store's tables to plain dicts and DataFrames; an empty or small store gives empty
data with the reason.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ._trial_data import number

SIZE_BUCKETS = [(0, 1_000, "< 1k rows"), (1_000, 10_000, "1k-10k rows"), (10_000, 100_000, "10k-100k rows"),
                (100_000, math.inf, ">= 100k rows")]


def size_bucket(n_rows: Any) -> str:
    n = number(n_rows)
    if math.isnan(n):
        return "unknown size"
    for low, high, label in SIZE_BUCKETS:
        if low <= n < high:
            return label
    return "unknown size"


def kb_overview(datasets: pd.DataFrame) -> pd.DataFrame:
    """Datasets counted by task (rows) and size bucket (columns), with totals."""
    order = [b[2] for b in SIZE_BUCKETS] + ["unknown size"]
    if datasets is None or datasets.empty:
        return pd.DataFrame(columns=order + ["total"])
    datasets = datasets.reset_index(drop=True)
    frame = pd.DataFrame({"task": datasets.get("task", pd.Series(["unknown"] * len(datasets))).fillna("unknown"),
                          "size": datasets.get("n_rows", pd.Series([None] * len(datasets))).map(size_bucket)})
    table = pd.crosstab(frame["task"], frame["size"])
    table = table.reindex(columns=[c for c in order if c in table.columns])
    table["total"] = table.sum(axis=1)
    table.index.name = "task"
    table.columns.name = None
    return table


def _robust_scaler(names: Sequence[str], matrix: np.ndarray):
    """The meta-feature package's robust scaling (the one the store's distances use), so the map agrees
    with the neighbours."""
    from metafeatures import RobustScaler
    return RobustScaler.fit(list(names), matrix)


def metafeature_map(datasets: pd.DataFrame, feature_names: Sequence[str], new: dict | None = None,
                    neighbours: Sequence[str] | None = None) -> dict:
    """A 2-D PCA map of the meta-feature space: one point per dataset, plus a new dataset when given.

    ``datasets``: one row per dataset with ``fingerprint``, ``task``, ``n_rows`` (optional ``name``) and the
    meta-feature columns ``feature_names``. ``new``: the new dataset's meta-features; ``neighbours``:
    fingerprints to highlight. Returns points, the new point, explained variance and the loadings' top
    meta-features per axis. Fewer than 3 datasets or usable meta-features give an empty map with a reason.
    """
    out: dict[str, Any] = {"points": [], "new": None, "explained": [], "axes": [[], []], "reason": None,
                           "neighbours": list(neighbours or [])}
    names = [f for f in feature_names if f in (datasets.columns if datasets is not None else [])]
    if datasets is None or len(datasets) < 3 or len(names) < 2:
        out["reason"] = (f"a map needs at least 3 datasets with meta-features; the knowledge base has "
                         f"{0 if datasets is None else len(datasets)}")
        return out
    values = datasets[names].apply(pd.to_numeric, errors="coerce").replace([np.inf, -np.inf], np.nan)
    scaler = _robust_scaler(names, values.to_numpy(dtype=float))
    Z = scaler.transform(values.to_numpy(dtype=float))
    varying = Z.std(axis=0) > 1e-12
    if varying.sum() < 2:
        out["reason"] = "fewer than two meta-features vary between the datasets"
        return out
    centre = Z.mean(axis=0)
    _, s, vt = np.linalg.svd(Z - centre, full_matrices=False)
    comps = vt[:2]
    comps = comps * np.where(comps[np.arange(2), np.abs(comps).argmax(axis=1)] < 0, -1.0, 1.0)[:, None]
    coords = (Z - centre) @ comps.T
    var = s ** 2
    out["explained"] = (var[:2] / var.sum()).tolist() if var.sum() > 0 else [0.0, 0.0]
    cols = list(names)
    out["axes"] = [[cols[j] for j in np.argsort(-np.abs(comps[a]))[:3]] for a in range(2)]
    neigh = set(out["neighbours"])
    records = datasets.reset_index(drop=True).reindex(columns=["fingerprint", "name", "task", "n_rows"])
    for i, rec in enumerate(records.astype(object).where(records.notna(), None).to_dict("records")):
        fp = rec.get("fingerprint")
        out["points"].append({"x": float(coords[i, 0]), "y": float(coords[i, 1]), "fingerprint": fp,
                              "name": rec.get("name"), "task": rec.get("task") or "unknown",
                              "n_rows": rec.get("n_rows"), "neighbour": fp in neigh})
    if new is not None:
        z = scaler.vector({c: number(new.get(c)) for c in names})
        xy = (z - centre) @ comps.T
        out["new"] = {"x": float(xy[0]), "y": float(xy[1])}
    return out


def winning_families(evaluations: pd.DataFrame, datasets: pd.DataFrame | None = None) -> pd.DataFrame:
    """The best family on each past dataset (finished evaluations at the highest fidelity, per metric).

    Returns one row per (dataset, metric): fingerprint, metric, family, score, task, size.
    """
    columns = ["fingerprint", "metric", "family", "score", "task", "size"]
    needed = {"fingerprint", "family", "loss"}
    if evaluations is None or evaluations.empty or not needed <= set(evaluations.columns):
        return pd.DataFrame(columns=columns)
    ev = evaluations.copy()
    if "status" in ev.columns:
        ev = ev[ev["status"].fillna("ok") == "ok"]
    ev["loss"] = pd.to_numeric(ev["loss"], errors="coerce")
    ev = ev[ev["loss"].notna()]
    if "metric" not in ev.columns:
        ev["metric"] = "unknown"
    if "fidelity" in ev.columns:
        ev["fidelity"] = pd.to_numeric(ev["fidelity"], errors="coerce").fillna(1.0)
        top = ev.groupby(["fingerprint", "metric"])["fidelity"].transform("max")
        ev = ev[np.isclose(ev["fidelity"], top)]
    if ev.empty:
        return pd.DataFrame(columns=columns)
    best = ev.loc[ev.groupby(["fingerprint", "metric"])["loss"].idxmin()]
    out = pd.DataFrame({"fingerprint": best["fingerprint"].to_numpy(), "metric": best["metric"].to_numpy(),
                        "family": best["family"].fillna("unknown").to_numpy(),
                        "score": pd.to_numeric(best["score"], errors="coerce").to_numpy()
                        if "score" in best.columns else np.nan})
    if datasets is not None and not datasets.empty and "fingerprint" in datasets.columns:
        info = datasets.drop_duplicates("fingerprint").set_index("fingerprint")
        out["task"] = out["fingerprint"].map(info["task"]) if "task" in info.columns else "unknown"
        out["size"] = out["fingerprint"].map(info["n_rows"]).map(size_bucket) if "n_rows" in info.columns \
            else "unknown size"
    else:
        out["task"], out["size"] = "unknown", "unknown size"
    out["task"] = out["task"].fillna("unknown")
    return out[columns].sort_values(["task", "fingerprint", "metric"], kind="stable").reset_index(drop=True)


def wins_table(wins: pd.DataFrame, by: str = "task") -> pd.DataFrame:
    """How many past datasets each family won, by ``task`` or ``size`` (families as rows)."""
    if wins is None or wins.empty:
        return pd.DataFrame()
    # one winner per dataset: when a dataset has several metrics, count each metric's winner once
    table = pd.crosstab(wins["family"], wins[by])
    if by == "size":
        order = [b[2] for b in SIZE_BUCKETS] + ["unknown size"]
        table = table.reindex(columns=[c for c in order if c in table.columns])
    table["total"] = table.sum(axis=1)
    table = table.sort_values("total", ascending=False, kind="stable")
    table.index.name = "family"
    table.columns.name = None
    return table
