"""Statistical meta-features on the seeded subsample: moments, correlation, outliers, cardinality."""
from __future__ import annotations

import warnings

import numpy as np

from ._context import Context


def _moments(num: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mu = np.nanmean(num, axis=0)
        sd = np.nanstd(num, axis=0)
        z = (num - mu) / np.where(sd > 0, sd, np.nan)
        skew = np.nanmean(z ** 3, axis=0)
        kurt = np.nanmean(z ** 4, axis=0) - 3.0
    ok = sd > 0
    return np.clip(skew[ok], -50, 50), np.clip(kurt[ok], -3, 500)


def compute(ctx: Context) -> dict[str, float]:
    num = ctx.num
    out = {}
    if num.shape[1]:
        skew, kurt = _moments(num)
        out["skewness_mean"] = float(np.mean(np.abs(skew))) if skew.size else 0.0
        out["skewness_max"] = float(np.max(np.abs(skew))) if skew.size else 0.0
        out["kurtosis_mean"] = float(np.mean(kurt)) if kurt.size else 0.0
        out["kurtosis_max"] = float(np.max(kurt)) if kurt.size else 0.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mu, sd = np.nanmean(num, axis=0), np.nanstd(num, axis=0)
            z = np.abs((num - mu) / np.where(sd > 0, sd, np.nan))
            out["outlier_share"] = float(np.nanmean(z > 3)) if np.isfinite(z).any() else 0.0
        varying = np.flatnonzero(np.nan_to_num(sd) > 0)
        if varying.size >= 2:
            cols = varying[:50]
            filled = np.where(np.isnan(num[:, cols]), mu[cols], num[:, cols])
            corr = np.corrcoef(filled, rowvar=False)
            iu = np.triu_indices_from(corr, k=1)
            vals = np.abs(corr[iu])
            out["mean_abs_correlation"] = float(np.nanmean(vals)) if vals.size else 0.0
            out["max_abs_correlation"] = float(np.nanmax(vals)) if vals.size else 0.0
        else:
            out["mean_abs_correlation"] = 0.0
            out["max_abs_correlation"] = 0.0
        out["share_binary_numeric"] = float(np.mean([len(np.unique(c[~np.isnan(c)])) <= 2 for c in num.T]))
    else:
        out.update({k: np.nan for k in ("skewness_mean", "skewness_max", "kurtosis_mean", "kurtosis_max",
                                        "outlier_share", "mean_abs_correlation", "max_abs_correlation",
                                        "share_binary_numeric")})
    cards = ctx.cardinalities
    if cards.size:
        out["cardinality_mean_log"] = float(np.mean(np.log10(1 + cards)))
        out["cardinality_max_log"] = float(np.log10(1 + cards.max()))
    else:
        out["cardinality_mean_log"] = 0.0
        out["cardinality_max_log"] = 0.0
    return out
