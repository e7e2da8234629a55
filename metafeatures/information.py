"""Information-theoretic meta-features on discretised columns and target (bits)."""
from __future__ import annotations

import numpy as np

from ._context import Context, discretised, target_bins


def _entropy(codes: np.ndarray) -> float:
    _, counts = np.unique(codes, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def _mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    joint = a.astype(np.int64) * (int(b.max()) + 1) + b
    return _entropy(a) + _entropy(b) - _entropy(joint)


def compute(ctx: Context) -> dict[str, float]:
    bins = discretised(ctx)
    t = target_bins(ctx)
    keep = t >= 0
    bins, t = bins[keep], t[keep]
    if bins.shape[1] == 0 or len(t) < 2:
        return {k: np.nan for k in ("attribute_entropy_mean", "mutual_information_mean", "mutual_information_max",
                                    "equivalent_n_features_log", "noise_to_signal")}
    h_attr = np.array([_entropy(bins[:, j]) for j in range(bins.shape[1])])
    mi = np.array([max(0.0, _mutual_information(bins[:, j], t)) for j in range(bins.shape[1])])
    h_y = _entropy(t)
    mi_mean = float(mi.mean())
    return {
        "attribute_entropy_mean": float(h_attr.mean()),
        "mutual_information_mean": mi_mean,
        "mutual_information_max": float(mi.max()),
        "equivalent_n_features_log": float(np.log10(1 + h_y / mi_mean)) if mi_mean > 1e-9 else np.nan,
        "noise_to_signal": float(min(1e3, (h_attr.mean() - mi_mean) / mi_mean)) if mi_mean > 1e-9 else np.nan,
    }
