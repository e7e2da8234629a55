"""Meta-features: a cheap, NaN- and category-robust description of a dataset.

``compute(X, y, task)`` returns a dict of floats in the order of ``FEATURE_NAMES``. A value that
cannot be computed is NaN (never an exception); for distances NaN is replaced by the population
median (0 after robust scaling), see ``scaling``. ``FEATURES`` documents every value.
"""
from __future__ import annotations

import logging
import time

import numpy as np

from . import _context, information, landmarkers, simple, statistical
from .scaling import RobustScaler, distance

METAFEATURES_VERSION = "1"

log = logging.getLogger("automl.metafeatures")

# name, group, definition, cost class (O(n d) on the capped subsample unless said otherwise)
FEATURES: tuple[tuple[str, str, str, str], ...] = (
    ("n_rows_log", "simple", "log10 of the number of rows", "O(1)"),
    ("n_features_log", "simple", "log10 of the number of feature columns", "O(1)"),
    ("features_per_row_log", "simple", "log10(features / rows)", "O(1)"),
    ("share_categorical", "simple", "share of non-numeric columns", "O(d)"),
    ("share_missing_cells", "simple", "share of missing cells (full table)", "O(n d)"),
    ("share_rows_with_missing", "simple", "share of rows with at least one missing value", "O(n d)"),
    ("n_classes", "simple", "number of classes (NaN for regression)", "O(n)"),
    ("majority_share", "simple", "share of the most frequent class (NaN for regression)", "O(n)"),
    ("minority_share", "simple", "share of the least frequent class (NaN for regression)", "O(n)"),
    ("class_entropy", "simple", "entropy of the class distribution in bits (NaN for regression)", "O(n)"),
    ("target_skewness", "simple", "skewness of the target (NaN for classification), clipped to +-50", "O(n)"),
    ("skewness_mean", "statistical", "mean |skewness| of numeric columns", "subsample"),
    ("skewness_max", "statistical", "max |skewness| of numeric columns", "subsample"),
    ("kurtosis_mean", "statistical", "mean excess kurtosis of numeric columns", "subsample"),
    ("kurtosis_max", "statistical", "max excess kurtosis of numeric columns", "subsample"),
    ("outlier_share", "statistical", "share of numeric cells with |z| > 3", "subsample"),
    ("mean_abs_correlation", "statistical", "mean |Pearson r| between numeric columns (first 50)", "subsample"),
    ("max_abs_correlation", "statistical", "max |Pearson r| between numeric columns (first 50)", "subsample"),
    ("share_binary_numeric", "statistical", "share of numeric columns with at most 2 values", "subsample"),
    ("cardinality_mean_log", "statistical", "mean log10(1 + distinct values) of categorical columns", "O(n d)"),
    ("cardinality_max_log", "statistical", "max log10(1 + distinct values) of categorical columns", "O(n d)"),
    ("attribute_entropy_mean", "information", "mean entropy (bits) of discretised columns (10 quantile bins)",
     "subsample"),
    ("mutual_information_mean", "information", "mean mutual information (bits) column vs target", "subsample"),
    ("mutual_information_max", "information", "max mutual information (bits) column vs target", "subsample"),
    ("equivalent_n_features_log", "information", "log10(1 + H(target) / mean MI)", "subsample"),
    ("noise_to_signal", "information", "(mean column entropy - mean MI) / mean MI, capped at 1000", "subsample"),
    ("landmark_stump", "landmarker", "3-fold score of a depth-1 tree (600 rows)", "landmark"),
    ("landmark_tree3", "landmarker", "3-fold score of a depth-3 tree (600 rows)", "landmark"),
    ("landmark_naive_bayes", "landmarker", "3-fold score of Gaussian naive Bayes (NaN for regression)", "landmark"),
    ("landmark_1nn", "landmarker", "3-fold score of 1-nearest neighbour on scaled features", "landmark"),
    ("landmark_linear", "landmarker", "3-fold score of logistic regression / ridge", "landmark"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f[0] for f in FEATURES)
_GROUPS = (("simple", simple), ("statistical", statistical), ("information", information),
           ("landmarker", landmarkers))


def compute(X, y, task: str, return_timings: bool = False):
    """Meta-features of ``X`` (DataFrame, mixed types, NaN) and ``y`` for ``task``; never raises."""
    values = {name: np.nan for name in FEATURE_NAMES}
    timings: dict[str, float] = {}
    start = time.perf_counter()
    try:
        ctx = _context.build(X, y, task)
    except Exception as exc:  # the table itself is unusable: everything missing
        log.warning("meta-features could not read the table: %s", exc)
        ctx = None
    timings["context"] = time.perf_counter() - start
    for group, module in _GROUPS:
        t0 = time.perf_counter()
        if ctx is not None:
            try:
                values.update({k: v for k, v in module.compute(ctx).items() if k in values})
            except Exception as exc:
                log.warning("meta-feature group %s failed: %s", group, exc)
        timings[group] = time.perf_counter() - t0
    out = {}
    for name in FEATURE_NAMES:
        v = values[name]
        try:
            v = float(v)
        except (TypeError, ValueError):
            v = float("nan")
        out[name] = v if np.isfinite(v) else float("nan")
    return (out, timings) if return_timings else out


__all__ = ["compute", "FEATURE_NAMES", "FEATURES", "METAFEATURES_VERSION", "RobustScaler", "distance"]
