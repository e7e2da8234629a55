"""Support vector machines with an RBF kernel (small data only: the fit is quadratic in the rows)."""
from __future__ import annotations

from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import TransformedTargetRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR

from ..space import Categorical, Float
from .preprocessing import for_dense_models
from .registry import Family

PARAMS = (
    Float("C", 1e-2, 1e3, 1.0, log=True),
    Float("gamma", 1e-4, 3.0, 0.05, log=True),
    Float("epsilon", 1e-3, 1.0, 0.1, log=True),  # regression only (on the standardised target)
    Categorical("class_weight", ("none", "balanced"), "none"),
)


def build(config: dict, task: str, n_rows: int, n_classes: int, seed: int):
    if task == "regression":
        svr = make_pipeline(for_dense_models(), SVR(C=config["C"], gamma=config["gamma"], epsilon=config["epsilon"],
                                                    cache_size=100))
        return TransformedTargetRegressor(regressor=svr, transformer=StandardScaler())
    weight = None if config.get("class_weight", "none") == "none" else "balanced"
    # probabilities (ROC-AUC, log-loss, ensembling) by Platt scaling on 3 internal folds
    svc = CalibratedClassifierCV(SVC(C=config["C"], gamma=config["gamma"], class_weight=weight, cache_size=100),
                                 method="sigmoid", cv=3, ensemble=False)
    return make_pipeline(for_dense_models(), svc)

FAMILY = Family("svm", ("binary", "multiclass", "regression"), PARAMS, build, max_rows=3_000, cost=1.5,
                memory_per_cell=32.0)
