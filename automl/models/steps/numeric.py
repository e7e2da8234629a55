"""Numeric transforms (after median imputation with missing indicators): standard, robust, quantile-normal,
Yeo-Johnson."""
from __future__ import annotations

from sklearn.preprocessing import PowerTransformer, QuantileTransformer, RobustScaler, StandardScaler

from ...space import Int
from ._step import Step


def _standard(params, task, seed):
    return StandardScaler()


def _robust(params, task, seed):
    return RobustScaler()


def _quantile(params, task, seed):  # (scikit-learn lowers n_quantiles to the rows it is fitted on)
    return QuantileTransformer(n_quantiles=params["n_quantiles"], output_distribution="normal",
                               subsample=100_000, random_state=seed)


def _yeo_johnson(params, task, seed):
    return PowerTransformer(method="yeo-johnson", standardize=True)


SLOT = "numeric_transform"
STANDARD = Step("standard", SLOT, _standard)
ROBUST = Step("robust", SLOT, _robust)
QUANTILE = Step("quantile", SLOT, _quantile, (Int("n_quantiles", 10, 1000, 100, log=True),))
YEO_JOHNSON = Step("yeo_johnson", SLOT, _yeo_johnson)
