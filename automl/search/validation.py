"""Validation schemes: which rows train and which rows score every trial; seeded.

By data size (``choose_protocol``): k-fold CV for small data, a holdout for large. The user may ask
instead for their own validation rows, grouped folds (no group on both sides) or forward-chaining
folds in time order; ``choose_validation`` decides the scheme in one place and ``make_splits``
produces its (train, validation) index pairs. A scheme's ``protocol`` string (``cv5``, ``holdout0.2``,
``user-valid``, ``group-cv5``, ``time-cv3``, ...) is what the knowledge base stores with every
evaluation, so evaluations under different schemes are never taken as comparable.
"""
from __future__ import annotations

import enum
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import (GroupKFold, GroupShuffleSplit, KFold, StratifiedGroupKFold, StratifiedKFold,
                                     train_test_split)

from ..exceptions import InputError


class Kind(str, enum.Enum):
    CV = "cv"
    HOLDOUT = "holdout"
    USER = "user-valid"  # the user's validation rows score every trial
    GROUP = "group"  # folds (or a holdout) of whole groups
    TIME = "time"  # forward chaining: each validation block is later than all of its training rows


@dataclass(frozen=True, eq=False)
class SplitOptions:
    """What the user asked for, per row of the search table. ``n_valid``: the last ``n_valid`` rows are the
    user's validation set; ``groups``: a group code per row; ``times``: an ordering key per row (float)."""

    n_valid: int = 0
    groups: np.ndarray | None = None
    times: np.ndarray | None = None
    groups_column: str | None = None
    time_column: str | None = None

    def __post_init__(self) -> None:
        check_one_scheme(self.n_valid > 0, self.groups is not None, self.times is not None)

    @property
    def kind(self) -> Kind | None:
        """The scheme the user asked for (None: chosen by data size)."""
        return requested_kind(self.n_valid > 0, self.groups is not None, self.times is not None)


def requested_kind(valid: bool, groups: bool, time: bool) -> Kind | None:
    """The scheme of the user's options: their validation rows, groups or a time column (None: by data size)."""
    if valid:
        return Kind.USER
    if groups:
        return Kind.GROUP
    return Kind.TIME if time else None


def check_one_scheme(valid: bool, groups: bool, time: bool) -> None:
    """The user's validation set, groups and a time column are alternatives: two at once is bad input."""
    asked = [name for name, on in (("a validation set", valid), ("groups", groups), ("a time column", time)) if on]
    if len(asked) > 1:
        raise InputError(f"choose one validation scheme: {' and '.join(asked)} cannot be combined")


@dataclass(frozen=True)
class Validation:
    """A chosen scheme: ``n_splits`` folds (1 for a holdout or the user's rows), ``share`` of a holdout."""

    kind: Kind
    n_splits: int = 1
    share: float | None = None
    groups_column: str | None = None
    time_column: str | None = None
    valid_rows: int | None = None

    @property
    def protocol(self) -> str:
        if self.kind is Kind.USER:
            return Kind.USER.value
        base = f"holdout{self.share:g}" if self.share is not None else f"cv{self.n_splits}"
        return base if self.kind in (Kind.CV, Kind.HOLDOUT) else f"{self.kind.value}-{base}"

    def as_dict(self) -> dict:
        """Plain data for the manifest, ``--json`` and the knowledge-base run."""
        return {"kind": self.kind.value, "protocol": self.protocol, "n_splits": self.n_splits,
                "groups_column": self.groups_column, "time_column": self.time_column, "valid_rows": self.valid_rows}

    @classmethod
    def parse(cls, protocol: str) -> "Validation":
        """The row-shuffled scheme of a ``cvK`` / ``holdoutS`` protocol string."""
        if protocol.startswith("cv"):
            return cls(Kind.CV, n_splits=int(protocol[2:]))
        if protocol.startswith("holdout"):
            return cls(Kind.HOLDOUT, share=float(protocol[len("holdout"):]))
        raise ValueError(f"not a row-shuffled protocol: {protocol!r}")


HOLDOUT_SHARE = 0.2  # validation share of a holdout split (its training rows: the rest)
CV5_BELOW_ROWS = 1_000  # below this many rows, 5-fold CV (a single holdout's score would be too noisy) ...
CV3_BELOW_ROWS = 10_000  # ... below this many, 3-fold; from it on, one 20 % holdout (every fold costs a fit) ...
# ... scoring at most this many rows: more add little precision to a comparison of trials but cost every trial
# its early stopping and predictions (as AutoGluon's ``default_holdout_frac``, which keeps a stable 2,500 rows)
HOLDOUT_MAX_ROWS = 25_000
MIN_SUBSAMPLE_ROWS = 20  # a low-fidelity share of a fold's training rows holds at least this many


def choose_protocol(n_rows: int) -> str:
    """The row-shuffled protocol for ``n_rows`` rows (``CV5_BELOW_ROWS``, ``CV3_BELOW_ROWS``, ``holdout_share``)."""
    if n_rows < CV5_BELOW_ROWS:
        return "cv5"
    if n_rows < CV3_BELOW_ROWS:
        return "cv3"
    return f"holdout{holdout_share(n_rows):g}"


def holdout_share(n_rows: int) -> float:
    """The validation share of a holdout of ``n_rows`` rows: ``HOLDOUT_SHARE``, or less where that would score more
    than ``HOLDOUT_MAX_ROWS`` rows (two significant digits: the protocol string stays short)."""
    return min(HOLDOUT_SHARE, float(f"{HOLDOUT_MAX_ROWS / max(1, n_rows):.2g}"))


SUBSAMPLE_KEY = "rows"  # a protocol's suffix ``;rows=N/M;seed=S``: measured on a seeded subsample of N of M rows


def subsample_suffix(n_used: int, n_total: int, seed: int) -> str:
    """The protocol suffix of evaluations measured on ``n_used`` of a table's ``n_total`` rows (seeded)."""
    return f";{SUBSAMPLE_KEY}={int(n_used)}/{int(n_total)};seed={int(seed)}"


def evaluated_rows(protocol: str, n_rows: int) -> int:
    """The rows an evaluation under ``protocol`` was measured on: its subsample's (:func:`subsample_suffix`),
    else all ``n_rows`` of its dataset."""
    for part in str(protocol or "").split(";")[1:]:
        key, _, value = part.partition("=")
        if key == SUBSAMPLE_KEY:
            try:
                return int(value.split("/")[0])
            except ValueError:
                break
    return int(n_rows)


def protocol_fits(protocol: str) -> tuple[int, float]:
    """(fits, the share of the evaluated rows each fit trains on) of an evaluation under ``protocol``: k and
    (k-1)/k for k folds (grouped or time-ordered too), 1 and 1 - share for a holdout, 1 and ``1 - HOLDOUT_SHARE``
    for the user's validation rows (their count is not in the protocol)."""
    head = str(protocol or "").split(";")[0]
    for kind in (Kind.GROUP, Kind.TIME):
        head = head.removeprefix(f"{kind.value}-")
    try:
        scheme = Validation.parse(head)
    except ValueError:
        return 1, 1.0 - HOLDOUT_SHARE
    if scheme.kind is Kind.CV:
        return scheme.n_splits, (scheme.n_splits - 1) / scheme.n_splits
    return 1, 1.0 - float(scheme.share)


def min_rows_per_class(validation: Validation | str) -> int:
    """Rows every class needs so that each split's training part holds it: k for stratified k-fold, 2 for a
    stratified holdout and for grouped or time-ordered folds (two groups / times at the least), 1 with the
    user's validation rows (every training row trains every trial)."""
    if isinstance(validation, str):
        validation = Validation.parse(validation)
    if validation.kind is Kind.USER:
        return 1
    return validation.n_splits if validation.kind is Kind.CV else 2


def choose_validation(protocol: str, options: SplitOptions | None = None) -> Validation:
    """The scheme: the user's (their validation rows, groups or time order) at the size-chosen ``protocol``'s
    number of folds or holdout share, else ``protocol`` itself."""
    base = Validation.parse(protocol)
    kind = options.kind if options is not None else None
    if kind is None:
        return base
    if kind is Kind.USER:
        return Validation(Kind.USER, valid_rows=int(options.n_valid))
    return Validation(kind, n_splits=base.n_splits, share=base.share, groups_column=options.groups_column,
                      time_column=options.time_column)


def make_splits(y: np.ndarray, task: str, validation: Validation | str, seed: int,
                options: SplitOptions | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/validation index pairs; stratified for classification (folds capped by the rarest class).
    ``options``: the group codes or time keys of a grouped or time-ordered ``validation``."""
    if isinstance(validation, str):
        validation = Validation.parse(validation)
    n = len(y)
    idx = np.arange(n)
    classification = task != "regression"
    if validation.kind is Kind.USER:
        return [(idx[:n - validation.valid_rows], idx[n - validation.valid_rows:])]
    if validation.kind is Kind.GROUP:
        return _group_splits(y, classification, validation, seed, options.groups)
    if validation.kind is Kind.TIME:
        return _time_splits(y, classification, validation, options.times)
    if validation.kind is Kind.CV:
        k = validation.n_splits
        if classification:
            k = max(2, min(k, int(np.bincount(y).min())))
            cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
            return [(tr, va) for tr, va in cv.split(idx, y)]
        return [(tr, va) for tr, va in KFold(n_splits=k, shuffle=True, random_state=seed).split(idx)]
    strat = y if classification and np.bincount(y).min() >= 2 else None
    tr, va = train_test_split(idx, test_size=validation.share, random_state=seed, stratify=strat)
    return [(np.sort(tr), np.sort(va))]


def _group_splits(y, classification, validation: Validation, seed, groups) -> list[tuple[np.ndarray, np.ndarray]]:
    """Whole groups on one side: stratified group folds for classification, group folds for regression, a
    group holdout for large data; fewer groups than folds means as many folds as groups."""
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise InputError(f"grouped validation needs at least 2 groups in {validation.groups_column or 'groups'!r}; "
                         f"got {n_groups}")
    idx = np.arange(len(y))
    if validation.share is not None:
        split = GroupShuffleSplit(n_splits=1, test_size=validation.share, random_state=seed)
        return [(np.sort(tr), np.sort(va)) for tr, va in split.split(idx, y, groups)]
    k = min(validation.n_splits, n_groups)
    if classification:
        cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    else:
        cv = GroupKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # (a class with fewer groups than folds: the folds are as stratified as can be)
        warnings.simplefilter("ignore", UserWarning)
        return [(tr, va) for tr, va in cv.split(idx, y, groups) if len(va)]


def _time_splits(y, classification, validation: Validation, times) -> list[tuple[np.ndarray, np.ndarray]]:
    """Forward chaining: the rows in time order cut into ``n_splits`` + 1 blocks (one validation block of
    ``share`` for a holdout); fold i trains on every row before block i + 1 and scores it. A cut never splits
    rows of equal time (it moves to the first of them), so every validation row is strictly later than all of
    its training rows. Folds whose training rows hold fewer than two classes are left out."""
    order = np.argsort(times, kind="stable")
    ordered = times[order]
    n = len(order)
    if validation.share is not None:
        cuts = [n - max(1, int(round(n * validation.share)))]
    else:
        block = n // (validation.n_splits + 1)
        cuts = [n - (validation.n_splits - i) * block for i in range(validation.n_splits)]
    cuts = sorted({int(np.searchsorted(ordered, ordered[c], side="left")) for c in cuts if 0 < c < n})
    splits = []
    for start, stop in zip(cuts, cuts[1:] + [n]):
        tr, va = np.sort(order[:start]), np.sort(order[start:stop])
        if start == 0 or not len(va) or (classification and len(np.unique(y[tr])) < 2):
            continue
        splits.append((tr, va))
    if not splits:
        raise InputError(f"time-ordered validation found no fold with earlier training rows in "
                         f"{validation.time_column or 'the time column'!r} (too few distinct times or classes)")
    return splits


def group_codes(values, name: str) -> np.ndarray:
    """An integer code per row for grouped validation; a missing group is bad input."""
    series = pd.Series(values).reset_index(drop=True)
    missing = int(series.isna().sum())
    if missing:
        raise InputError(f"the groups {name!r} have {missing} missing value(s); every row needs a group")
    return pd.factorize(series)[0].astype(np.int64)


def time_order(values: pd.Series, name: str) -> np.ndarray:
    """An ordering key per row (float) from numbers or dates; missing or unreadable values are bad input."""
    s = values.reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(s):
        parsed = s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
    elif pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        parsed = pd.to_numeric(s, errors="coerce")
    else:
        text = s.astype("string").str.strip()
        parsed = pd.to_numeric(text, errors="coerce")
        if parsed.isna().sum() > s.isna().sum():  # not numbers: dates
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = pd.to_datetime(text, errors="coerce", format="mixed")
            parsed = parsed.dt.tz_localize(None) if getattr(parsed.dt, "tz", None) is not None else parsed
    bad = int(parsed.isna().sum())
    if bad:
        raise InputError(f"time column {name!r} has {bad} missing or unreadable value(s); every row needs a time "
                         f"(numbers or dates)")
    if pd.api.types.is_datetime64_any_dtype(parsed):
        return parsed.astype("int64").to_numpy(dtype=float)
    return parsed.to_numpy(dtype=float)


def subsample(train_idx: np.ndarray, fraction: float, seed: int, y: np.ndarray | None = None,
              options: SplitOptions | None = None) -> np.ndarray:
    """A seeded share of the training rows (every class kept when ``y`` is given). With groups: whole groups,
    so a low-fidelity model sees entities as the full one does; with times: the most recent rows, the ones
    nearest the validation block a forward-chaining fold scores."""
    if fraction >= 1.0:
        return train_idx
    rng = np.random.default_rng(seed)
    size = max(MIN_SUBSAMPLE_ROWS, int(round(len(train_idx) * fraction)))
    if size >= len(train_idx):
        return train_idx
    if options is not None and options.times is not None:
        chosen = train_idx[np.argsort(options.times[train_idx], kind="stable")[-size:]]
    elif options is not None and options.groups is not None:
        codes = options.groups[train_idx]
        picked = rng.permutation(np.unique(codes))
        counts = np.cumsum(pd.Series(codes).value_counts().reindex(picked).to_numpy())
        chosen = train_idx[np.isin(codes, picked[:int(np.searchsorted(counts, size)) + 1])]
    else:
        chosen = rng.choice(train_idx, size=size, replace=False)
    if y is not None:
        missing = np.setdiff1d(np.unique(y[train_idx]), np.unique(y[chosen]))
        extra = [train_idx[y[train_idx] == c][0] for c in missing]
        chosen = np.concatenate([chosen, np.asarray(extra, dtype=train_idx.dtype)])
    return np.sort(chosen)
