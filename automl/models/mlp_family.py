"""A small multi-layer perceptron (small data only)."""
from __future__ import annotations

from sklearn.compose import TransformedTargetRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

from ..space import Categorical, Float, Int
from .preprocessing import assemble
from .registry import DENSE_STEPS, Family

PARAMS = (
    Int("hidden", 16, 256, 64, log=True),
    Categorical("layers", (1, 2), 1),
    Float("alpha", 1e-6, 1e-1, 1e-4, log=True),
    Float("learning_rate_init", 1e-4, 3e-2, 1e-3, log=True),
)


def build(config: dict, task: str, n_rows: int, n_classes: int, seed: int):
    sizes = (config["hidden"],) * config["layers"]
    cls = MLPRegressor if task == "regression" else MLPClassifier
    model = cls(hidden_layer_sizes=sizes, alpha=config["alpha"], learning_rate_init=config["learning_rate_init"],
                max_iter=200, early_stopping=n_rows >= 200, random_state=seed)
    pipeline = assemble(config, task, seed, model)
    if task == "regression":  # the network learns a standardised target
        return TransformedTargetRegressor(regressor=pipeline, transformer=StandardScaler())
    return pipeline


FAMILY = Family("mlp", ("binary", "multiclass", "regression"), PARAMS, build, max_rows=20_000, cost=1.2,
                steps=DENSE_STEPS)
