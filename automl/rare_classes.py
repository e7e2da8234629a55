"""Classes too small for the validation split: set aside (default) or merged into one ``other`` class.

A stratified k-fold split needs k rows of every class and a stratified holdout needs 2, so a class
with fewer rows would abort the fit. Its rows are left out of the search (or relabelled ``other``)
and the fit goes on; the fitted model still knows every class name: ``classes_`` lists the set-aside
classes and ``predict_proba`` gives each its share of the rows (never 0, so a test row of such a class costs a
bounded log-loss); ``predict`` never answers one.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .data import MIN_ROWS, Target, check_rows
from .exceptions import InputError, plain_repr, plain_value
from .search.validation import Kind, Validation, choose_protocol, min_rows_per_class

log = logging.getLogger("automl")

MODES = ("drop", "merge")
MERGED_LABEL = "other"


@dataclass(frozen=True)
class RareClasses:
    """What was done with the rare classes: ``classes`` (labels) and their ``n_rows``, each below ``min_rows``."""

    mode: str  # "drop": rows set aside; "merge": relabelled ``merged_into``
    classes: tuple
    n_rows: int
    min_rows: int
    merged_into: object | None = None
    shares: tuple = ()  # "drop": each set-aside class's share of the rows (its probability in the fitted model)

    def as_dict(self) -> dict:
        return {"mode": self.mode, "classes": [plain_value(c) for c in self.classes], "n_rows": self.n_rows,
                "min_rows": self.min_rows, "merged_into": self.merged_into, "shares": list(self.shares)}


class ClassSubsetModel:
    """A model fitted on some classes, answering for all: codes and probability columns of ``n_classes``.

    ``columns[j]`` is the full class code of the inner model's class j; ``absent[k]`` is the probability of class
    k when it is not among ``columns`` (its share of the rows), and the inner model's probabilities are scaled to
    the rest, so every row sums to 1 and the order of the inner classes (labels, ROC-AUC) is unchanged.
    """

    def __init__(self, model, columns: np.ndarray, n_classes: int, absent: np.ndarray | None = None) -> None:
        self.model = model
        self.columns = np.asarray(columns, dtype=np.int64)
        self.n_classes = int(n_classes)
        self.absent = np.zeros(self.n_classes) if absent is None else np.asarray(absent, dtype=float)

    def predict(self, X) -> np.ndarray:
        return self.columns[np.asarray(self.model.predict(X)).astype(np.int64)]

    def set_threads(self, n: int) -> None:
        """The inner model predicts on ``n`` threads (``ensembling.MemberThreads``)."""
        self.model.set_threads(n)

    def predict_proba(self, X) -> np.ndarray:
        inner = np.asarray(self.model.predict_proba(X), dtype=float)
        absent = getattr(self, "absent", None)  # (models saved before it gave absent classes 0)
        absent = np.zeros(self.n_classes) if absent is None else absent
        out = np.tile(absent, (inner.shape[0], 1))
        out[:, self.columns] = inner * (1.0 - absent.sum())
        return out


def _rare(codes: np.ndarray, n_classes: int, kind: Kind | None) -> tuple[np.ndarray, int]:
    """Boolean mask of the rare classes, and the rows per class the validation needs.

    The need is the scheme's (``min_rows_per_class``); for the scheme chosen by data size (``kind`` None) the
    protocol depends on the rows left, so it is recomputed until stable. When meeting it would leave fewer
    than two classes or too few rows, the need is the splitter's floor, 2 rows (``make_splits`` then uses
    fewer folds).
    """
    counts = np.bincount(codes, minlength=n_classes)
    rare = np.zeros(n_classes, dtype=bool)
    while True:
        scheme = Validation(kind) if kind is not None else choose_protocol(int(counts[~rare].sum()))
        need = min_rows_per_class(scheme)
        now = counts < need
        if (now == rare).all():
            break
        rare = now | rare
    if (~rare).sum() < 2 or counts[~rare].sum() < MIN_ROWS:
        need = min(need, 2)
        rare = counts < need
    return rare, need


def handle(X: pd.DataFrame, target: Target, mode: str, per_row: tuple = (), kind: Kind | None = None
           ) -> tuple[pd.DataFrame, Target, tuple, RareClasses | None, np.ndarray | None]:
    """(X, search target, ``per_row`` filtered alike, what was done, classes the fitted model answers for; None for
    regression). ``per_row``: arrays or Series of one value per row of X (or None); ``kind``: the user's
    validation scheme (None: chosen by data size).

    The search target has codes 0..K'-1 over the classes that stay; with ``mode="drop"`` the model's
    classes are all of ``target.classes``, so wrap the search's model in ``ClassSubsetModel``.
    """
    if target.classes is None:
        return X, target, per_row, None, None
    classes = target.classes
    rare, need = _rare(target.y, len(classes), kind)
    if not rare.any():
        return X, target, per_row, None, classes
    rows = rare[target.y]
    labels = tuple(classes[rare])
    merged_into = None
    if mode == "merge":
        merged_into = MERGED_LABEL if MERGED_LABEL not in set(map(str, classes)) else f"__{MERGED_LABEL}__"
        kept = np.flatnonzero(~rare)
        codes = np.where(rows, len(kept), np.searchsorted(kept, target.y))
        merged_classes = np.asarray(list(classes[kept]) + [merged_into], dtype=object)
        if rows.sum() >= need:
            log.warning("merged %d row(s) of %d class(es) with fewer than %d rows (%s) into class %r",
                        int(rows.sum()), len(labels), need, _names(labels), merged_into)
            info = RareClasses("merge", labels, int(rows.sum()), need, merged_into)
            return X, Target(codes.astype(np.int64), target.task, merged_classes), per_row, info, merged_classes
        log.warning("the %d row(s) merged into %r are still fewer than %d: setting them aside", int(rows.sum()),
                    merged_into, need)
    keep = ~rows
    kept = np.flatnonzero(~rare)
    if kept.size < 2:
        raise InputError(f"the target has fewer than two classes with at least {need} rows (classes "
                         f"{_names(labels)} are too small to validate); a classifier needs two or more")
    check_rows(int(keep.sum()))
    log.warning("set aside %d row(s) of %d class(es) with fewer than %d rows, too few to validate: %s "
                "(the model gives them their share of the rows as probability but never predicts them)",
                int(rows.sum()), len(labels), need, _names(labels))
    codes = np.searchsorted(kept, target.y[keep]).astype(np.int64)
    X = X.loc[keep].reset_index(drop=True)
    per_row = tuple(None if v is None else v[keep].reset_index(drop=True) if isinstance(v, pd.Series) else v[keep]
                    for v in per_row)
    counts = np.bincount(target.y, minlength=len(classes))
    shares = tuple(float(c) / len(target.y) for c in counts[rare])
    info = RareClasses("drop", labels, int(rows.sum()), need, None, shares)
    return X, Target(codes, target.task, classes[kept]), per_row, info, classes


def wrap(model, search_classes: np.ndarray, classes: np.ndarray, rare: RareClasses | None = None):
    """The search's ``model`` answering for every class of ``classes`` (itself when they are the same); the
    classes it lacks get their ``rare.shares``."""
    if len(search_classes) == len(classes):
        return model
    index = {c: i for i, c in enumerate(classes.tolist())}
    absent = np.zeros(len(classes))
    if rare is not None and rare.shares:
        absent[[index[c] for c in rare.classes]] = rare.shares
    return ClassSubsetModel(model, np.asarray([index[c] for c in search_classes.tolist()]), len(classes), absent)


def _names(labels: tuple) -> str:
    shown = ", ".join(plain_repr(c) for c in labels[:10])
    return shown + (f" and {len(labels) - 10} more" if len(labels) > 10 else "")
