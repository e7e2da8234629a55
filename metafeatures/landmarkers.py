"""Landmarkers: 3-fold cross-validated scores of quick models on a seeded sample of ``LANDMARK_ROWS`` rows.

Input matrix: numeric columns (missing at the column median) plus one-hot indicators of the most
frequent levels of each categorical column, all standardised. Classification: balanced accuracy of the
pooled out-of-fold predictions (1/K = chance, 1 = perfect; stratified folds). Regression: R^2 of the
pooled out-of-fold predictions clipped to [-1, 1] (0 = predicting the mean); naive Bayes has no
regression counterpart and is missing. Fewer than 6 rows with a known target, one class, or no column:
all missing.
"""
from __future__ import annotations

import logging
import warnings

import numpy as np
from sklearn.linear_model import Ridge, RidgeClassifier
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from ._context import LANDMARK_ROWS, SEED, Context, sample_rows

log = logging.getLogger("automl.metafeatures")

NAMES = ("landmark_stump", "landmark_tree3", "landmark_naive_bayes", "landmark_1nn", "landmark_linear")
N_FOLDS = 3
MIN_ROWS = 6
MAX_ONEHOT = 200  # one-hot columns in all; each categorical column gets at most 10 of them


def model_matrix(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """Standardised design matrix and target on at most LANDMARK_ROWS sample rows with a known target."""
    idx = np.flatnonzero(ctx.y_known)
    if len(idx) < MIN_ROWS:
        return np.empty((len(idx), 0)), np.empty(len(idx))
    pick = sample_rows(len(idx), LANDMARK_ROWS, "landmark")
    if pick is not None:
        idx = idx[pick]
    parts = []
    num = ctx.num[idx]
    if num.shape[1]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-missing columns
            med = np.nanmedian(num, axis=0)
        num = np.where(np.isnan(num), np.where(np.isnan(med), 0.0, med), num)
        parts.append(num)
    n_cat = ctx.cat.shape[1]
    if n_cat:
        per_column = int(max(1, min(10, MAX_ONEHOT // n_cat)))
        cat = ctx.cat[idx]
        for j in range(n_cat):
            levels = min(per_column, int(ctx.cat_levels[j]))
            if levels:
                parts.append((cat[:, j][:, None] == np.arange(levels)[None, :]).astype(float))
    X = np.hstack(parts) if parts else np.empty((len(idx), 0))
    sd = X.std(axis=0)
    keep = sd > 1e-12 * (np.abs(X).max(axis=0) + 1.0)
    X = (X[:, keep] - X[:, keep].mean(axis=0)) / sd[keep]
    y = ctx.y[idx] if ctx.task == "regression" else ctx.class_codes[idx]
    return X, y


def _score(task: str, y: np.ndarray, pred: np.ndarray) -> float:
    if task == "regression":
        ss = float(((y - y.mean()) ** 2).sum())
        return float(np.clip(1.0 - ((y - pred) ** 2).sum() / ss, -1.0, 1.0)) if ss > 0 else np.nan
    classes = np.unique(y)
    return float(np.mean([(pred[y == c] == c).mean() for c in classes]))


def _folds(task: str, X: np.ndarray, y: np.ndarray) -> list:
    if task != "regression":
        counts = np.bincount(y)
        if counts.max() >= N_FOLDS:  # a class smaller than the folds is spread as far as it goes
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                return list(StratifiedKFold(N_FOLDS, shuffle=True, random_state=SEED).split(X, y))
    return list(KFold(N_FOLDS, shuffle=True, random_state=SEED).split(X))


def _models(task: str) -> dict:
    """The models per landmarker; the stump is read off the depth-3 tree (see ``root_split_predict``)."""
    if task == "regression":
        return {"landmark_tree3": DecisionTreeRegressor(max_depth=3, random_state=SEED),
                "landmark_naive_bayes": None,
                "landmark_1nn": KNeighborsRegressor(n_neighbors=1, algorithm="brute"),
                "landmark_linear": Ridge(alpha=1.0)}
    return {"landmark_tree3": DecisionTreeClassifier(max_depth=3, random_state=SEED),
            "landmark_naive_bayes": GaussianNB(),
            "landmark_1nn": KNeighborsClassifier(n_neighbors=1, algorithm="brute"),
            "landmark_linear": RidgeClassifier(alpha=1.0)}


def root_split_predict(tree, X: np.ndarray) -> np.ndarray:
    """Predictions of the depth-1 tree (stump) that a fitted deeper tree starts with.

    A greedy tree chooses its root split exactly as a stump with the same criterion and random state does,
    and a node's value is what a leaf there would predict, so one depth-3 fit gives both landmarkers.
    """
    t = tree.tree_
    left, right = t.children_left[0], t.children_right[0]
    if left < 0:  # the root is a leaf
        node = np.zeros(len(X), dtype=np.intp)
    else:  # trees compare float32 features with float64 thresholds
        node = np.where(X[:, t.feature[0]].astype(np.float32) <= t.threshold[0], left, right)
    value = t.value[node, 0, :]
    if hasattr(tree, "classes_"):
        return tree.classes_.take(np.argmax(value, axis=1))
    return value[:, 0]


def _fit_predict(model, X_tr, y_tr, X_va, task: str) -> dict[str, np.ndarray]:
    if task != "regression" and np.unique(y_tr).size < 2:  # a fold with one class: predict it
        constant = np.full(len(X_va), y_tr[0])
        return {"main": constant, "stump": constant}
    model.fit(X_tr, y_tr)
    out = {"main": model.predict(X_va)}
    if isinstance(model, (DecisionTreeClassifier, DecisionTreeRegressor)):
        out["stump"] = root_split_predict(model, X_va)
    return out


def compute(ctx: Context) -> dict[str, float]:
    out = dict.fromkeys(NAMES, np.nan)
    if ctx.task is None:
        return out
    X, y = model_matrix(ctx)
    if X.shape[1] == 0 or len(y) < MIN_ROWS or np.unique(y).size < 2:
        return out
    folds = _folds(ctx.task, X, y)
    dtype = float if ctx.task == "regression" else np.int64
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate-fold warnings
        for name, model in _models(ctx.task).items():
            if model is None:
                continue
            try:
                pred = {"main": np.empty(len(y), dtype=dtype), "stump": np.empty(len(y), dtype=dtype)}
                for tr, va in folds:
                    for kind, p in _fit_predict(model, X[tr], y[tr], X[va], ctx.task).items():
                        pred[kind][va] = p
                out[name] = _score(ctx.task, y, pred["main"])
                if name == "landmark_tree3":
                    out["landmark_stump"] = _score(ctx.task, y, pred["stump"])
            except Exception as exc:  # one failed landmarker is missing, the others stay
                log.warning("landmarker %s failed: %s", name, exc)
    return out
