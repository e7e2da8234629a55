"""Shared intermediates, computed once per dataset and reused by every group.

Everything that costs more than O(rows) is computed on seeded subsamples so the total cost is bounded:

- class counts read every target value; missing-cell counts read every row up to ``SCAN_ROWS``
  rows, beyond that a seeded sample of ``SCAN_ROWS`` rows; categorical levels are counted on those
  rows while the categorical cells number at most ``CARDINALITY_CELLS``, beyond that on a seeded
  sample of ``CARDINALITY_CELLS / categorical columns`` rows (at least ``STATS_ROWS``), a lower bound;
- statistical and information-theoretic features use a seeded sample of ``STATS_ROWS`` rows and at
  most ``MAX_COLUMNS`` columns (a seeded column sample on wider tables);
- landmarkers use ``LANDMARK_ROWS`` of those rows (only rows whose target is known).

Column kinds: a column is numeric when its dtype is numeric, boolean (0/1) or datetime/duration
(integer ticks); every other column (``category``, object, string) is categorical. In numeric
columns +-inf is treated as missing for statistics (but the missing-value shares count only real
missing cells, as pandas ``isna`` does). Categorical levels are ranked by frequency in the sample
(0 = most frequent).
"""
from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

SEED = 0
SCAN_ROWS = 200_000
CARDINALITY_CELLS = 2_000_000  # categorical cells read to count levels (exact up to that many)
STATS_ROWS = 5_000
LANDMARK_ROWS = 2_000
MAX_COLUMNS = 200
N_BINS = 10  # equal-frequency bins for numeric columns (and a regression target)
MAX_LEVELS = 20  # categorical levels kept when discretising: the 19 most frequent + "other"
TASKS = ("binary", "multiclass", "regression")  # the tasks of the whole product; every layer imports these


def _as_frame(X) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        frame = X
    elif isinstance(X, pd.Series):
        frame = X.to_frame()
    else:
        arr = np.asarray(X)
        frame = pd.DataFrame(arr.reshape(len(arr), -1) if arr.ndim != 2 else arr)
    # positional labels: duplicate or odd column names never matter
    return frame.set_axis(range(frame.shape[1]), axis=1)


COLUMN_BLOCK = 256  # columns per block when counting missing cells (bounds the temporary bool matrix)


def _is_numeric(dt) -> bool:
    return bool(pd.api.types.is_bool_dtype(dt) or pd.api.types.is_numeric_dtype(dt)
                or pd.api.types.is_datetime64_any_dtype(dt) or pd.api.types.is_timedelta64_dtype(dt))


def _numeric_values(s: pd.Series) -> np.ndarray:
    """A numeric column as float64 with NaN for missing and +-inf."""
    dt = s.dtype
    if pd.api.types.is_datetime64_any_dtype(dt) or pd.api.types.is_timedelta64_dtype(dt):
        if isinstance(dt, pd.DatetimeTZDtype):
            s = s.dt.tz_convert(None)
        vals = s.to_numpy().view("int64").astype(float)  # ticks of the column's unit
        vals[s.isna().to_numpy()] = np.nan
        return vals
    try:
        vals = s.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        vals = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    vals = np.array(vals, dtype=float, copy=True)
    vals[~np.isfinite(vals)] = np.nan
    return vals


def _level_codes(s: pd.Series) -> tuple[np.ndarray, int]:
    """Categorical column -> int codes ranked by frequency (0 = most frequent, -1 = missing), levels."""
    try:
        codes, _ = pd.factorize(s, use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists, dicts): compare their text
        codes, _ = pd.factorize(s.map(lambda v: v if pd.isna(v) is True else repr(v)), use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.int64)
    ok = codes >= 0
    if not ok.any():
        return codes, 0
    counts = np.bincount(codes[ok])
    order = np.argsort(-counts, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    out = np.full(len(codes), -1, dtype=np.int64)
    out[ok] = rank[codes[ok]]
    return out, int((counts > 0).sum())


_STREAMS = {"scan": 1, "cardinality": 2, "rows": 3, "columns": 4, "landmark": 5}


def sample_rows(n: int, cap: int, purpose: str) -> np.ndarray | None:
    """Sorted seeded sample of ``cap`` of ``n`` positions (None when ``n <= cap``: take all).

    Each purpose draws from its own fixed-seed stream, so one sample never shifts another.
    """
    if n <= cap:
        return None
    rng = np.random.default_rng([SEED, _STREAMS[purpose]])
    return np.sort(rng.choice(n, cap, replace=False))


def quantile_bins(col: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """Equal-frequency bins 0..n_bins-1 of a float column (NaN -> n_bins).

    Edges are the unique inner quantiles and a value equal to an edge falls in the lower bin (as
    ``np.digitize(right=True)``, pymfe's rule), so discrete columns keep one bin per value when
    they have at most ``n_bins`` values.
    """
    out = np.full(len(col), n_bins, dtype=np.int64)
    ok = ~np.isnan(col)
    if ok.any():
        vals = col[ok]
        edges = np.unique(np.quantile(vals, np.linspace(0, 1, n_bins + 1)[1:-1]))
        out[ok] = np.searchsorted(edges, vals, side="left")
    return out


def _missing_shares(scanned: pd.DataFrame) -> tuple[np.ndarray, float]:
    """Share of missing cells per column and share of rows with a missing cell, ``COLUMN_BLOCK`` columns at a time."""
    d = scanned.shape[1]
    row_any = np.zeros(len(scanned), dtype=bool)
    col_missing = np.zeros(d)
    for a in range(0, d, COLUMN_BLOCK):
        m = scanned.iloc[:, a:a + COLUMN_BLOCK].isna().to_numpy(dtype=bool)
        col_missing[a:a + COLUMN_BLOCK] = m.sum(axis=0)
        row_any |= m.any(axis=1)
    return col_missing / max(1, len(scanned)), float(row_any.mean()) if len(scanned) and d else 0.0


def _cardinalities(scanned: pd.DataFrame, cat_idx: np.ndarray) -> np.ndarray:
    """Distinct levels per categorical column, on at most ``CARDINALITY_CELLS`` cells in all."""
    cards = []
    if cat_idx.size:
        keep = sample_rows(len(scanned), max(STATS_ROWS, CARDINALITY_CELLS // cat_idx.size), "cardinality")
        counted = scanned.iloc[:, cat_idx] if keep is None else scanned.iloc[keep, cat_idx]
        for k in range(cat_idx.size):
            s = counted.iloc[:, k]
            try:
                cards.append(s.nunique(dropna=True))
            except TypeError:  # unhashable cells
                cards.append(s.map(repr).where(s.notna()).nunique(dropna=True))
    return np.asarray(cards, dtype=float)


def _target_codes(y_ser: pd.Series, task: str | None) -> np.ndarray | None:
    """The target on every row: class codes (-1 unknown) or floats (NaN unknown); None for an unknown task."""
    if task == "regression":
        yf = pd.to_numeric(y_ser, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        yf = np.array(yf, dtype=float)
        yf[~np.isfinite(yf)] = np.nan
        return yf
    if task is not None:
        return np.asarray(pd.factorize(y_ser, use_na_sentinel=True)[0], dtype=np.int64)
    return None


class Context:
    """Per-dataset intermediates; cached properties are computed on first use and then shared."""

    def __init__(self, X, y, task: str) -> None:
        frame = _as_frame(X)
        y_ser = _as_series(y)
        n, d = frame.shape
        if len(y_ser) != n:
            raise ValueError(f"X has {n} rows but y has {len(y_ser)} values")
        self.task = task if task in TASKS else None
        self.n_rows, self.n_features = n, d
        self.is_numeric = np.array([_is_numeric(dt) for dt in frame.dtypes], dtype=bool)

        # full scans (or a seeded sample of SCAN_ROWS rows on very long tables)
        scan = sample_rows(n, SCAN_ROWS, "scan")
        scanned = frame if scan is None else frame.iloc[scan]
        self.scan_rows = len(scanned)
        self.col_missing_share, self.row_missing_share = _missing_shares(scanned)
        self.cardinalities = _cardinalities(scanned, np.flatnonzero(~self.is_numeric))
        self.y_full = _target_codes(y_ser, self.task)

        # seeded row and column samples for everything else
        rows, cols = sample_rows(n, STATS_ROWS, "rows"), sample_rows(d, MAX_COLUMNS, "columns")
        self.rows = np.arange(n) if rows is None else rows
        self.cols = np.arange(d) if cols is None else cols
        sub = frame.iloc[self.rows, self.cols]
        num_pos = [k for k, j in enumerate(self.cols) if self.is_numeric[j]]
        cat_pos = [k for k, j in enumerate(self.cols) if not self.is_numeric[j]]
        self.num = (np.column_stack([_numeric_values(sub.iloc[:, k]) for k in num_pos]) if num_pos
                    else np.empty((len(self.rows), 0)))
        codes, levels = [], []
        for k in cat_pos:
            c, lv = _level_codes(sub.iloc[:, k])
            codes.append(c)
            levels.append(lv)
        self.cat = np.column_stack(codes) if codes else np.empty((len(self.rows), 0), dtype=np.int64)
        self.cat_levels = np.asarray(levels, dtype=np.int64)
        self.y = None if self.y_full is None else self.y_full[self.rows]

    # ------------------------------------------------------------------ target helpers
    @property
    def is_classification(self) -> bool:
        return self.task in ("binary", "multiclass")

    @cached_property
    def y_known(self) -> np.ndarray:
        """Mask of sample rows whose target is known."""
        if self.y is None:
            return np.zeros(len(self.rows), dtype=bool)
        return ~np.isnan(self.y) if self.task == "regression" else self.y >= 0

    @cached_property
    def class_codes(self) -> np.ndarray:
        """Sample target as dense codes 0..K-1 over the classes present in the sample (-1 unknown)."""
        out = np.full(len(self.rows), -1, dtype=np.int64)
        if self.is_classification and self.y_known.any():
            _, inv = np.unique(self.y[self.y_known], return_inverse=True)
            out[self.y_known] = inv
        return out

    @cached_property
    def class_masks(self) -> np.ndarray:
        """One-hot (sample rows x classes present) of the target; rows with unknown target are all 0."""
        codes = self.class_codes
        k = int(codes.max()) + 1 if codes.size and codes.max() >= 0 else 0
        masks = np.zeros((len(codes), k))
        ok = codes >= 0
        masks[np.flatnonzero(ok), codes[ok]] = 1.0
        return masks

    @cached_property
    def target_bins(self) -> np.ndarray:
        """Target as small integer codes: class codes, or N_BINS quantile bins of a regression target (-1 unknown)."""
        if self.task == "regression":
            out = quantile_bins(self.y)
            out[out == N_BINS] = -1
            return out
        return self.class_codes

    # ------------------------------------------------------------------ shared numeric intermediates
    @cached_property
    def num_moments(self) -> dict[str, np.ndarray]:
        """Per numeric column: count of values, mean, population sd; usable = >= 2 values and sd > 0."""
        num = self.num
        ok = ~np.isnan(num)
        cnt = ok.sum(axis=0)
        filled = np.where(ok, num, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = filled.sum(axis=0) / cnt
            dev = np.where(ok, num - mean, 0.0)
            var = (dev ** 2).sum(axis=0) / cnt
        sd = np.sqrt(var)
        scale = np.abs(mean) + 1.0
        usable = (cnt >= 2) & np.isfinite(sd) & (sd > 1e-12 * scale)
        return {"count": cnt, "mean": mean, "sd": sd, "usable": usable, "dev": dev, "ok": ok}

    @cached_property
    def standardised(self) -> np.ndarray:
        """Usable numeric columns standardised, missing cells at 0 (the column mean)."""
        m = self.num_moments
        u = m["usable"]
        return m["dev"][:, u] / m["sd"][u]

    @cached_property
    def bins(self) -> np.ndarray:
        """Every sampled column discretised once: numeric -> N_BINS quantile bins (+1 bin for missing),
        categorical -> the MAX_LEVELS-1 most frequent levels, "other" and a bin for missing."""
        parts = [quantile_bins(self.num[:, j]) for j in range(self.num.shape[1])]
        for j in range(self.cat.shape[1]):
            c = self.cat[:, j]
            parts.append(np.where(c < 0, MAX_LEVELS, np.minimum(c, MAX_LEVELS - 1)))
        if not parts:
            return np.empty((len(self.rows), 0), dtype=np.int64)
        return np.column_stack(parts).astype(np.int64)


def _as_series(y) -> pd.Series:
    if isinstance(y, pd.DataFrame):
        y = y.iloc[:, 0]
    if isinstance(y, pd.Series):
        return y.reset_index(drop=True)
    arr = np.asarray(y)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim > 1:
        arr = arr.reshape(len(arr), -1)[:, 0]
    return pd.Series(arr)


def build(X, y, task: str) -> Context:
    return Context(X, y, task)
