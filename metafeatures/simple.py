"""Simple meta-features: sizes, column types, missing values, class balance."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ._context import Context


def compute(ctx: Context) -> dict[str, float]:
    n, d = ctx.n_rows, ctx.n_features
    cells_missing = float(ctx.X.isna().to_numpy().mean()) if d else 0.0
    rows_missing = float(ctx.X.isna().any(axis=1).mean()) if d else 0.0
    out = {
        "n_rows_log": float(np.log10(max(n, 1))),
        "n_features_log": float(np.log10(max(d, 1))),
        "features_per_row_log": float(np.log10(max(d, 1) / max(n, 1))),
        "share_categorical": float(ctx.is_cat.mean()) if d else 0.0,
        "share_missing_cells": cells_missing,
        "share_rows_with_missing": rows_missing,
    }
    if ctx.task == "regression":
        out.update({"n_classes": np.nan, "majority_share": np.nan, "minority_share": np.nan,
                    "class_entropy": np.nan})
        y = pd.to_numeric(pd.Series(ctx.y_raw), errors="coerce").to_numpy(dtype=float)
        y = y[np.isfinite(y)]
        sd = y.std() if len(y) > 1 else 0.0
        out["target_skewness"] = float(np.clip(((y - y.mean()) ** 3).mean() / sd ** 3, -50, 50)) if sd > 0 else 0.0
        return out
    codes = ctx.y_codes_full[ctx.y_codes_full >= 0]
    counts = np.bincount(codes) if len(codes) else np.array([1])
    p = counts / counts.sum()
    out.update({
        "n_classes": float(len(counts)),
        "majority_share": float(p.max()),
        "minority_share": float(p.min()),
        "class_entropy": float(-(p[p > 0] * np.log2(p[p > 0])).sum()),
        "target_skewness": np.nan,
    })
    return out
