"""Landmarkers: 3-fold scores of quick models on a seeded subsample of at most 600 rows.

Classification: balanced accuracy; regression: R^2 clipped to [-1, 1] (naive Bayes: missing).
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from ._context import SEED, Context, model_matrix

NAMES = ("landmark_stump", "landmark_tree3", "landmark_naive_bayes", "landmark_1nn", "landmark_linear")


def _score(task, y, pred) -> float:
    if task == "regression":
        ss = ((y - y.mean()) ** 2).sum()
        return float(np.clip(1 - ((y - pred) ** 2).sum() / ss, -1, 1)) if ss > 0 else 0.0
    from sklearn.metrics import balanced_accuracy_score
    return float(balanced_accuracy_score(y, pred))


def compute(ctx: Context) -> dict[str, float]:
    X, y = model_matrix(ctx)
    out = {k: np.nan for k in NAMES}
    if X.shape[1] == 0 or len(y) < 6:
        return out
    reg = ctx.task == "regression"
    if not reg:
        counts = np.bincount(y)
        k = int(min(3, counts[counts > 0].min()))
        if k < 2 or (counts > 0).sum() < 2:
            return out
        splitter = StratifiedKFold(k, shuffle=True, random_state=SEED)
    else:
        splitter = KFold(3, shuffle=True, random_state=SEED)
    X = StandardScaler().fit_transform(X)
    models = {
        "landmark_stump": (DecisionTreeRegressor if reg else DecisionTreeClassifier)(max_depth=1, random_state=SEED),
        "landmark_tree3": (DecisionTreeRegressor if reg else DecisionTreeClassifier)(max_depth=3, random_state=SEED),
        "landmark_naive_bayes": None if reg else GaussianNB(),
        "landmark_1nn": (KNeighborsRegressor if reg else KNeighborsClassifier)(n_neighbors=1),
        "landmark_linear": Ridge(alpha=1.0) if reg else LogisticRegression(max_iter=200),
    }
    folds = list(splitter.split(X, y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, model in models.items():
            if model is None:
                continue
            try:
                pred = np.empty_like(y, dtype=float)
                for tr, va in folds:
                    pred[va] = model.fit(X[tr], y[tr]).predict(X[va])
                out[name] = _score(ctx.task, y, pred if reg else pred.astype(int))
            except Exception:  # a failed landmarker is missing, never an error
                out[name] = np.nan
    return out
