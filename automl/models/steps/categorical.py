"""Categorical encodings: one-hot (rare categories grouped), ordinal codes, target encoding (cross-fitted)."""
from __future__ import annotations

from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.preprocessing import OneHotEncoder, TargetEncoder

from ...space import Int
from ..preprocessing import ordinal_codes
from ._step import Step


def _onehot(params, task, seed):
    return OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=params["max_categories"],
                         sparse_output=False)


def _ordinal(params, task, seed):  # unseen and missing -> NaN (trees split on it; imputed families fill it)
    return ordinal_codes()


def _target(params, task, seed):
    # fit_transform (what a Pipeline's fit calls) encodes each row with statistics of the other internal folds:
    # the model never trains on a row's own target; transform (validation, predict) uses all training rows
    regression = task == "regression"
    folds = (KFold if regression else StratifiedKFold)(5, shuffle=True, random_state=seed)
    return TargetEncoder(target_type="continuous" if regression else "auto", cv=folds)


SLOT = "categorical_encoding"
ONEHOT = Step("onehot", SLOT, _onehot, (Int("max_categories", 4, 64, 30, log=True),))
ORDINAL = Step("ordinal", SLOT, _ordinal, may_emit_nan=True)
TARGET = Step("target", SLOT, _target)
