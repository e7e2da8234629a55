"""Linear models: logistic regression (classification) and ridge / lasso / elastic net (regression).

One ``penalty`` for both tasks: ``l2`` (logistic regression by lbfgs; ridge), ``l1`` (logistic regression
by saga; lasso), ``elasticnet`` (saga; elastic net) with ``l1_ratio`` active only then. ``C`` and
``class_weight`` are read by the classifier only, ``alpha`` by the regressor only.
"""
from __future__ import annotations

from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression, Ridge

from ..space import Categorical, Condition, Float
from .preprocessing import assemble
from .registry import CLASSIFICATION, DENSE_STEPS, REGRESSION, Family

PARAMS = (
    Categorical("penalty", ("l2", "l1", "elasticnet"), "l2"),
    Float("C", 1e-3, 100.0, 1.0, log=True, condition=CLASSIFICATION),
    Float("alpha", 1e-5, 10.0, 1e-3, log=True, condition=REGRESSION),
    Float("l1_ratio", 0.0, 1.0, 0.5, condition=Condition(parent="penalty", values=("elasticnet",))),
    Categorical("class_weight", ("none", "balanced"), "none", condition=CLASSIFICATION),
)


def build(config: dict, task: str, n_rows: int, n_classes: int, seed: int):
    penalty = config["penalty"]
    if task == "regression":
        if penalty == "l2":
            model = Ridge(alpha=config["alpha"], random_state=seed)
        elif penalty == "l1":
            model = Lasso(alpha=config["alpha"], max_iter=2000, random_state=seed)
        else:
            model = ElasticNet(alpha=config["alpha"], l1_ratio=config["l1_ratio"], max_iter=2000, random_state=seed)
    else:
        weight = None if config["class_weight"] == "none" else "balanced"
        if penalty == "l2":  # lbfgs: the exact L2 solution, and what space version 1 built
            model = LogisticRegression(C=config["C"], max_iter=300, class_weight=weight, random_state=seed)
        else:  # saga is scikit-learn's solver for L1 and elastic-net penalties
            l1_ratio = 1.0 if penalty == "l1" else config["l1_ratio"]
            model = LogisticRegression(C=config["C"], l1_ratio=l1_ratio, solver="saga",
                                       max_iter=300, class_weight=weight, random_state=seed)
    return assemble(config, task, seed, model)


def upgrade(config: dict, task: str | None) -> dict:
    """Space version 1 had no ``penalty``: its classifier was an L2 logistic regression, its regressor an
    elastic net."""
    if "penalty" in config:
        return config
    return {**config, "penalty": "elasticnet" if task == "regression" else "l2"}


FAMILY = Family("linear", ("binary", "multiclass", "regression"), PARAMS, build, cost=0.3, upgrade=upgrade,
                memory_per_cell=18.0, steps=DENSE_STEPS)
