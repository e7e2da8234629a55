"""Validation protocol chosen by data size: k-fold CV for small data, holdout for large; seeded."""
from __future__ import annotations

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split


def choose_protocol(n_rows: int) -> str:
    if n_rows < 1_000:
        return "cv5"
    if n_rows < 10_000:
        return "cv3"
    return "holdout0.2"


def make_splits(y: np.ndarray, task: str, protocol: str, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/validation index pairs; stratified for classification (folds capped by the rarest class)."""
    n = len(y)
    idx = np.arange(n)
    classification = task != "regression"
    if protocol.startswith("cv"):
        k = int(protocol[2:])
        if classification:
            k = max(2, min(k, int(np.bincount(y).min())))
            cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
            return [(tr, va) for tr, va in cv.split(idx, y)]
        return [(tr, va) for tr, va in KFold(n_splits=k, shuffle=True, random_state=seed).split(idx)]
    share = float(protocol[len("holdout"):])
    strat = y if classification and np.bincount(y).min() >= 2 else None
    tr, va = train_test_split(idx, test_size=share, random_state=seed, stratify=strat)
    return [(np.sort(tr), np.sort(va))]


def subsample(train_idx: np.ndarray, fraction: float, seed: int, y: np.ndarray | None = None) -> np.ndarray:
    """A seeded share of the training rows (every class kept when ``y`` is given)."""
    if fraction >= 1.0:
        return train_idx
    rng = np.random.default_rng(seed)
    size = max(20, int(round(len(train_idx) * fraction)))
    if size >= len(train_idx):
        return train_idx
    chosen = rng.choice(train_idx, size=size, replace=False)
    if y is not None:
        missing = np.setdiff1d(np.unique(y[train_idx]), np.unique(y[chosen]))
        extra = [train_idx[y[train_idx] == c][0] for c in missing]
        chosen = np.concatenate([chosen, np.asarray(extra, dtype=train_idx.dtype)])
    return np.sort(chosen)
