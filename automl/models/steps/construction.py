"""Feature construction: PCA, Nystroem kernel approximation (linear family), spline features."""
from __future__ import annotations

from sklearn.decomposition import PCA
from sklearn.kernel_approximation import Nystroem
from sklearn.preprocessing import SplineTransformer

from ...space import Float, Int
from ._step import Step


def _pca(params, task, seed):  # the components explaining that share of the variance
    return PCA(n_components=params["variance"], svd_solver="full", random_state=seed)


def _nystroem(params, task, seed):  # an RBF kernel's feature map, so a linear model fits a kernel machine
    return Nystroem(kernel="rbf", gamma=params["gamma"], n_components=params["n_components"], random_state=seed)


def _splines(params, task, seed):
    return SplineTransformer(n_knots=params["n_knots"], degree=3, extrapolation="linear")


def _nystroem_columns(n, params):
    return params["n_components"]


def _spline_columns(n, params):  # degree 3: n_knots + 2 splines a column
    return n * (params["n_knots"] + 2)


SLOT = "construction"
PCA_STEP = Step("pca", SLOT, _pca, (Float("variance", 0.5, 0.99, 0.9),), needs_imputed=True)
NYSTROEM = Step("nystroem", SLOT, _nystroem, (Float("gamma", 1e-3, 1.0, 0.05, log=True),
                                              Int("n_components", 50, 400, 100, log=True)),
                families=("linear",), needs_imputed=True, columns=_nystroem_columns)
SPLINES = Step("splines", SLOT, _splines, (Int("n_knots", 3, 8, 4),), needs_imputed=True,
               columns=_spline_columns)
