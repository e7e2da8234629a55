"""Load a table, validate it, infer the task, and clean features into what the search consumes.

The cleaned table has float64 columns and pandas ``category`` columns only (see
docs/architecture.md). ``TableEncoder`` learns the column plan on the training data and
applies exactly the same plan at predict time: column order does not matter, extra columns
are ignored, missing ones are an error naming them, unseen categories become missing.
"""
from __future__ import annotations

import csv
import difflib
import gzip
import io
import logging
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from metafeatures import TASKS

from .exceptions import InputError, plain_repr

log = logging.getLogger("automl")

MAX_CATEGORIES = 255
OTHER = "__other__"
MIN_ROWS = 10
MAX_MULTICLASS_INTEGER_LEVELS = 20
_SNIFF_BYTES = 64 * 1024
_ID_NAME = re.compile(r"(^|[_\s-])(id|uuid|key|index)$|^(id|uuid)([_\s-]|$)", re.IGNORECASE)
_DATE_HINT = re.compile(r"\d{1,4}[-/.:]\d{1,2}")


# --------------------------------------------------------------------------- loading
def load_table(path: str | Path, text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read CSV (delimiter sniffed, gzip, UTF-8 with/without BOM, latin-1 fallback), TSV or Parquet.

    ``text_columns`` of a CSV/TSV are kept as the text in the file (identifiers such as ``007`` stay as written)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"data file {str(path)!r} does not exist")
    if path.is_dir():
        raise InputError(f"data path {str(path)!r} is a directory, not a file")
    if path.stat().st_size == 0:
        raise InputError(f"data file {str(path)!r} is empty")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types for a damaged file
            raise InputError(f"cannot read Parquet file {str(path)!r}: {exc}") from None
        _release_arrow_memory()
    else:
        frame = _read_delimited(path, tab=".tsv" in suffixes, text_columns=text_columns)
    if frame.shape[1] == 0:
        raise InputError(f"data file {str(path)!r} has no columns")
    if len(frame) == 0:
        raise InputError(f"data file {str(path)!r} has a header but no rows")
    return frame


def _release_arrow_memory() -> None:
    """Hand the memory Arrow's allocator kept after decoding a file back to the system: it otherwise stays
    resident in the process for the whole fit (about 1.5 x the table's size after reading a large Parquet file)."""
    try:
        import pyarrow as pa
        pa.default_memory_pool().release_unused()
    except Exception:  # an optimisation only (older pyarrow)
        pass


def _read_delimited(path: Path, tab: bool, text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputError(f"cannot decompress {str(path)!r}: {exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    if not text.strip():
        raise InputError(f"data file {str(path)!r} is empty")
    if "\x00" in text[:_SNIFF_BYTES]:
        raise InputError(f"data file {str(path)!r} looks binary, not a CSV/TSV or Parquet table")
    sep = "\t" if tab else _sniff_delimiter(text[:_SNIFF_BYTES])
    header = next(csv.reader(io.StringIO(text), delimiter=sep))
    names = [h.strip() for h in header]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"duplicate column names in {path.name}: {', '.join(map(repr, dupes))}; rename them")
    as_text = {raw: str for raw, name in zip(header, names) if name in text_columns}
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, low_memory=False, skipinitialspace=True, dtype=as_text or None)
    except pd.errors.ParserError as exc:
        raise InputError(f"cannot parse {path.name}: {str(exc).strip().splitlines()[-1]}") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"data file {str(path)!r} is empty") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _sniff_delimiter(sample: str) -> str:
    lines = [ln for ln in sample.splitlines() if ln.strip()][:50]
    if len(lines) > 1 and not sample.endswith("\n"):
        lines = lines[:-1]  # the last line of a cut sample may be partial
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t").delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in ",;\t"} if lines else {}
        best = max(counts, key=counts.get) if counts else ","
        return best if counts.get(best) else ","


# --------------------------------------------------------------------------- target and task
@dataclass
class Target:
    """The encoded target: codes 0..K-1 (classification) or floats (regression)."""

    y: np.ndarray
    task: str
    classes: np.ndarray | None  # original labels in code order (classification)


def split_target(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.Series]:
    """Separate ``target`` from ``frame``; a missing name lists the columns and suggests the closest."""
    if target not in frame.columns:
        cols = [str(c) for c in frame.columns]
        lowered = {c.lower(): c for c in cols}
        close = [lowered[m] for m in difflib.get_close_matches(str(target).lower(), list(lowered), n=1, cutoff=0.5)]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InputError(f"target column {target!r} not found{hint}; columns are: {shown_columns(cols)}")
    return frame.drop(columns=[target]), frame[target]


def shown_columns(columns, limit: int = 30) -> str:
    """A table's column names for a message: the first ``limit``, then ``...``."""
    names = [str(c) for c in columns]
    return ", ".join(names[:limit]) + (" ..." if len(names) > limit else "")


def drop_missing_target(X: pd.DataFrame, y: pd.Series) -> tuple[pd.DataFrame, pd.Series, int]:
    """Drop rows whose target is missing; the caller reports the count."""
    missing = y.isna().to_numpy().copy()
    if isinstance(y.dtype, pd.StringDtype) or y.dtype == object:
        missing |= y.astype("string").str.strip().fillna("").eq("").to_numpy()
    n = int(missing.sum())
    if n == len(y):
        raise InputError(f"target column {y.name!r} is missing in every row")
    if n:
        log.warning("dropped %d row(s) whose target %r is missing", n, y.name)
        keep = ~missing
        X, y = X.loc[keep], y.loc[keep]
    return X, y, n


def infer_task(y: pd.Series) -> str:
    """binary for two distinct values; multiclass for labels or a few integer levels; else regression."""
    values = y.dropna()
    n_unique = values.nunique()
    if n_unique <= 1:
        raise InputError(f"target {y.name!r} has only one distinct value/class ({plain_repr(values.iloc[0])}); "
                         f"nothing to learn")
    if n_unique == 2:
        return "binary"
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if not numeric:
        return "multiclass"
    arr = values.to_numpy(dtype=float)
    if np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)) and n_unique <= MAX_MULTICLASS_INTEGER_LEVELS:
        return "multiclass"
    return "regression"


def encode_target(y: pd.Series, task: str | None) -> Target:
    """Check ``task`` against the values (inferring it when None) and encode the target."""
    if task is None:
        task = infer_task(y)
    elif task not in TASKS:
        raise InputError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    name = y.name
    if task == "regression":
        arr = numeric_target(y)
        if np.unique(arr).size < 2:
            raise InputError(f"target {name!r} has only one distinct value; nothing to learn")
        return Target(arr, task, None)
    labels = class_labels(y)
    try:
        classes, codes = np.unique(labels, return_inverse=True)
    except TypeError:  # mixed types: compare as text
        classes, codes = np.unique(labels.astype(str), return_inverse=True)
    if classes.size < 2:
        raise InputError(f"target {name!r} has only one class ({plain_repr(classes[0])}); a classifier needs two "
                         f"or more")
    if task == "binary" and classes.size != 2:
        raise InputError(f"target {name!r} has {classes.size} classes, not 2; use task='multiclass'")
    return Target(codes.astype(np.int64), task, classes)


def numeric_target(y: pd.Series) -> np.ndarray:
    """A regression target as finite floats; text or booleans are bad input naming an example."""
    numeric = pd.to_numeric(y, errors="coerce")
    bad = numeric.isna() & y.notna()
    if bad.any() or pd.api.types.is_bool_dtype(y):
        example = y[bad].iloc[0] if bad.any() else y.iloc[0]
        raise InputError(f"target {y.name!r} is not numeric (e.g. {plain_repr(example)}), so it cannot be used for "
                         f"regression; use task='binary' or task='multiclass'")
    arr = numeric.to_numpy(dtype=float)
    if not np.all(np.isfinite(arr)):
        raise InputError(f"target {y.name!r} has infinite values")
    return arr


def class_labels(y: pd.Series) -> np.ndarray:
    """Class labels as the model keeps them: whole floats as integers, text stripped."""
    labels = y.to_numpy()
    if labels.dtype.kind == "f" and np.all(labels == np.round(labels)):
        return labels.astype(np.int64)
    if labels.dtype.kind not in "iub":
        return np.asarray([str(v).strip() if isinstance(v, str) else v for v in labels], dtype=object)
    return labels


def class_codes(y: pd.Series, classes) -> np.ndarray:
    """``y``'s labels as codes of ``classes`` (a model's classes, in code order), matched as text the way
    ``encode_target`` compares mixed labels; -1 for a label that is not one of them."""
    lookup = {str(c): i for i, c in enumerate(np.asarray(classes).tolist())}
    return np.asarray([lookup.get(str(v), -1) for v in class_labels(y).tolist()], dtype=np.int64)


def encode_target_as(y: pd.Series, target: Target) -> np.ndarray:
    """``y`` (the user's validation target) coded as ``target`` was; a class the training rows lack is bad
    input (no model could predict it, and its scores would not be defined)."""
    if target.task == "regression":
        numeric = pd.to_numeric(y, errors="coerce")
        if (numeric.isna() & y.notna()).any() or not np.all(np.isfinite(numeric.to_numpy(dtype=float))):
            raise InputError(f"the validation target {y.name!r} is not numeric everywhere")
        return numeric.to_numpy(dtype=float)
    codes = class_codes(y, target.classes)
    unknown = sorted({str(v) for v, code in zip(class_labels(y).tolist(), codes) if code < 0})
    if unknown:
        raise InputError(f"the validation target {y.name!r} has class(es) the training data lacks: "
                         f"{', '.join(map(repr, unknown[:5]))}")
    return codes


def check_rows(n_rows: int, min_rows: int = MIN_ROWS) -> None:
    if n_rows < min_rows:
        raise InputError(f"only {n_rows} sample(s) (rows with a target); validation needs at least {min_rows}")


# --------------------------------------------------------------------------- features
@dataclass
class ColumnPlan:
    name: str
    kind: str  # numeric | boolean | category | datetime
    categories: list[str] = field(default_factory=list)
    true_values: list[str] = field(default_factory=list)
    date_parts: list[str] = field(default_factory=list)

    @property
    def outputs(self) -> list[str]:
        """The cleaned columns this input column becomes (a date column: one per part)."""
        if self.kind == "datetime":
            return [f"{self.name}__{part}" for part in self.date_parts]
        return [self.name]


NUMBER_SHARE = 0.98  # a text column whose values are at least this share numbers is a number column
_PARSE_PREFIX = 2  # x the tolerated non-numbers: the rows parsed first (a text column is refused on them)


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


_MISSING_TEXT = ("", "na", "n/a", "nan", "-nan", "null", "none", "<na>", "#n/a")  # read as missing, not as bad numbers
_BOOL_TEXT = {"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0, "t": 1.0, "f": 0.0, "y": 1.0, "n": 0.0}


class TableEncoder:
    """Learns how to turn a raw feature table into the cleaned table; applies it at predict time."""

    def __init__(self, max_categories: int = MAX_CATEGORIES) -> None:
        self.max_categories = max_categories

    # -- fit
    def fit(self, X: pd.DataFrame) -> "TableEncoder":
        names = [str(c) for c in X.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise InputError(f"duplicate column names: {', '.join(map(repr, dupes))}; rename them")
        self.input_columns_ = names
        self.input_dtypes_ = {str(c): str(X[c].dtype) for c in X.columns}
        self.plans_: list[ColumnPlan] = []
        self.dropped_: dict[str, str] = {}
        n = len(X)
        for col in X.columns:
            name = str(col)
            plan, reason = self._plan_column(name, X[col], n)
            if plan is None:
                self.dropped_[name] = reason
            else:
                self.plans_.append(plan)
        for name, reason in self.dropped_.items():
            log.warning("dropped column %r: %s", name, reason)
        if not self.plans_:
            raise InputError("no usable feature left: every column is constant, empty or an ID "
                             f"({'; '.join(f'{k}: {v}' for k, v in list(self.dropped_.items())[:5])})")
        return self

    def _plan_column(self, name: str, s: pd.Series, n: int) -> tuple[ColumnPlan | None, str]:
        non_null = s.dropna()
        if non_null.empty:
            return None, "all values are missing"
        if pd.api.types.is_bool_dtype(s):
            return self._constant_or(ColumnPlan(name, "boolean"), s)
        if pd.api.types.is_datetime64_any_dtype(s):
            return self._datetime_plan(name, pd.to_datetime(s, errors="coerce"))
        if pd.api.types.is_numeric_dtype(s):
            arr = pd.to_numeric(s, errors="coerce")
            if _constant(arr.to_numpy(dtype=float, na_value=np.nan)):
                return None, "constant"
            if self._id_like_integer(name, arr, n):
                return None, "ID-like (a distinct integer per row)"
            return ColumnPlan(name, "numeric"), ""
        text = non_null.astype(str).str.strip()
        lowered = set(text.str.lower().unique())
        if lowered <= set(_BOOL_TEXT) and len(lowered) <= 2 and lowered not in ({"y"}, {"n"}):
            truthy = sorted(v for v in lowered if _BOOL_TEXT[v] == 1.0)
            return self._constant_or(ColumnPlan(name, "boolean", true_values=truthy), s)
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
                return self._datetime_plan(name, pd.to_datetime(s.astype("string"), errors="coerce", format="mixed"))
        n_unique = text.nunique()
        if n_unique <= 1 and s.notna().all():
            return None, "constant"
        if n_unique == n and n >= MIN_ROWS:
            return None, "ID-like (a distinct value per row)"
        counts = text.value_counts()
        keep = [str(c) for c in counts.index[: self.max_categories]]
        if len(counts) > self.max_categories:
            keep.append(OTHER)
        return ColumnPlan(name, "category", categories=sorted(keep)), ""

    @staticmethod
    def _constant_or(plan: ColumnPlan, s: pd.Series) -> tuple[ColumnPlan | None, str]:
        if s.nunique(dropna=False) <= 1:
            return None, "constant"
        return plan, ""

    @staticmethod
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

    def _datetime_plan(self, name: str, parsed: pd.Series) -> tuple[ColumnPlan | None, str]:
        parsed = parsed.dt.tz_localize(None) if getattr(parsed.dt, "tz", None) is not None else parsed
        valid = parsed.dropna()
        if valid.nunique() <= 1:
            return None, "constant"
        parts = ["year", "month", "day", "dayofweek", "dayofyear"]
        if (valid.dt.hour != 0).any() or (valid.dt.minute != 0).any():
            parts += ["hour", "minute"]
        parts.append("epoch_days")
        return ColumnPlan(name, "datetime", date_parts=parts), ""

    # -- transform
    def transform(self, X: pd.DataFrame, *, report_unparsed: bool = False) -> pd.DataFrame:
        """The cleaned table. Text that does not parse in a number column becomes missing; with
        ``report_unparsed`` (predict time) one warning counts such values per column (values that were
        missing already, blank or an NA marker such as ``NA``, are not counted)."""
        if not isinstance(X, pd.DataFrame):
            raise InputError("features must be a table (pandas DataFrame)")
        present = {str(c): c for c in X.columns}
        needed = [p.name for p in self.plans_]
        missing = [c for c in needed if c not in present]
        if missing:
            raise InputError(f"data is missing column(s) the model needs: {', '.join(map(repr, missing))}")
        extra = [c for c in present if c not in self.input_columns_]
        if extra:
            log.warning("ignoring %d column(s) the model was not trained on: %s", len(extra),
                        ", ".join(map(repr, extra[:10])))
        out: dict[str, pd.Series] = {}
        unparsed: dict[str, int] = {}
        for plan in self.plans_:
            s = X[present[plan.name]]
            s = s.reset_index(drop=True)
            if plan.kind == "numeric":
                if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
                    v = pd.to_numeric(s, errors="coerce").astype("float64")
                else:
                    text = s.astype("string").str.strip().str.replace(",", ".", regex=False)
                    v = pd.to_numeric(text, errors="coerce").astype("float64")
                    n_bad = int((v.isna() & text.notna() & ~text.str.lower().isin(_MISSING_TEXT)).sum())
                    if n_bad:
                        unparsed[plan.name] = n_bad
                out[plan.name] = v.replace([np.inf, -np.inf], np.nan)
            elif plan.kind == "boolean":
                if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
                    out[plan.name] = pd.to_numeric(s, errors="coerce").astype("float64")
                else:
                    text = s.astype("string").str.strip().str.lower()
                    v = text.map(lambda t: np.nan if pd.isna(t) else (1.0 if t in plan.true_values else
                                                                      (0.0 if t in _BOOL_TEXT else np.nan)))
                    out[plan.name] = v.astype("float64")
            elif plan.kind == "datetime":
                if pd.api.types.is_datetime64_any_dtype(s):
                    d = s
                else:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        d = pd.to_datetime(s.astype("string"), errors="coerce", format="mixed")
                if getattr(d.dt, "tz", None) is not None:
                    d = d.dt.tz_localize(None)
                for part, column in zip(plan.date_parts, plan.outputs):
                    if part == "epoch_days":
                        vals = (d - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86400.0
                    else:
                        vals = getattr(d.dt, part)
                    out[column] = pd.to_numeric(vals, errors="coerce").astype("float64")
            else:
                text = s.astype("string").str.strip()
                known = set(plan.categories)
                if OTHER in known:
                    text = text.where(text.isna() | text.isin(known), OTHER)
                out[plan.name] = pd.Categorical(text.astype(object).where(text.notna(), None),
                                                categories=plan.categories)
        if report_unparsed and unparsed:
            detail = ", ".join(f"{n} value(s) in column {name!r}" for name, n in unparsed.items())
            log.warning("%s are not numbers and were treated as missing", detail)
        frame = pd.DataFrame(out)
        frame.index = X.index
        return frame

    def fit_transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return self.fit(X).transform(X)

    def drop(self, reasons: dict[str, str]) -> None:
        """Stop using the input columns in ``reasons`` (name -> why, recorded in the schema); at predict time
        they are neither needed nor reported as extra."""
        if not reasons:
            return
        self.plans_ = [p for p in self.plans_ if p.name not in reasons]
        self.dropped_.update(reasons)
        if not self.plans_:
            raise InputError("no usable feature left after dropping " + ", ".join(map(repr, reasons)))

    @property
    def sources(self) -> dict[str, str]:
        """Cleaned column -> the input column it comes from."""
        return {out: p.name for p in self.plans_ for out in p.outputs}

    def column_kinds(self) -> dict[str, str]:
        """Every input column's kind as this encoder sees it (numeric, boolean, category, datetime; ``dropped``
        for one it leaves out: constant, empty, ID-like), in input order: what a table's lineage is made of."""
        kinds = {plan.name: plan.kind for plan in self.plans_}
        return {name: kinds.get(name, "dropped") for name in self.input_columns_}

    @property
    def schema(self) -> dict:
        """The input schema saved with a model: columns, dtypes, how each is used, what was dropped."""
        return {
            "columns": self.input_columns_,
            "dtypes": self.input_dtypes_,
            "used": {p.name: p.kind for p in self.plans_},
            "dropped": dict(self.dropped_),
        }
