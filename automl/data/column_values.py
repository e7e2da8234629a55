"""A planned column's values as cleaned columns (``encode_column``): float64 numbers, 0/1 booleans, date parts,
``category`` columns, ``TEXT_DTYPE`` (pandas ``string``) free text. The same plan gives the same columns at fit
and at predict time; a value a plan cannot read (text in a number column, an unseen category) becomes missing."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .column_plan import BOOL_TEXT, OTHER, ColumnPlan

TEXT_DTYPE = "string"  # the dtype of the cleaned table's free-text columns (``text_columns``)
BLOCK_ROWS = 100  # batches up to this size (online predictions) convert their number columns in one block
MISSING_TEXT = ("", "na", "n/a", "nan", "-nan", "null", "none", "<na>", "#n/a")  # read as missing, not as bad numbers


@dataclass
class EncodedColumn:
    """The cleaned columns of one input column (name -> values, in ``ColumnPlan.outputs`` order) and how many of
    its values should have been numbers but did not parse (missing markers such as ``NA`` not counted)."""

    columns: dict = field(default_factory=dict)
    unparsed: int = 0


def encode_column(plan: ColumnPlan, s: pd.Series) -> EncodedColumn:
    """``s`` (the input column, index reset) as ``plan`` cleans it."""
    if plan.kind == "numeric":
        return _numbers(plan, s)
    if plan.kind == "boolean":
        return EncodedColumn({plan.name: _booleans(plan, s)})
    if plan.kind == "datetime":
        return EncodedColumn(_date_parts(plan, s))
    if plan.kind == "text":  # stripped; blank is missing
        return EncodedColumn({plan.name: s.astype(TEXT_DTYPE).str.strip().replace("", pd.NA)})
    return EncodedColumn({plan.name: as_categories(s.astype("string").str.strip(), plan.category_dtype)})


def plain_numbers(plans: list[ColumnPlan], X: pd.DataFrame, present: dict) -> dict[str, np.ndarray]:
    """For a batch of at most ``BLOCK_ROWS`` rows, the numeric plans' columns of ``X`` (``present``: name -> ``X``'s
    label) that hold NumPy integers or floats, converted in one block: the values ``encode_column`` gives each
    (float64, infinities missing) without its per-column cost, most of a small batch's transform. A larger table is
    cleaned column by column (a float column needing no cleaning is then not copied): empty."""
    if len(X) > BLOCK_ROWS:
        return {}
    dtypes = X.dtypes
    names = [p.name for p in plans if p.kind == "numeric" and _plain_number_dtype(dtypes[present[p.name]])]
    if not names:
        return {}
    block = X[[present[n] for n in names]].to_numpy(dtype=np.float64).T.copy()
    block[np.isinf(block)] = np.nan
    return dict(zip(names, block))


def _plain_number_dtype(dtype) -> bool:
    return isinstance(dtype, np.dtype) and dtype.kind in "iuf"  # (not booleans, complex numbers, extension types)


def text_columns(X: pd.DataFrame) -> list:
    """The free-text columns of a cleaned table (kind ``text``; every other column is float64 or ``category``)."""
    return [c for c in X.columns if isinstance(X[c].dtype, pd.StringDtype)]


def as_categories(text: pd.Series, categories: list[str] | pd.CategoricalDtype) -> pd.Categorical:
    """Stripped ``text`` as a categorical of ``categories`` (a list, or their dtype: ``ColumnPlan.category_dtype``):
    a value outside them becomes ``OTHER`` when that is one of them, else missing."""
    dtype = categories if isinstance(categories, pd.CategoricalDtype) else pd.CategoricalDtype(categories)
    present = text.notna().to_numpy()
    codes = dtype.categories.get_indexer(text.astype(object).where(present, None))  # -1: missing or unknown
    if OTHER in dtype.categories:
        codes[(codes == -1) & present] = dtype.categories.get_loc(OTHER)
    return pd.Categorical.from_codes(codes, dtype=dtype)


def _numbers(plan: ColumnPlan, s: pd.Series) -> EncodedColumn:
    n_bad = 0
    if s.dtype == np.float64:  # numbers already: no copy (``to_numeric`` would make one)
        v = s
    elif pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        v = pd.to_numeric(s, errors="coerce").astype("float64")
    else:
        text = s.astype("string").str.strip().str.replace(",", ".", regex=False)
        v = pd.to_numeric(text, errors="coerce").astype("float64")
        n_bad = int((v.isna() & text.notna() & ~text.str.lower().isin(MISSING_TEXT)).sum())
    return EncodedColumn({plan.name: v.replace([np.inf, -np.inf], np.nan)}, n_bad)


def _booleans(plan: ColumnPlan, s: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        return pd.to_numeric(s, errors="coerce").astype("float64")
    text = s.astype("string").str.strip().str.lower()
    v = text.map(lambda t: np.nan if pd.isna(t) else (1.0 if t in plan.true_values else
                                                      (0.0 if t in BOOL_TEXT else np.nan)))
    return v.astype("float64")


def _date_parts(plan: ColumnPlan, s: pd.Series) -> dict:
    if pd.api.types.is_datetime64_any_dtype(s):
        d = s
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            d = pd.to_datetime(s.astype("string"), errors="coerce", format="mixed")
    if getattr(d.dt, "tz", None) is not None:
        d = d.dt.tz_localize(None)
    out = {}
    for part, column in zip(plan.date_parts, plan.outputs):
        if part == "epoch_days":
            vals = (d - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86400.0
        else:
            vals = getattr(d.dt, part)
        out[column] = pd.to_numeric(vals, errors="coerce").astype("float64")
    return out
