"""The pipeline a configuration builds: text -> missing values -> categorical encoding -> numeric transform ->
selection -> construction -> model, each stage the step the configuration chose (``automl.models.steps``).

The text step comes first: it replaces the free-text columns by numbers or categories, which the later stages
then treat as the table's own (a table without text passes through it as it is). Families taking a numeric
transform (``Family.imputed``) get their ``missing`` step on the numbers (median or a constant, with missing
indicators) and a ``__missing__`` category first; tree families read NaN; LightGBM, which takes the text slot only,
reads numbers and categories itself. With every slot at the family's default, ``assemble`` builds exactly the
pipeline of the fixed preprocessing before steps were choices (``for_dense_models`` / ``for_trees``) on a table
without text.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from ..data import TEXT_DTYPE

_CATS = make_column_selector(dtype_include="category")
_NUMS = make_column_selector(dtype_exclude=["category", TEXT_DTYPE])  # (text columns are the text step's)


def assemble(config: dict, task: str, seed: int, model):
    """``model`` behind the preprocessing ``config`` chose (a stored configuration: omitted slots are the
    family's defaults)."""
    from .registry import REGISTRY
    from .steps import NONE, STEPS
    family = REGISTRY.get(config["family"])
    full = family.expanded(config, task)

    def step(slot):
        key = full.get(slot, NONE)
        if key == NONE:
            return None
        chosen = STEPS.get(key)
        return chosen.build(chosen.values(full), task, seed), chosen

    stages = [s[0] for s in (step("text"),) if s is not None]
    if "categorical_encoding" in dict(family.steps):  # (else the model reads numbers and categories itself)
        stages.append(_columns(family, step, task, seed))
    stages += [s[0] for s in (step("selection"), step("construction")) if s is not None]
    pipeline = make_pipeline(*stages, model)
    return EarlyStoppingPipeline(pipeline.steps) if family.iterations else pipeline


def _columns(family, step, task: str, seed: int) -> ColumnTransformer:
    """Numbers and categories as the configuration's ``missing``, ``categorical_encoding`` and
    ``numeric_transform`` steps make them (``step(slot)``: the built step and its record, or None)."""
    from .steps.missing import MEDIAN
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
    return ColumnTransformer([("num", num, _NUMS), ("cat", cat, _CATS)], sparse_threshold=0.0,
                             verbose_feature_names_out=False)


class EarlyStoppingPipeline(Pipeline):
    """A pipeline whose model stops early on validation rows given as the pipeline's input (the boosting families):
    ``fit``'s keyword arguments without a ``<step>__`` prefix go to the model, and its validation sets (``eval_set``,
    ``eval_X``, a ``BoostingFit``'s ``eval_set``) pass through the fitted transforms first, as the training rows do."""

    def fit(self, X, y=None, **params):
        name, model = self.steps[-1]
        transforms = [t for _, t in self.steps[:-1] if t is not None and t != "passthrough"]
        for transform in transforms:
            X = transform.fit_transform(X, y)

        def through(rows):
            for transform in transforms:
                rows = transform.transform(rows)
            return rows

        own = {k.removeprefix(f"{name}__"): v for k, v in params.items() if "__" not in k or k.startswith(f"{name}__")}
        if "eval_set" in own:
            own["eval_set"] = [(through(rows), target) for rows, target in own["eval_set"]]
        if "eval_X" in own:
            own["eval_X"] = tuple(through(rows) for rows in own["eval_X"])
        if getattr(own.get("boosting"), "eval_set", None) is not None:  # (``automl.models.boosting.BoostingFit``)
            rows, target = own["boosting"].eval_set
            own["boosting"] = replace(own["boosting"], eval_set=(through(rows), target))
        model.fit(X, y, **own)
        return self


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
