"""What each input column becomes (``ColumnPlan``): the rules that read a raw column's values on the training
rows and decide its kind (numeric, boolean, category, datetime, text), or why it is dropped (empty, constant,
ID-like).
``column_values`` applies a plan to the values, at fit and at predict time alike."""
from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .target import MIN_ROWS

MAX_CATEGORIES = 255
OTHER = "__other__"
NUMBER_SHARE = 0.98  # a text column whose values are at least this share numbers is a number column
_PARSE_PREFIX = 2  # x the tolerated non-numbers: the rows parsed first (a text column is refused on them)
_ID_NAME = re.compile(r"(^|[_\s-])(id|uuid|key|index)$|^(id|uuid)([_\s-]|$)", re.IGNORECASE)
_DATE_HINT = re.compile(r"\d{1,4}[-/.:]\d{1,2}")
TEXT_MIN_WORDS = 3  # median words per value of a free-text column: sentences; labels, names and codes have 1 or 2
_WORD_SAMPLE = 1000  # values whose words are counted (the rule needs their typical count only)
BOOL_TEXT = {"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0, "t": 1.0, "f": 0.0, "y": 1.0, "n": 0.0}


@dataclass
class ColumnPlan:
    name: str
    kind: str  # numeric | boolean | category | datetime | text
    categories: list[str] = field(default_factory=list)
    true_values: list[str] = field(default_factory=list)
    date_parts: list[str] = field(default_factory=list)

    @functools.cached_property
    def category_dtype(self) -> pd.CategoricalDtype:
        """The dtype of a category column's cleaned values, built once (with its lookup table) for every transform."""
        return pd.CategoricalDtype(self.categories)

    @property
    def outputs(self) -> list[str]:
        """The cleaned columns this input column becomes (a date column: one per part)."""
        if self.kind == "datetime":
            return [f"{self.name}__{part}" for part in self.date_parts]
        return [self.name]


def plan_column(name: str, s: pd.Series, n: int, max_categories: int) -> tuple[ColumnPlan | None, str]:
    """The plan for input column ``s`` of ``n`` training rows, or None and why it is dropped."""
    non_null = s.dropna()
    if non_null.empty:
        return None, "all values are missing"
    if pd.api.types.is_bool_dtype(s):
        return _constant_or(ColumnPlan(name, "boolean"), s)
    if pd.api.types.is_datetime64_any_dtype(s):
        return _datetime_plan(name, pd.to_datetime(s, errors="coerce"))
    if pd.api.types.is_numeric_dtype(s):
        arr = pd.to_numeric(s, errors="coerce")
        if _constant(arr.to_numpy(dtype=float, na_value=np.nan)):
            return None, "constant"
        if _id_like_integer(name, arr, n):
            return None, "ID-like (a distinct integer per row)"
        return ColumnPlan(name, "numeric"), ""
    return _text_plan(name, s, non_null.astype(str).str.strip(), n, max_categories)


def _text_plan(name: str, s: pd.Series, text: pd.Series, n: int, max_categories: int
               ) -> tuple[ColumnPlan | None, str]:
    """A column of text (``text``: its non-missing values, stripped): booleans, numbers, dates, free text (more
    distinct values than a category keeps, ``TEXT_MIN_WORDS`` words or more per value), else categories."""
    lowered = set(text.str.lower().unique())
    if lowered <= set(BOOL_TEXT) and len(lowered) <= 2 and lowered not in ({"y"}, {"n"}):
        truthy = sorted(v for v in lowered if BOOL_TEXT[v] == 1.0)
        return _constant_or(ColumnPlan(name, "boolean", true_values=truthy), s)
    as_num = _mostly_numbers(text)
    if as_num is not None:
        if as_num.nunique() <= 1 and s.notna().all():
            return None, "constant"
        return ColumnPlan(name, "numeric"), ""
    sample = text.iloc[:200]
    if sample.str.contains(_DATE_HINT).mean() > 0.9:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(text, errors="coerce", format="mixed")
        if parsed.notna().mean() >= 0.9:
            return _datetime_plan(name, pd.to_datetime(s.astype("string"), errors="coerce", format="mixed"))
    n_unique = text.nunique()
    if n_unique <= 1 and s.notna().all():
        return None, "constant"
    if n_unique > max_categories and word_counts(text.iloc[:_WORD_SAMPLE]).median() >= TEXT_MIN_WORDS:
        return ColumnPlan(name, "text"), ""  # free text: a category would keep only some values
    if n_unique == n and n >= MIN_ROWS:
        return None, "ID-like (a distinct value per row)"
    return ColumnPlan(name, "category", categories=frequent_values(text, max_categories)), ""


def frequent_values(text: pd.Series, max_categories: int) -> list[str]:
    """The categories a category column keeps (sorted): its ``max_categories`` most frequent values, plus
    ``OTHER`` (which every other value becomes) when it has more."""
    counts = text.value_counts()
    keep = [str(c) for c in counts.index[:max_categories]]
    if len(counts) > max_categories:
        keep.append(OTHER)
    return sorted(keep)


def word_counts(text: pd.Series) -> pd.Series:
    """Whitespace-separated words per value of ``text`` (float64; missing stays missing)."""
    return text.astype("string").str.split().str.len().astype("float64")


def _mostly_numbers(text: pd.Series) -> pd.Series | None:
    """``text`` (stripped, no missing) as numbers (decimal commas read as points) when at least ``NUMBER_SHARE``
    of it parses, else None. A prefix is parsed first: when it alone holds more non-numbers than the whole
    column may, the column is refused without parsing every row (the answer is the same)."""
    allowed = (1 - NUMBER_SHARE) * len(text)
    prefix = int(allowed * _PARSE_PREFIX) + 1
    if prefix < len(text):
        head = pd.to_numeric(text.iloc[:prefix].str.replace(",", ".", regex=False), errors="coerce")
        if head.isna().sum() > allowed:
            return None
    as_num = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
    return as_num if as_num.notna().mean() >= NUMBER_SHARE else None


def _constant(values: np.ndarray) -> bool:
    """Every value the same (all missing included): ``nunique(dropna=False) <= 1`` without hashing every row."""
    missing = np.isnan(values)
    if missing.all():
        return True
    return not missing.any() and bool(values.min() == values.max())


def _constant_or(plan: ColumnPlan, s: pd.Series) -> tuple[ColumnPlan | None, str]:
    if s.nunique(dropna=False) <= 1:
        return None, "constant"
    return plan, ""


def _id_like_integer(name: str, arr: pd.Series, n: int) -> bool:
    if n < MIN_ROWS or arr.isna().any() or arr.nunique() != n:  # (the cheap test first)
        return False
    values = arr.to_numpy(dtype=float)
    if not np.all(values == np.round(values)):
        return False
    if _ID_NAME.search(name):
        return True
    ordered = np.sort(values)
    return bool(np.all(np.diff(ordered) == 1))  # a row counter


def _datetime_plan(name: str, parsed: pd.Series) -> tuple[ColumnPlan | None, str]:
    parsed = parsed.dt.tz_localize(None) if getattr(parsed.dt, "tz", None) is not None else parsed
    valid = parsed.dropna()
    if valid.nunique() <= 1:
        return None, "constant"
    parts = ["year", "month", "day", "dayofweek", "dayofyear"]
    if (valid.dt.hour != 0).any() or (valid.dt.minute != 0).any():
        parts += ["hour", "minute"]
    parts.append("epoch_days")
    return ColumnPlan(name, "datetime", date_parts=parts), ""
