"""The linear family builds what its ``penalty`` says, for both tasks."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression, Ridge

from automl.models import REGISTRY

LINEAR = REGISTRY.get("linear")


def _wide_noisy(task: str, n: int = 300, p: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"x{i}" for i in range(p)])
    signal = X["x0"] - 2 * X["x1"] + rng.normal(scale=0.5, size=n)
    return X, (signal > 0).astype(np.int64).to_numpy() if task != "regression" else signal.to_numpy()


def _fit(config: dict, task: str):
    X, y = _wide_noisy(task)
    config = LINEAR.complete(config, task)
    return LINEAR.build(config, task, len(y), 2, 0).fit(X, y)[-1]


def test_l1_logistic_regression_is_sparse_and_l2_is_not():
    l1 = _fit({"family": "linear", "penalty": "l1", "C": 0.05}, "binary")
    l2 = _fit({"family": "linear", "penalty": "l2", "C": 0.05}, "binary")
    assert isinstance(l1, LogisticRegression) and l1.solver == "saga" and l1.l1_ratio == 1.0
    zero_l1, zero_l2 = ((np.abs(m.coef_) < 1e-8).sum() for m in (l1, l2))
    assert zero_l1 >= 40 and zero_l2 == 0  # 58 of the 60 columns are noise
    assert (np.abs(l1.coef_[0, :2]) > 0).all()
    enet = _fit({"family": "linear", "penalty": "elasticnet", "C": 0.05, "l1_ratio": 0.3}, "binary")
    assert enet.l1_ratio == 0.3


def test_regression_penalties_build_ridge_lasso_and_elastic_net():
    assert isinstance(_fit({"family": "linear", "penalty": "l2"}, "regression"), Ridge)
    lasso = _fit({"family": "linear", "penalty": "l1", "alpha": 0.1}, "regression")
    assert isinstance(lasso, Lasso) and (np.abs(lasso.coef_) < 1e-8).sum() >= 40
    enet = _fit({"family": "linear", "penalty": "elasticnet", "alpha": 0.1, "l1_ratio": 0.4}, "regression")
    assert isinstance(enet, ElasticNet) and enet.l1_ratio == 0.4
