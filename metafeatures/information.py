"""Information-theoretic meta-features (bits) on the discretised sample columns and target.

Numeric columns: ``N_BINS`` equal-frequency bins (+1 bin for missing); categorical columns: the 19 most
frequent levels, "other" and missing; a regression target: ``N_BINS`` equal-frequency bins. Plug-in
(maximum-likelihood) entropies on rows with a known target, as pymfe and OpenML compute them.
"""
from __future__ import annotations

import numpy as np

from ._context import Context

NAMES = ("attribute_entropy_mean", "mutual_information_mean", "mutual_information_max",
         "equivalent_n_features_log", "noise_to_signal_log")


def _entropy_counts(counts: np.ndarray) -> float:
    counts = counts[counts > 0]
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def entropies(bins: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Per column H(x) and I(x; y) = H(x) + H(y) - H(x, y), and H(y); codes are small non-negative ints."""
    k_t = int(target.max()) + 1
    h_y = _entropy_counts(np.bincount(target))
    h_x = np.empty(bins.shape[1])
    mi = np.empty(bins.shape[1])
    for j in range(bins.shape[1]):
        col = bins[:, j]
        h_x[j] = _entropy_counts(np.bincount(col))
        h_xy = _entropy_counts(np.bincount(col * k_t + target))
        mi[j] = max(0.0, h_x[j] + h_y - h_xy)
    return h_x, mi, h_y


def compute(ctx: Context) -> dict[str, float]:
    out = dict.fromkeys(NAMES, np.nan)
    bins = ctx.bins
    if bins.shape[1] == 0:
        return out
    t = ctx.target_bins
    known = t >= 0
    if known.sum() < 2:
        return out
    h_x, mi, h_y = entropies(bins[known], t[known])
    mi_mean = float(mi.mean())
    out["attribute_entropy_mean"] = float(h_x.mean())
    out["mutual_information_mean"] = mi_mean
    out["mutual_information_max"] = float(mi.max())
    if mi_mean > 1e-12:
        out["equivalent_n_features_log"] = float(np.log10(1.0 + h_y / mi_mean))
        out["noise_to_signal_log"] = float(np.log10(1.0 + max(0.0, h_x.mean() - mi_mean) / mi_mean))
    return out
