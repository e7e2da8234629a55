"""Statistical meta-features on the seeded sample: moments, correlation, outliers, sparsity, cardinality.

"Usable" numeric columns have at least 2 known values and a non-zero spread; moments are population
moments (``scipy.stats.skew`` / ``kurtosis`` with ``bias=True``), missing cells ignored.
"""
from __future__ import annotations

import numpy as np

from ._context import Context

NAMES = ("skewness_mean", "skewness_max", "kurtosis_mean", "kurtosis_max", "outlier_share",
         "correlation_mean", "correlation_max", "pca_95_share", "share_binary_numeric", "share_zero_cells",
         "target_association_mean", "target_association_max", "cardinality_mean_log", "cardinality_max_log")


def _moments(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    m = ctx.num_moments
    z = ctx.standardised  # missing cells are 0 and add nothing to the sums
    cnt = m["count"][m["usable"]]
    skew = (z ** 3).sum(axis=0) / cnt
    kurt = (z ** 4).sum(axis=0) / cnt - 3.0
    return skew, kurt


def _correlation(ctx: Context) -> np.ndarray | None:
    """Pearson correlation between usable numeric columns (missing cells at the column mean)."""
    z = ctx.standardised
    if z.shape[1] < 2:
        return None
    norms = np.sqrt((z ** 2).sum(axis=0))
    zn = z / norms
    return np.clip(zn.T @ zn, -1.0, 1.0)


def _target_association(ctx: Context) -> np.ndarray | None:
    """Per usable numeric column, in [0, 1]: the correlation ratio eta (classification) or |Pearson r|
    with the target (regression), on rows with a known target (missing cells at the column mean)."""
    z = ctx.standardised
    known = ctx.y_known
    if z.shape[1] == 0 or known.sum() < 3:
        return None
    z = z[known]
    z = z - z.mean(axis=0)
    total = (z ** 2).sum(axis=0)
    if ctx.task == "regression":
        t = ctx.y[known]
        t = t - t.mean()
        tn = np.sqrt((t ** 2).sum())
        if tn <= 0:
            return None
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.abs(t @ z) / (tn * np.sqrt(total))
    else:
        masks = ctx.class_masks[known]
        masks = masks[:, masks.sum(axis=0) > 0]
        sizes = masks.sum(axis=0)
        class_means = (masks.T @ z) / sizes[:, None]
        between = (sizes[:, None] * class_means ** 2).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.sqrt(between / total)
    r = r[np.isfinite(r)]
    return np.clip(r, 0.0, 1.0) if r.size else None


def compute(ctx: Context) -> dict[str, float]:
    out = dict.fromkeys(NAMES, np.nan)
    num = ctx.num
    if num.shape[1]:
        m = ctx.num_moments
        ok = m["ok"]
        n_known = ok.sum()
        if n_known:
            out["share_zero_cells"] = float((num == 0).sum() / n_known)
            z = np.abs(ctx.standardised)
            out["outlier_share"] = float((z > 3).sum() / n_known)
        distinct = np.array([np.unique(c[~np.isnan(c)]).size for c in num.T])
        if (distinct > 0).any():
            out["share_binary_numeric"] = float(np.mean(distinct[distinct > 0] <= 2))
        if m["usable"].any():
            skew, kurt = _moments(ctx)
            out.update({"skewness_mean": float(np.abs(skew).mean()), "skewness_max": float(np.abs(skew).max()),
                        "kurtosis_mean": float(kurt.mean()), "kurtosis_max": float(kurt.max())})
        corr = _correlation(ctx)
        if corr is not None:
            vals = np.abs(corr[np.triu_indices_from(corr, k=1)])
            out["correlation_mean"] = float(vals.mean())
            out["correlation_max"] = float(vals.max())
            eig = np.clip(np.linalg.eigvalsh(corr)[::-1], 0.0, None)
            share = np.cumsum(eig) / eig.sum()
            out["pca_95_share"] = float((np.searchsorted(share, 0.95 - 1e-12) + 1) / len(eig))
        elif m["usable"].sum() == 1:
            out["pca_95_share"] = 1.0
        assoc = _target_association(ctx)
        if assoc is not None:
            out["target_association_mean"] = float(assoc.mean())
            out["target_association_max"] = float(assoc.max())
    cards = ctx.cardinalities
    if ctx.n_features:
        out["cardinality_mean_log"] = float(np.log10(1 + cards).mean()) if cards.size else 0.0
        out["cardinality_max_log"] = float(np.log10(1 + cards.max())) if cards.size else 0.0
    return out
