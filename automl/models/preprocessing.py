"""Per-family preprocessing for the cleaned table (float64 + category columns, NaN anywhere)."""
from __future__ import annotations

import numpy as np
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

_CATS = make_column_selector(dtype_include="category")
_NUMS = make_column_selector(dtype_exclude="category")


def for_trees() -> ColumnTransformer:
    """Numbers pass through (trees handle NaN); categories become ordinal codes, unseen -> NaN."""
    return ColumnTransformer([
        ("num", "passthrough", _NUMS),
        ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                               encoded_missing_value=np.nan, dtype=np.float64), _CATS),
    ], sparse_threshold=0.0, verbose_feature_names_out=False)


def for_dense_models(max_categories: int = 30) -> ColumnTransformer:
    """Median imputation with missing indicators and scaling; one-hot categories (rare ones grouped)."""
    return ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                              StandardScaler()), _NUMS),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="__missing__"),
                              OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=max_categories,
                                            sparse_output=False)), _CATS),
    ], sparse_threshold=0.0, verbose_feature_names_out=False)
