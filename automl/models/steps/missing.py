"""Missing numbers, for the families that cannot read NaN: median or a constant, each with missing indicators
(categories get a ``__missing__`` category either way)."""
from __future__ import annotations

from sklearn.impute import SimpleImputer

from ._step import Step


def _median(params, task, seed):
    return SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)


def _constant(params, task, seed):  # 0: after the indicator, a missing value reads as "absent"
    return SimpleImputer(strategy="constant", fill_value=0.0, add_indicator=True, keep_empty_features=True)


SLOT = "missing"
MEDIAN = Step("median_indicator", SLOT, _median, needs_imputed=True)
CONSTANT = Step("constant", SLOT, _constant, needs_imputed=True)
