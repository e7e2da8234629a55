"""Meta-features: a cheap, robust description of a dataset for finding its nearest past datasets.

``compute(X, y, task)`` returns a dict of Python floats in the order of ``FEATURE_NAMES``. ``X`` is a
DataFrame (numeric, bool, datetime, ``category``/object/string columns, NaN and +-inf anywhere), ``y``
any labels (classification) or numbers (regression), ``task`` one of "binary", "multiclass",
"regression". ``FEATURES`` documents every value (name, group, definition, cost class; rendered in
``FEATURES.md``); ``METAFEATURES_VERSION`` changes whenever a definition changes.

Never raises: a value that cannot be computed (a failed group, too little data, a class-based value
for a regression task, an unknown task) is NaN, logged on ``automl.metafeatures``. NaN means
"missing"; for distances it becomes the population median (see ``scaling``). Deterministic: every
sample is drawn with a fixed seed, and compute runs BLAS/OpenMP pools on one thread.
"""
from __future__ import annotations

import contextlib
import importlib
import logging
import math
import time
from typing import NamedTuple

import numpy as np

from . import _context
from ._context import TASKS
from .scaling import CLIP, RobustScaler, distance, distances, nearest

METAFEATURES_VERSION = "2"

log = logging.getLogger("automl.metafeatures")


class Feature(NamedTuple):
    name: str
    group: str
    definition: str
    cost: str


# Cost classes: see COST_CLASSES.
FEATURES: tuple[Feature, ...] = (
    Feature("n_rows_log", "simple", "log10(number of rows); OpenML NumberOfInstances", "O(1)"),
    Feature("n_features_log", "simple", "log10(number of feature columns); OpenML NumberOfFeatures - 1 (OpenML "
            "counts the target)", "O(1)"),
    Feature("features_per_row_log", "simple", "log10(features / rows) (OpenML Dimensionality, logged)", "O(1)"),
    Feature("share_categorical", "simple", "share of non-numeric columns (category/object/string); the numeric "
            "share is 1 - this and is not stored twice", "O(d)"),
    Feature("share_missing_cells", "simple", "share of missing cells (pandas isna); OpenML "
            "PercentageOfMissingValues / 100 without the target column", "scan"),
    Feature("share_rows_with_missing", "simple", "share of rows with a missing cell; OpenML "
            "PercentageOfInstancesWithMissingValues / 100", "scan"),
    Feature("share_columns_with_missing", "simple", "share of columns with a missing cell; OpenML "
            "PercentageOfFeaturesWithMissingValues / 100 without the target", "scan"),
    Feature("n_classes", "simple", "number of distinct known labels; OpenML NumberOfClasses (NaN for "
            "regression)", "scan"),
    Feature("majority_share", "simple", "share of the most frequent class; OpenML MajorityClassPercentage / 100 "
            "(NaN for regression)", "scan"),
    Feature("minority_share", "simple", "share of the least frequent class; OpenML MinorityClassPercentage / 100 "
            "(NaN for regression)", "scan"),
    Feature("class_entropy", "simple", "entropy of the class distribution in bits; OpenML ClassEntropy, pymfe "
            "class_ent (NaN for regression)", "scan"),
    Feature("class_balance", "simple", "class_entropy / log2(n_classes), 1 = balanced (NaN for regression or "
            "one class)", "scan"),
    Feature("target_skewness", "simple", "skewness of the regression target (population moment; NaN for "
            "classification, 0 for a constant target)", "scan"),
    Feature("skewness_mean", "statistical", "mean |skewness| of the usable numeric columns (population "
            "moments; pymfe skewness with |.| and mean)", "sample"),
    Feature("skewness_max", "statistical", "max |skewness| of the usable numeric columns", "sample"),
    Feature("kurtosis_mean", "statistical", "mean excess kurtosis of the usable numeric columns (pymfe "
            "kurtosis.mean)", "sample"),
    Feature("kurtosis_max", "statistical", "max excess kurtosis of the usable numeric columns", "sample"),
    Feature("outlier_share", "statistical", "share of known numeric cells more than 3 standard deviations from "
            "their column mean", "sample"),
    Feature("correlation_mean", "statistical", "mean |Pearson r| over pairs of usable numeric columns (missing "
            "at the mean; pymfe cor.mean)", "sample"),
    Feature("correlation_max", "statistical", "max |Pearson r| over pairs of usable numeric columns", "sample"),
    Feature("pca_95_share", "statistical", "principal components (of the correlation matrix) explaining 95 % "
            "of the variance / usable numeric columns", "sample"),
    Feature("share_binary_numeric", "statistical", "share of numeric columns (with a known value) that have at "
            "most 2 distinct known values", "sample"),
    Feature("share_zero_cells", "statistical", "share of known numeric cells equal to 0 (sparsity)", "sample"),
    Feature("target_association_mean", "statistical", "mean over usable numeric columns of the correlation "
            "ratio eta with the class (classification) or |Pearson r| with the target (regression), in [0, 1]",
            "sample"),
    Feature("target_association_max", "statistical", "max of the same per-column association", "sample"),
    Feature("cardinality_mean_log", "statistical", "mean log10(1 + distinct levels) of categorical columns "
            "(0 without categorical columns)", "scan"),
    Feature("cardinality_max_log", "statistical", "max log10(1 + distinct levels) of categorical columns "
            "(0 without categorical columns)", "scan"),
    Feature("attribute_entropy_mean", "information", "mean entropy (bits) of the discretised columns (10 "
            "equal-frequency bins; pymfe attr_ent with num_bins=10)", "sample"),
    Feature("mutual_information_mean", "information", "mean mutual information (bits) between discretised "
            "column and target (pymfe mut_inf.mean)", "sample"),
    Feature("mutual_information_max", "information", "max mutual information (bits) column vs target",
            "sample"),
    Feature("equivalent_n_features_log", "information", "log10(1 + H(target) / mean MI) (pymfe eq_num_attr, "
            "logged)", "sample"),
    Feature("noise_to_signal_log", "information", "log10(1 + (mean column entropy - mean MI) / mean MI) (pymfe "
            "ns_ratio, logged)", "sample"),
    Feature("landmark_stump", "landmarker", "3-fold score of a depth-1 decision tree", "landmark"),
    Feature("landmark_tree3", "landmarker", "3-fold score of a depth-3 decision tree", "landmark"),
    Feature("landmark_naive_bayes", "landmarker", "3-fold score of Gaussian naive Bayes (NaN for regression)",
            "landmark"),
    Feature("landmark_1nn", "landmarker", "3-fold score of 1-nearest neighbour on standardised columns",
            "landmark"),
    Feature("landmark_linear", "landmarker", "3-fold score of a ridge (alpha=1) linear model: RidgeClassifier / "
            "Ridge", "landmark"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
COST_CLASSES = {
    "O(1)": "sizes only",
    "O(d)": "one look at each column's dtype",
    "scan": (f"one pass over every row (a seeded sample of {_context.SCAN_ROWS:,} rows on longer tables; "
             f"levels are counted on at most {_context.CARDINALITY_CELLS:,} categorical cells)"),
    "sample": f"the seeded sample of at most {_context.STATS_ROWS:,} rows x {_context.MAX_COLUMNS} columns",
    "landmark": f"3-fold fits on at most {_context.LANDMARK_ROWS:,} sample rows with a known target",
}
GROUPS: tuple[str, ...] = ("simple", "statistical", "information", "landmarker")
# each group's module, imported on first use: the landmarkers import scikit-learn (about 1 s), which reading the
# names and versions (``import knowledge_base``, every ``automl kb`` command) does not need
_MODULES = {"simple": "simple", "statistical": "statistical", "information": "information", "landmarker": "landmarkers"}

_SCORES = ("Scores: classification = balanced accuracy of pooled out-of-fold predictions (chance = "
           "1/n_classes); regression = R^2 clipped to [-1, 1].")


def feature_table_markdown() -> str:
    """The ``FEATURES`` table as the Markdown of ``FEATURES.md``."""
    lines = [f"# Meta-features (version {METAFEATURES_VERSION})", "",
             "Generated from `metafeatures.FEATURES` by `metafeatures.feature_table_markdown()`; a test keeps "
             "them equal.", "",
             "Cost classes: " + "; ".join(f"`{k}` {v}" for k, v in COST_CLASSES.items()) + ". " + _SCORES, "",
             "Missing values: a value that cannot be computed is NaN; in distances NaN counts as the population "
             "median (0 after robust scaling, see `metafeatures/scaling.py`). \"Usable\" numeric columns have "
             "at least 2 known values and a non-zero spread; +-inf counts as missing in statistics.", "",
             "| # | name | group | definition | cost |", "|---|---|---|---|---|"]
    for i, f in enumerate(FEATURES, 1):
        definition = f.definition.replace("|", "\\|")
        lines.append(f"| {i} | `{f.name}` | {f.group} | {definition} | {f.cost} |")
    return "\n".join(lines) + "\n"


_controller = None


def _limit_threads():
    """BLAS and OpenMP pools on one thread while computing (the libraries are looked up once: 30 ms)."""
    global _controller
    try:
        if _controller is None:
            from threadpoolctl import ThreadpoolController
            _controller = ThreadpoolController()
        return _controller.limit(limits=1)
    except Exception:  # threadpoolctl missing or unusable: run as is
        return contextlib.nullcontext()


def compute_with_timings(X, y, task: str) -> tuple[dict[str, float], dict[str, float]]:
    """``compute`` plus seconds per stage: "context" (shared precompute), each group, and "total"."""
    values: dict[str, float] = dict.fromkeys(FEATURE_NAMES, math.nan)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    if task not in _context.TASKS:
        log.warning("unknown task %r (expected one of %s): target-based meta-features are missing",
                    task, ", ".join(_context.TASKS))
    with _limit_threads(), np.errstate(all="ignore"):  # overflow on extreme values: the value ends up NaN
        try:
            ctx = _context.build(X, y, task)
        except Exception as exc:  # the table itself is unusable: every value missing
            log.warning("meta-features could not read the table: %s", exc,
                        exc_info=log.isEnabledFor(logging.DEBUG))
            ctx = None
        timings["context"] = time.perf_counter() - start
        for group in GROUPS:
            t0 = time.perf_counter()
            if ctx is not None:
                try:
                    for k, v in importlib.import_module(f".{_MODULES[group]}", __name__).compute(ctx).items():
                        if k in values:
                            values[k] = v
                except Exception as exc:
                    log.warning("meta-feature group %s failed: %s", group, exc,
                                exc_info=log.isEnabledFor(logging.DEBUG))
            timings[group] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - start
    out = {}
    for name in FEATURE_NAMES:
        try:
            v = float(values[name])
        except (TypeError, ValueError):
            v = math.nan
        out[name] = v if math.isfinite(v) else math.nan
    return out, timings


def compute(X, y, task: str, return_timings: bool = False):
    """Meta-features of ``X`` and ``y`` for ``task`` as ``{name: float}`` in ``FEATURE_NAMES`` order.

    With ``return_timings=True`` returns ``(values, timings)`` as ``compute_with_timings`` does.
    """
    values, timings = compute_with_timings(X, y, task)
    return (values, timings) if return_timings else values


__all__ = ["CLIP", "COST_CLASSES", "FEATURES", "FEATURE_NAMES", "GROUPS", "METAFEATURES_VERSION", "Feature",
           "RobustScaler", "TASKS", "compute", "compute_with_timings", "distance", "distances",
           "feature_table_markdown", "nearest"]
