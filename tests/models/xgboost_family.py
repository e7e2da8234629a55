"""A user model family: scikit-learn's XGBoost wrapper registered from Python (the worked example of
README "Your own model family"; issue 9).

    from automl.models import REGISTRY
    from tests.models.xgboost_family import XGBOOST
    REGISTRY.register(XGBOOST)

``build`` is a module-level function, so worker processes can import it. The family's configurations
are keyed in the knowledge base by its name (``xgboost``) and the search-space version like a built-in one.
"""
from __future__ import annotations

from sklearn.pipeline import make_pipeline

from automl.models.preprocessing import for_trees
from automl.models.registry import Family
from automl.space import Float, Int


def build(config: dict, task: str, n_rows: int, n_classes: int, seed: int):
    from xgboost import XGBClassifier, XGBRegressor
    kwargs = dict(n_estimators=config["n_estimators"], learning_rate=config["learning_rate"],
                  max_depth=config["max_depth"], subsample=config["subsample"],
                  colsample_bytree=config["colsample_bytree"], reg_lambda=config["reg_lambda"],
                  tree_method="hist", n_jobs=1, random_state=seed, verbosity=0)
    model = XGBRegressor(**kwargs) if task == "regression" else XGBClassifier(**kwargs)
    return make_pipeline(for_trees(), model)  # NaN passes through: XGBoost handles it natively


XGBOOST = Family(
    key="xgboost",
    tasks=("binary", "multiclass", "regression"),
    params=(
        Int("n_estimators", 20, 400, 100, log=True),
        Float("learning_rate", 0.01, 0.5, 0.1, log=True),
        Int("max_depth", 2, 10, 6),
        Float("subsample", 0.5, 1.0, 1.0),
        Float("colsample_bytree", 0.3, 1.0, 1.0),
        Float("reg_lambda", 1e-3, 10.0, 1.0, log=True),
    ),
    build=build,
    defaults=({"n_estimators": 200, "learning_rate": 0.05, "max_depth": 4},),
    cost=1.5,
)
