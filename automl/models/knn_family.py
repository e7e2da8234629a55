"""k-nearest neighbours on scaled, one-hot encoded features (small data only)."""
from __future__ import annotations

from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from ..space import Categorical, Int
from .preprocessing import assemble
from .registry import DENSE_STEPS, Family

PARAMS = (
    Int("n_neighbors", 1, 50, 7, log=True),
    Categorical("weights", ("uniform", "distance"), "distance"),
    Categorical("p", (1, 2), 2),
)


def build(config: dict, task: str, n_rows: int, n_classes: int, seed: int):
    k = max(1, min(config["n_neighbors"], max(1, int(n_rows * 0.6))))
    cls = KNeighborsRegressor if task == "regression" else KNeighborsClassifier
    return assemble(config, task, seed, cls(n_neighbors=k, weights=config["weights"], p=config["p"], n_jobs=1))


FAMILY = Family("knn", ("binary", "multiclass", "regression"), PARAMS, build, max_rows=50_000, cost=0.5,
                steps=DENSE_STEPS, predict_threads="n_jobs",  # (each query row's neighbours on their own)
                predict_cost_grows_with_rows=True)  # (each query row is compared with every training row)
