"""Simple meta-features: sizes, column kinds, missing values, class balance (full scans, O(n d))."""
from __future__ import annotations

import numpy as np

from ._context import Context

NAMES = ("n_rows_log", "n_features_log", "features_per_row_log", "share_categorical", "share_missing_cells",
         "share_rows_with_missing", "share_columns_with_missing", "n_classes", "majority_share",
         "minority_share", "class_entropy", "class_balance", "target_skewness")


def _log10(v: float) -> float:
    return float(np.log10(v)) if v > 0 else np.nan


def compute(ctx: Context) -> dict[str, float]:
    n, d = ctx.n_rows, ctx.n_features
    out = dict.fromkeys(NAMES, np.nan)
    out["n_rows_log"] = _log10(n)
    out["n_features_log"] = _log10(d)
    out["features_per_row_log"] = _log10(d / n) if n > 0 and d > 0 else np.nan
    if d:
        out["share_categorical"] = float((~ctx.is_numeric).mean())
        if ctx.scan_rows:
            out["share_missing_cells"] = float(ctx.col_missing_share.mean())
            out["share_rows_with_missing"] = ctx.row_missing_share
            out["share_columns_with_missing"] = float((ctx.col_missing_share > 0).mean())
    if ctx.task == "regression":
        y = ctx.y_full[~np.isnan(ctx.y_full)]
        if len(y) >= 3:
            sd = y.std()
            scale = np.abs(y).max()
            out["target_skewness"] = float((((y - y.mean()) / sd) ** 3).mean()) if sd > 1e-12 * scale else 0.0
    elif ctx.is_classification:
        codes = ctx.y_full[ctx.y_full >= 0]
        if len(codes):
            counts = np.bincount(codes)
            counts = counts[counts > 0]
            p = counts / counts.sum()
            k = len(counts)
            entropy = float(-(p * np.log2(p)).sum())
            out.update({"n_classes": float(k), "majority_share": float(p.max()), "minority_share": float(p.min()),
                        "class_entropy": entropy, "class_balance": entropy / np.log2(k) if k > 1 else np.nan})
    return out
