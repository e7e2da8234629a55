"""Linear models: logistic regression (classification), elastic net (regression)."""
from __future__ import annotations

from sklearn.linear_model import ElasticNet, LogisticRegression
from sklearn.pipeline import make_pipeline

from ..space import Categorical, Float
from .preprocessing import for_dense_models
from .registry import Family

PARAMS = (
    Float("C", 1e-3, 100.0, 1.0, log=True),
    Float("alpha", 1e-5, 10.0, 1e-3, log=True),
    Float("l1_ratio", 0.0, 1.0, 0.1),
    Categorical("class_weight", ("none", "balanced"), "none"),
)


def build(config: dict, task: str, n_rows: int, n_classes: int, seed: int):
    if task == "regression":
        model = ElasticNet(alpha=config["alpha"], l1_ratio=config["l1_ratio"], max_iter=2000, random_state=seed)
    else:
        weight = None if config.get("class_weight", "none") == "none" else "balanced"
        model = LogisticRegression(C=config["C"], max_iter=300, class_weight=weight, random_state=seed)
    return make_pipeline(for_dense_models(), model)


FAMILY = Family("linear", ("binary", "multiclass", "regression"), PARAMS, build, cost=0.3)
