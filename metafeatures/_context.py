"""Shared intermediates computed once per dataset: subsample, numeric matrix, category codes, bins."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

STATS_ROWS = 2_000
LANDMARK_ROWS = 600
MAX_COLUMNS = 100
N_BINS = 10
SEED = 0


@dataclass
class Context:
    X: pd.DataFrame
    y_raw: np.ndarray
    task: str
    n_rows: int
    n_features: int
    is_cat: np.ndarray
    sample: np.ndarray  # row indices of the seeded subsample
    num: np.ndarray  # subsample x numeric columns (float, NaN for missing/inf)
    cat_codes: np.ndarray  # subsample x categorical columns (int codes, -1 missing)
    cardinalities: np.ndarray
    y: np.ndarray  # subsample target: codes (classification) or floats (regression)
    y_codes_full: np.ndarray | None  # full target codes (classification)
    extra: dict = field(default_factory=dict)


def _is_categorical(s: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s))


def build(X, y, task: str) -> Context:
    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(np.asarray(X))
    y = np.asarray(y)
    n, d = X.shape
    rng = np.random.default_rng(SEED)
    sample = np.sort(rng.choice(n, STATS_ROWS, replace=False)) if n > STATS_ROWS else np.arange(n)
    is_cat = np.array([_is_categorical(X[c]) for c in X.columns], dtype=bool)
    cols = np.arange(d)
    if d > MAX_COLUMNS:  # a seeded column subsample bounds the cost on wide tables
        cols = np.sort(rng.choice(d, MAX_COLUMNS, replace=False))
    sub = X.iloc[sample, cols]
    sub_is_cat = is_cat[cols]
    num_cols = [c for c, cat in zip(sub.columns, sub_is_cat) if not cat]
    cat_cols = [c for c, cat in zip(sub.columns, sub_is_cat) if cat]
    if num_cols:
        num = np.array(sub[num_cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float, na_value=np.nan))
        num[~np.isfinite(num)] = np.nan
    else:
        num = np.empty((len(sample), 0))
    codes, cards = [], []
    for c in cat_cols:
        s = sub[c].astype("string")
        c_codes, uniques = pd.factorize(s, use_na_sentinel=True)
        codes.append(c_codes)
    for c in X.columns[is_cat]:
        cards.append(X[c].nunique(dropna=True))
    cat_codes = np.column_stack(codes) if codes else np.empty((len(sample), 0), dtype=int)
    y_codes_full = None
    if task == "regression":
        ys = pd.to_numeric(pd.Series(y[sample]), errors="coerce").to_numpy(dtype=float)
    else:
        y_codes_full = pd.factorize(pd.Series(y).astype("string"), use_na_sentinel=True)[0]
        ys = y_codes_full[sample]
    return Context(X=X, y_raw=y, task=task, n_rows=n, n_features=d, is_cat=is_cat, sample=sample, num=num,
                   cat_codes=cat_codes, cardinalities=np.asarray(cards, dtype=float), y=ys,
                   y_codes_full=y_codes_full)


def discretised(ctx: Context) -> np.ndarray:
    """Every column of the subsample as small integer bins (numeric: quantiles; missing: its own bin)."""
    if "bins" in ctx.extra:
        return ctx.extra["bins"]
    parts = []
    for j in range(ctx.num.shape[1]):
        col = ctx.num[:, j]
        ok = ~np.isnan(col)
        out = np.full(len(col), N_BINS, dtype=int)
        if ok.sum() > 1:
            edges = np.unique(np.nanquantile(col[ok], np.linspace(0, 1, N_BINS + 1)[1:-1]))
            out[ok] = np.searchsorted(edges, col[ok], side="right")
        parts.append(out)
    for j in range(ctx.cat_codes.shape[1]):
        codes = ctx.cat_codes[:, j].copy()
        codes = np.where(codes >= 0, np.minimum(codes, 2 * N_BINS), 2 * N_BINS + 1)
        parts.append(codes)
    ctx.extra["bins"] = np.column_stack(parts) if parts else np.empty((len(ctx.sample), 0), dtype=int)
    return ctx.extra["bins"]


def target_bins(ctx: Context) -> np.ndarray:
    if ctx.task != "regression":
        return np.where(ctx.y >= 0, ctx.y, -1)
    y = ctx.y
    ok = ~np.isnan(y)
    out = np.full(len(y), -1)
    if ok.sum() > 1:
        edges = np.unique(np.nanquantile(y[ok], np.linspace(0, 1, N_BINS + 1)[1:-1]))
        out[ok] = np.searchsorted(edges, y[ok], side="right")
    return out


def model_matrix(ctx: Context, rows: int = LANDMARK_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """Imputed numeric columns plus category codes, on at most ``rows`` rows (for landmarkers)."""
    X = np.hstack([ctx.num, ctx.cat_codes.astype(float)]) if ctx.cat_codes.size else ctx.num.copy()
    y = ctx.y
    keep = ~np.isnan(y) if ctx.task == "regression" else y >= 0
    X, y = X[keep], y[keep]
    if len(y) > rows:
        idx = np.random.default_rng(SEED).choice(len(y), rows, replace=False)
        X, y = X[idx], y[idx]
    if X.shape[1]:
        med = np.nanmedian(np.where(np.isnan(X), np.nan, X), axis=0)
        med = np.where(np.isnan(med), 0.0, med)
        X = np.where(np.isnan(X), med, X)
    return X, y
