"""The pipeline a configuration builds: missing values -> categorical encoding -> numeric transform ->
selection -> construction -> model, each stage the step the configuration chose (``automl.models.steps``).

Families taking a numeric transform (``Family.imputed``) get their ``missing`` step on the numbers (median or a
constant, with missing indicators) and a ``__missing__`` category first; tree families read NaN. With every slot at the family's default,
``assemble`` builds exactly the pipeline of the fixed preprocessing before steps were choices
(``for_dense_models`` / ``for_trees``).
"""
from __future__ import annotations

import numpy as np
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

_CATS = make_column_selector(dtype_include="category")
_NUMS = make_column_selector(dtype_exclude="category")


def assemble(config: dict, task: str, seed: int, model):
    """``model`` behind the preprocessing ``config`` chose (a stored configuration: omitted slots are the
    family's defaults)."""
    from .registry import REGISTRY
    from .steps import NONE, STEPS
    from .steps.missing import MEDIAN
    family = REGISTRY.get(config["family"])
    full = family.expanded(config, task)

    def step(slot):
        key = full.get(slot, NONE)
        if key == NONE:
            return None
        chosen = STEPS.get(key)
        return chosen.build(chosen.values(full), task, seed), chosen

    encoder, numeric, missing = step("categorical_encoding"), step("numeric_transform"), step("missing")
    if family.imputed:
        cat = [SimpleImputer(strategy="constant", fill_value="__missing__")]
        if encoder is not None:
            cat.append(encoder[0])
            if encoder[1].may_emit_nan:  # unseen categories at predict time
                cat.append(SimpleImputer(strategy="constant", fill_value=-1.0, keep_empty_features=True))
        fill = missing[0] if missing else MEDIAN.build({}, task, seed)  # a family without the slot: median
        num = make_pipeline(fill, *([numeric[0]] if numeric else []))
        cat = make_pipeline(*cat)
    else:
        num = "passthrough"
        cat = encoder[0] if encoder is not None else ordinal_codes()
    columns = ColumnTransformer([("num", num, _NUMS), ("cat", cat, _CATS)], sparse_threshold=0.0,
                                verbose_feature_names_out=False)
    later = [s[0] for s in (step("selection"), step("construction")) if s is not None]
    return make_pipeline(columns, *later, model)


def ordinal_codes() -> OrdinalEncoder:
    return OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan,
                          dtype=np.float64)


def for_trees() -> ColumnTransformer:
    """Numbers pass through (trees handle NaN); categories become ordinal codes, unseen -> NaN."""
    return ColumnTransformer([("num", "passthrough", _NUMS), ("cat", ordinal_codes(), _CATS)],
                             sparse_threshold=0.0, verbose_feature_names_out=False)


def for_dense_models(max_categories: int = 30) -> ColumnTransformer:
    """Median imputation with missing indicators and scaling; one-hot categories (rare ones grouped)."""
    return ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                              StandardScaler()), _NUMS),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="__missing__"),
                              OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=max_categories,
                                            sparse_output=False)), _CATS),
    ], sparse_threshold=0.0, verbose_feature_names_out=False)
