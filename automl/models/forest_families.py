"""Random forests and extremely randomised trees (scikit-learn; NaN handled natively). They predict on one thread:
scikit-learn's threaded prediction adds the trees' probabilities in the order the threads finish, so its last bits
vary (``Family.predict_threads`` only names a thread count the predictions do not depend on)."""
from __future__ import annotations

from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor, RandomForestClassifier, RandomForestRegressor

from ..space import Categorical, Condition, Float, Int
from .preprocessing import assemble
from .registry import CLASSIFICATION, TREE_STEPS, Family

PARAMS = (
    Int("n_estimators", 50, 500, 100, log=True),
    Float("max_features", 0.05, 1.0, 0.5, log=True),
    Int("min_samples_leaf", 1, 20, 1, log=True),
    Categorical("bootstrap", (True, False), True),
    Float("max_samples", 0.3, 1.0, 1.0, condition=Condition(parent="bootstrap")),  # share of rows per tree
    Categorical("class_weight", ("none", "balanced"), "none", condition=CLASSIFICATION),
)


def _builder(classifier, regressor):
    def build(config: dict, task: str, n_rows: int, n_classes: int, seed: int):
        kwargs = dict(n_estimators=config["n_estimators"], max_features=config["max_features"],
                      min_samples_leaf=config["min_samples_leaf"], bootstrap=config["bootstrap"],
                      max_samples=config["max_samples"] if config.get("max_samples", 1.0) < 1.0 else None,
                      random_state=seed, n_jobs=1)
        if task == "regression":
            model = regressor(**kwargs)
        else:
            weight = None if config["class_weight"] == "none" else "balanced"
            model = classifier(class_weight=weight, **kwargs)
        return assemble(config, task, seed, model)
    return build


RANDOM_FOREST = Family("random_forest", ("binary", "multiclass", "regression"), PARAMS,
                       _builder(RandomForestClassifier, RandomForestRegressor), cost=1.5,
                       cost_exponents=(("n_estimators", 0.78), ("max_features", 0.26)), steps=TREE_STEPS)
EXTRA_TREES = Family("extra_trees", ("binary", "multiclass", "regression"),
                     tuple(p if p.name != "bootstrap" else Categorical("bootstrap", (False, True), False)
                           for p in PARAMS),
                     _builder(ExtraTreesClassifier, ExtraTreesRegressor), cost=1.0,
                     cost_exponents=(("n_estimators", 0.69),), steps=TREE_STEPS)
