"""A user model family: scikit-learn's histogram gradient boosting registered from Python (the worked example of
README "Your own model family"; issue 9).

    from automl.models import REGISTRY
    from tests.models.hist_gb_family import HIST_GB
    REGISTRY.register(HIST_GB)

``build`` is a module-level function, so worker processes can import it. The family's configurations
are keyed in the knowledge base by its name (``hist_gb``) and the search-space version like a built-in one.
"""
from __future__ import annotations

from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.pipeline import make_pipeline

from automl.models.preprocessing import for_trees
from automl.models.registry import Family
from automl.space import Float, Int


def build(config: dict, task: str, n_rows: int, n_classes: int, seed: int):
    kwargs = dict(max_iter=config["max_iter"], learning_rate=config["learning_rate"],
                  max_leaf_nodes=config["max_leaf_nodes"], min_samples_leaf=config["min_samples_leaf"],
                  l2_regularization=config["l2_regularization"], early_stopping=False, random_state=seed)
    model = (HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier)(**kwargs)
    return make_pipeline(for_trees(), model)  # NaN passes through: the trees handle it natively


HIST_GB = Family(
    key="hist_gb",
    tasks=("binary", "multiclass", "regression"),
    params=(
        Int("max_iter", 20, 400, 100, log=True),
        Float("learning_rate", 0.01, 0.5, 0.1, log=True),
        Int("max_leaf_nodes", 4, 64, 31, log=True),
        Int("min_samples_leaf", 2, 50, 20, log=True),
        Float("l2_regularization", 1e-3, 10.0, 1e-3, log=True),
    ),
    build=build,
    defaults=({"max_iter": 200, "learning_rate": 0.05, "max_leaf_nodes": 15},),
    cost=1.5,
)
