"""Target leakage: feature columns that alone predict the target almost perfectly.

A column that is the target under another name (``alive`` for ``survived``) or a near formula of it
(``fare`` of ``total``) makes every model look perfect and teaches the knowledge base nothing true.
``find_leaks`` runs on the cleaned table before the search, on a seeded row sample, so its cost does
not grow with the table's length; every check is a few vectorised numpy passes per column.
"""
from __future__ import annotations

import dataclasses
import enum
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .exceptions import InputError

log = logging.getLogger("automl")

SAMPLE_ROWS = 2_000  # rows the checks look at: enough for a 0.99 score to mean something, cheap on any table
MIN_ROWS = 100  # below this a perfect one-column fit happens by chance on small clean tables: no check
MAPPING_MAX_LEVELS = 64  # columns with at most this many distinct values get the exact mapping check
# An honest feature seldom ranks classes or explains variance beyond 0.99 on its own; a relabelled target
# scores 1.0 and a formula with small noise ~0.999, so 0.99 separates the two with room on each side.
THRESHOLD = 0.99


class LeakKind(str, enum.Enum):
    """How a column was found to predict the target."""

    MAPPING = "mapping"  # each value of the column maps to one target value
    SINGLE_FEATURE = "single_feature"  # a one-column model: leave-one-out nearest neighbour; linear/rank (regression)


@dataclass(frozen=True)
class LeakageFinding:
    """Input ``column`` predicts the target alone with ``score`` (``measure``: balanced accuracy or R^2)."""

    column: str
    kind: LeakKind
    score: float
    measure: str  # "balanced_accuracy" (classification) or "r2" (regression)
    kept: bool = False  # the user kept it (``keep_columns``); otherwise it was dropped before the search

    def describe(self) -> str:
        return f"{self.column!r} ({self.kind.value}, {self.measure} {self.score:.4f})"

    def as_dict(self) -> dict:
        return {"column": self.column, "kind": self.kind.value, "score": round(float(self.score), 6),
                "measure": self.measure, "kept": self.kept}


def column_options(drop, keep, columns) -> tuple[list[str], list[str]]:
    """``drop_columns`` / ``keep_columns`` (None, one name, or a sequence of names) as lists of names of
    ``columns``; unknown names, or a name in both, are bad input."""
    known = {str(c) for c in columns}
    out = []
    for option, value in (("drop_columns", drop), ("keep_columns", keep)):
        items = [] if value is None else [value] if isinstance(value, str) else value
        try:
            names = [n for n in (str(v).strip() for v in items) if n]
        except TypeError:
            raise InputError(f"the {option!r} parameter must be a column name or a list of names; "
                             f"got {value!r}") from None
        unknown = [n for n in names if n not in known]
        if unknown:
            raise InputError(f"unknown column(s) in {option}: {', '.join(map(repr, unknown))}")
        out.append(names)
    both = sorted(set(out[0]) & set(out[1]))
    if both:
        raise InputError(f"column(s) {', '.join(map(repr, both))} are in both drop_columns and keep_columns")
    return out[0], out[1]


def screen_columns(encoder, Xc: pd.DataFrame, y: np.ndarray, task: str, *, drop: list[str], keep: list[str],
                   seed: int = 0) -> tuple[pd.DataFrame, list[LeakageFinding]]:
    """Drop the user's ``drop`` columns, then the columns that leak the target unless named in ``keep``.

    ``encoder`` (a fitted ``TableEncoder``) records every drop with its reason, so predict neither needs
    nor warns about those columns. Returns the cleaned table without them and the findings.
    ``drop`` and ``keep`` come from ``column_options``.
    """
    encoder.drop({c: "dropped by drop_columns" for c in drop if c not in encoder.dropped_})
    sources = encoder.sources
    findings = check_columns(Xc, y, task, sources, set(keep), seed=seed)
    if findings and {f.column for f in findings} >= set(sources.values()):
        # every column predicts the target alone: an easy problem (or a table of leaks) that cannot be fitted
        # without them, so nothing is dropped
        findings = [dataclasses.replace(f, kept=True) for f in findings]
        log.warning("every column predicts the target alone (%s); none dropped",
                    ", ".join(f.describe() for f in findings[:5]))
        return _only(Xc, list(sources)), findings
    for f in findings:
        if f.kept:
            log.warning("column %s predicts the target alone; kept as asked (keep_columns): validation scores "
                        "may look better than the model will do on new data", f.describe())
        else:
            log.warning("column %s predicts the target alone: dropped as a likely leak of the target "
                        "(keep it with keep_columns)", f.describe())
    encoder.drop({f.column: f"leaks the target ({f.kind.value}, {f.measure} {f.score:.4f})"
                  for f in findings if not f.kept})
    return _only(Xc, list(encoder.sources)), findings


def _only(X: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return X if list(X.columns) == columns else X[columns]


def check_columns(X: pd.DataFrame, y: np.ndarray, task: str, sources: dict[str, str], keep: set[str], *,
                  seed: int = 0) -> list[LeakageFinding]:
    """Findings per input column (``sources`` maps each cleaned column of ``X`` to check to its input column; a
    date column's parts share one), the best score of its cleaned columns; ``kept`` for columns in ``keep``."""
    best: dict[str, tuple[LeakKind, float]] = {}
    for name, kind, score in find_leaks(X, y, task, seed=seed, columns=[c for c in X.columns if c in sources]):
        column = sources.get(name, name)
        if column not in best or score > best[column][1]:
            best[column] = (kind, score)
    measure = "r2" if task == "regression" else "balanced_accuracy"
    return [LeakageFinding(c, kind, score, measure, kept=c in keep) for c, (kind, score) in best.items()]


def find_leaks(X: pd.DataFrame, y: np.ndarray, task: str, *, seed: int = 0, sample_rows: int = SAMPLE_ROWS,
               columns: list[str] | None = None) -> list[tuple[str, LeakKind, float]]:
    """(cleaned column, kind, score) for every column of the cleaned ``X`` (or of its ``columns``) scoring
    >= THRESHOLD alone.

    ``y``: class codes (classification) or floats (regression). Checks run on at most ``sample_rows``
    seeded rows; the caller maps encoded columns back to input columns.
    """
    n = len(y)
    if n < MIN_ROWS:
        return []
    rows = np.arange(n)
    if n > sample_rows:
        rows = np.sort(np.random.default_rng(seed).choice(n, sample_rows, replace=False))
    target = np.asarray(y)[rows]
    regression = task == "regression"
    if regression:
        target = target.astype(float)
        if np.var(target) <= 0:
            return []
    else:
        target = target.astype(np.int64)
        if np.unique(target).size < 2:
            return []
    found = []
    for name in X.columns if columns is None else columns:
        codes, n_levels, values = _levels(X[name].iloc[rows] if len(rows) < n else X[name])
        if n_levels < 2:
            continue
        if n_levels <= MAPPING_MAX_LEVELS and n_levels * 10 <= len(rows):
            score = _score(target, _group_predict(codes, n_levels, target, regression), regression)
            if score >= THRESHOLD:
                found.append((str(name), LeakKind.MAPPING, score))
            continue  # a one-column model of a few levels predicts no better than the mapping
        if values is None:
            continue  # a category column with many levels: only the mapping check is meaningful
        score = _score(target, _neighbour_predict(values, target, regression), regression)
        if regression:
            score = max(score, _r2_linear(values, target), _r2_linear(_ranks(values), _ranks(target)))
        if score >= THRESHOLD:
            found.append((str(name), LeakKind.SINGLE_FEATURE, score))
    return found


def _levels(s: pd.Series) -> tuple[np.ndarray, int, np.ndarray | None]:
    """Integer level codes (missing is a level of its own), their count, and the numeric values (or None)."""
    if isinstance(s.dtype, pd.StringDtype):  # free text: its distinct values are its levels
        s = s.astype("category")
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy().astype(np.int64)
        _, codes = np.unique(codes, return_inverse=True)
        return codes, int(codes.max()) + 1 if len(codes) else 0, None
    values = s.to_numpy(dtype=float)
    _, codes = np.unique(np.where(np.isnan(values), np.inf, values), return_inverse=True)
    return codes, int(codes.max()) + 1 if len(codes) else 0, values


def _group_predict(groups: np.ndarray, n_groups: int, target: np.ndarray, regression: bool) -> np.ndarray:
    """Each row predicted by its group's mean (regression) or majority class."""
    if regression:
        means = np.bincount(groups, weights=target, minlength=n_groups) / np.bincount(groups, minlength=n_groups)
        return means[groups]
    return _class_table(groups, n_groups, target).argmax(axis=1)[groups]


def _class_table(groups: np.ndarray, n_groups: int, target: np.ndarray) -> np.ndarray:
    """Rows per (group, class)."""
    k = int(target.max()) + 1
    return np.bincount(groups * k + target, minlength=n_groups * k).reshape(n_groups, k).astype(float)


def _neighbour_predict(values: np.ndarray, target: np.ndarray, regression: bool) -> np.ndarray:
    """Leave-one-out prediction from the one column: a row predicted by the other rows with its value (their mean
    or majority class), or, when its value is unique, by the rows of the closest value. A column the target is
    a function of loses only at the function's jumps, while an honest noisy feature pays its noise twice,
    which keeps the two apart. Missing values predict the overall majority / mean."""
    fallback = target.mean() if regression else np.bincount(target).argmax()
    pred = np.full(len(target), fallback, dtype=float if regression else np.int64)
    ok = np.flatnonzero(np.isfinite(values))
    if ok.size < 2:
        return pred
    unique, groups = np.unique(values[ok], return_inverse=True)
    if unique.size < 2:
        return pred
    t = target[ok]
    counts = np.bincount(groups)
    gaps = np.diff(unique)
    before = np.r_[np.inf, gaps]  # distance to the next smaller value, per group
    after = np.r_[gaps, np.inf]
    closest = np.where(before <= after, np.arange(unique.size) - 1, np.arange(unique.size) + 1)
    alone = counts[groups] == 1
    if regression:
        sums = np.bincount(groups, weights=t)
        loo = (sums[groups] - t) / np.maximum(counts[groups] - 1, 1)
        means = sums / counts
        pred[ok] = np.where(alone, means[closest[groups]], loo)
        return pred
    table = _class_table(groups, unique.size, t)
    own = table[groups]
    own[np.arange(len(t)), t] -= 1.0  # leave the row itself out
    pred[ok] = np.where(alone, table.argmax(axis=1)[closest[groups]], own.argmax(axis=1))
    return pred


def _score(target: np.ndarray, pred: np.ndarray, regression: bool) -> float:
    if regression:
        total = np.sum((target - target.mean()) ** 2)
        return float(1.0 - np.sum((target - pred) ** 2) / total) if total > 0 else 0.0
    support = np.bincount(target)
    hits = np.bincount(target[pred == target], minlength=support.size)
    present = support > 0
    return float(np.mean(hits[present] / support[present]))  # balanced accuracy


def _r2_linear(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return 0.0
    r = np.corrcoef(a[ok], b[ok])[0, 1]
    # rows where the column is missing cannot be predicted by it: they count against the fit
    return float(r * r * ok.mean()) if np.isfinite(r) else 0.0


def _ranks(values: np.ndarray) -> np.ndarray:
    out = np.full(len(values), np.nan)
    ok = np.isfinite(values)
    out[ok] = pd.Series(values[ok]).rank().to_numpy()
    return out
