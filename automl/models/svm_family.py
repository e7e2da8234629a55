"""Support vector machines with an RBF kernel (small data only: the fit is quadratic in the rows)."""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import TransformedTargetRegressor
from sklearn.frozen import FrozenEstimator
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR

from ..space import Categorical, Float
from .preprocessing import assemble
from .registry import CLASSIFICATION, DENSE_STEPS, REGRESSION, Family

PARAMS = (
    Float("C", 1e-2, 1e3, 1.0, log=True),
    Float("gamma", 1e-4, 3.0, 0.05, log=True),
    Float("epsilon", 1e-3, 1.0, 0.1, log=True, condition=REGRESSION),  # on the standardised target
    Categorical("class_weight", ("none", "balanced"), "none", condition=CLASSIFICATION),
)


class PlattSVC(ClassifierMixin, BaseEstimator):
    """RBF SVC with probabilities by Platt scaling on ``min(3, smallest class)`` internal folds, or on the
    training rows themselves when a class has one row (no fold could hold it out; scikit-learn's
    calibration refuses fewer rows per class than folds, which failed every SVM on data with rare classes)."""

    def __init__(self, C: float = 1.0, gamma: float = 0.05, class_weight=None, cache_size: float = 100) -> None:
        self.C = C
        self.gamma = gamma
        self.class_weight = class_weight
        self.cache_size = cache_size

    def fit(self, X, y):
        svc = SVC(C=self.C, gamma=self.gamma, class_weight=self.class_weight, cache_size=self.cache_size)
        folds = min(3, int(np.unique(y, return_counts=True)[1].min()))
        if folds >= 2:
            model = CalibratedClassifierCV(svc, method="sigmoid", cv=folds, ensemble=False)
        else:
            model = CalibratedClassifierCV(FrozenEstimator(svc.fit(X, y)), method="sigmoid")
        self.model_ = model.fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.model_.predict(X)


def build(config: dict, task: str, n_rows: int, n_classes: int, seed: int):
    if task == "regression":
        svr = assemble(config, task, seed, SVR(C=config["C"], gamma=config["gamma"], epsilon=config["epsilon"],
                                               cache_size=100))
        return TransformedTargetRegressor(regressor=svr, transformer=StandardScaler())
    weight = None if config["class_weight"] == "none" else "balanced"
    # probabilities (ROC-AUC, log-loss, ensembling) by Platt scaling
    return assemble(config, task, seed, PlattSVC(C=config["C"], gamma=config["gamma"], class_weight=weight))

FAMILY = Family("svm", ("binary", "multiclass", "regression"), PARAMS, build, max_rows=3_000, cost=1.5,
                memory_per_cell=32.0, steps=DENSE_STEPS, predict_cost_grows_with_rows=True)  # (support vectors)
