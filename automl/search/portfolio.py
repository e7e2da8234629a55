"""The static fallback portfolio: a small, hand-chosen, diverse list of configurations, as plain data.

Used by the ``warm`` strategy when the knowledge base has no suggestion (no past task is near, or no
store): the first candidates are then these, in this order (cheap and usually strong first, then
diversity across families and regularisation levels). Values missing from an entry take the family's
default; an entry names the values of every task (``C`` for the classifier, ``alpha`` for the regressor), and
``complete(entry, task)`` keeps the active ones. A portfolio rebuilt from the knowledge base
(``knowledge_base.portfolio``) reaches the search as suggestions instead. Families not listed here (e.g.
user-registered ones) contribute their default; the optional families (CatBoost, XGBoost) enter where installed.
"""
from __future__ import annotations

from ..models import Family

PORTFOLIO: tuple[dict, ...] = (
    {"family": "lightgbm", "learning_rate": 0.1, "num_leaves": 31, "min_child_samples": 20},
    {"family": "linear", "penalty": "l2", "C": 1.0, "alpha": 1e-3},
    {"family": "extra_trees", "n_estimators": 100, "max_features": 0.5, "min_samples_leaf": 1, "bootstrap": False},
    {"family": "lightgbm", "learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 10,
     "colsample_bytree": 0.7, "subsample": 0.8},
    {"family": "random_forest", "n_estimators": 100, "max_features": 0.3, "min_samples_leaf": 1, "bootstrap": True},
    {"family": "lightgbm", "learning_rate": 0.15, "num_leaves": 6, "min_child_samples": 20,
     "colsample_bytree": 0.9, "reg_lambda": 3.0},
    {"family": "lightgbm", "learning_rate": 0.05, "num_leaves": 63, "min_child_samples": 5,
     "colsample_bytree": 0.5, "reg_lambda": 1.0},
    {"family": "catboost", "learning_rate": 0.08, "depth": 6, "l2_leaf_reg": 3.0},
    {"family": "svm", "C": 1.0, "gamma": 0.05},
    {"family": "knn", "n_neighbors": 15, "weights": "distance", "p": 2},
    {"family": "xgboost", "learning_rate": 0.05, "max_depth": 6, "min_child_weight": 2.0, "subsample": 0.8,
     "colsample_bytree": 0.7},
    {"family": "lightgbm", "learning_rate": 0.02, "num_leaves": 31, "min_child_samples": 30, "subsample": 0.7,
     "colsample_bytree": 0.4, "reg_alpha": 0.1, "reg_lambda": 5.0},
    {"family": "mlp", "hidden": 64, "layers": 1, "alpha": 1e-3, "learning_rate_init": 1e-3},
    {"family": "extra_trees", "n_estimators": 150, "max_features": 1.0, "min_samples_leaf": 2, "bootstrap": False},
    {"family": "linear", "penalty": "elasticnet", "C": 0.05, "alpha": 0.1, "l1_ratio": 0.5},
)


def static_portfolio(families: list[Family], task: str | None = None) -> list[dict]:
    """The portfolio entries of the allowed ``families`` (canonical for ``task``), then the defaults of
    unlisted families."""
    allowed = {f.key: f for f in families}
    out = [allowed[c["family"]].complete(c, task) for c in PORTFOLIO if c["family"] in allowed]
    listed = {c["family"] for c in PORTFOLIO}
    out += [f.default_config(task) for f in families if f.key not in listed]
    return out


def family_defaults(families: list[Family], task: str | None = None) -> list[dict]:
    """Every family's default configuration (registry order), then its extra hand-chosen ones (canonical
    for ``task``)."""
    out = [f.default_config(task) for f in families]
    for f in families:
        out += [f.complete(c, task) for c in f.defaults]
    return out
