"""Feature selection: univariate percentile (F-test or mutual information), L1-based, tree-importance based."""
from __future__ import annotations

from functools import partial

from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor
from sklearn.feature_selection import (SelectFromModel, SelectPercentile, f_classif, f_regression,
                                       mutual_info_classif, mutual_info_regression)
from sklearn.linear_model import Lasso
from sklearn.svm import LinearSVC

from ...space import Categorical, Float, Int
from ._step import Step


def _percentile(params, task, seed):
    regression = task == "regression"
    if params["score"] == "f_test":
        score = f_regression if regression else f_classif
    else:
        score = partial(mutual_info_regression if regression else mutual_info_classif, random_state=seed)
    return SelectPercentile(score, percentile=params["percentile"])


def _l1(params, task, seed):  # the features an L1-penalised linear model keeps (|coef| > 1e-5)
    if task == "regression":
        model = Lasso(alpha=params["strength"], max_iter=2000, random_state=seed)
    else:
        model = LinearSVC(penalty="l1", dual=False, C=1.0 / params["strength"], max_iter=2000, random_state=seed)
    return SelectFromModel(model, threshold=1e-5)


def _tree_importance(params, task, seed):  # extra trees read NaN, so this step serves the tree families too
    cls = ExtraTreesRegressor if task == "regression" else ExtraTreesClassifier
    return SelectFromModel(cls(n_estimators=50, random_state=seed, n_jobs=1), threshold=params["threshold"])


SLOT = "selection"
PERCENTILE = Step("percentile", SLOT, _percentile, (Int("percentile", 10, 90, 50),
                                                     Categorical("score", ("f_test", "mutual_info"), "f_test")),
                  needs_imputed=True)
L1 = Step("l1", SLOT, _l1, (Float("strength", 1e-3, 1.0, 0.01, log=True),), needs_imputed=True)
TREE_IMPORTANCE = Step("tree_importance", SLOT, _tree_importance,
                       (Categorical("threshold", ("mean", "median"), "median"),))
