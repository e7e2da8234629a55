"""The target and the task: separating the target column, dropping rows without one, inferring the task and
encoding the target (class codes 0..K-1, or floats for regression)."""
from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from metafeatures import TASKS

from ..exceptions import InputError, plain_repr

log = logging.getLogger("automl")

MIN_ROWS = 10
MAX_MULTICLASS_INTEGER_LEVELS = 20


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

