"""Awkward tables never raise: every value is finite or NaN, and the values that can be known are."""
from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
import pytest

import metafeatures
from metafeatures import statistical

from ._tables import assert_valid, make_dataset


def _nan_inf():
    X, y = make_dataset(60, missing=0.2)
    X.loc[0, "x0"], X.loc[1, "x1"], X.loc[2, "x2"] = np.inf, -np.inf, np.nan
    return X, y, "binary"


def _constant_and_all_missing():
    X, y = make_dataset(60)
    X["const"] = 3.0
    X["empty"] = np.nan
    X["empty_cat"] = pd.Categorical([None] * 60, categories=["a"])
    return X, y, "binary"


def _only_constant():
    return pd.DataFrame({"k": np.ones(30)}), np.arange(30) % 2, "binary"


def _one_feature():
    X, y = make_dataset(80, n_numeric=1, n_categorical=0)
    return X, y, "binary"


def _one_categorical_feature():
    X, y = make_dataset(80, n_numeric=1, n_categorical=1)
    return X[["c0"]], y, "binary"


def _ten_rows():
    X, y = make_dataset(10, task="multiclass")
    return X, y, "multiclass"


def _thousand_categories():
    rng = np.random.default_rng(0)
    levels = [f"v{i}" for i in range(1000)]
    X = pd.DataFrame({"id": pd.Categorical.from_codes(rng.integers(0, 1000, 3000), levels),
                      "x": rng.normal(size=3000)})
    return X, (X["x"] > 0).astype(int).to_numpy(), "binary"


def _two_member_class():
    X, y = make_dataset(60, task="multiclass")
    y = y.copy()
    y[:2] = 7
    return X, y, "multiclass"


def _singleton_class():
    X, y = make_dataset(40)
    y = y.astype(object)
    y[5] = "lonely"
    return X, y, "multiclass"


def _raw_types():
    n = 50
    rng = np.random.default_rng(1)
    X = pd.DataFrame({
        "obj": rng.choice(["red", "green", None], n).astype(object),
        "mixed": pd.Series([1, "a", 2.5, None, "b"] * 10, dtype=object),
        "flag": rng.random(n) > 0.5,
        "count": rng.integers(0, 5, n),
        "nullable": pd.array(list(rng.integers(0, 3, n - 1)) + [None], dtype="Int64"),
        "when": pd.date_range("2020-01-01", periods=n, freq="D"),
        "text": pd.array([f"t{i % 7}" for i in range(n)], dtype="string"),
        "unhashable": pd.Series([[i % 3] for i in range(n)], dtype=object),
    })
    return X, np.where(rng.random(n) > 0.5, "yes", "no"), "binary"


def _duplicate_names():
    X, y = make_dataset(40)
    X.columns = ["a"] * X.shape[1]
    return X, y, "binary"


def _numpy_input():
    X, y = make_dataset(40, n_categorical=0)
    return X.to_numpy(), list(y), "binary"


def _missing_targets():
    X, y = make_dataset(40)
    y = y.astype(float)
    y[:10] = np.nan
    return X, y, "binary"


def _regression_with_inf_target():
    X, y = make_dataset(40, task="regression")
    y[0], y[1] = np.inf, np.nan
    return X, y, "regression"


def _constant_target():
    X, _ = make_dataset(40)
    return X, np.zeros(40), "regression"


def _one_class():
    X, _ = make_dataset(40)
    return X, np.ones(40, dtype=int), "binary"


def _no_columns():
    return pd.DataFrame(index=range(20)), np.arange(20) % 2, "binary"


def _no_rows():
    X, y = make_dataset(5)
    return X.iloc[:0], y[:0], "binary"


def _one_row():
    X, y = make_dataset(5)
    return X.iloc[:1], y[:1], "binary"


def _all_target_missing():
    X, _ = make_dataset(30)
    return X, np.full(30, np.nan), "regression"


def _huge_values():
    X, y = make_dataset(40, n_categorical=0)
    X["big"] = np.r_[1e300, -1e300, np.zeros(38)]
    X["tiny"] = np.r_[1e-300, np.zeros(39)]
    return X, y, "binary"


CASES = {f.__name__[1:]: f for f in (
    _nan_inf, _constant_and_all_missing, _only_constant, _one_feature, _one_categorical_feature, _ten_rows,
    _thousand_categories, _two_member_class, _singleton_class, _raw_types, _duplicate_names, _numpy_input,
    _missing_targets, _regression_with_inf_target, _constant_target, _one_class, _no_columns, _no_rows,
    _one_row, _all_target_missing, _huge_values)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_awkward_tables_never_raise(case, recwarn):
    X, y, task = CASES[case]()
    values = metafeatures.compute(X, y, task)
    assert_valid(values)
    assert not [str(w.message) for w in recwarn], "compute should not emit warnings"


def test_nan_and_inf_count_as_missing_in_statistics():
    X, y, task = _nan_inf()
    values = metafeatures.compute(X, y, task)
    assert all(math.isfinite(values[k]) for k in ("skewness_mean", "kurtosis_max", "correlation_max",
                                                   "landmark_tree3", "mutual_information_mean"))
    # +-inf is not a missing cell for the shares (pandas isna), NaN is
    assert values["share_missing_cells"] == pytest.approx(X.isna().to_numpy().mean())


def test_constant_and_all_missing_columns_are_ignored_by_statistics():
    X, y, task = _constant_and_all_missing()
    with_extra = metafeatures.compute(X, y, task)
    plain = metafeatures.compute(X.drop(columns=["const", "empty", "empty_cat"]), y, task)
    for name in ("skewness_mean", "kurtosis_mean", "correlation_mean", "target_association_max"):
        assert with_extra[name] == pytest.approx(plain[name])
    assert with_extra["share_columns_with_missing"] == pytest.approx(2 / X.shape[1])
    only = metafeatures.compute(*_only_constant())
    assert math.isnan(only["skewness_mean"]) and only["outlier_share"] == 0.0 and only["share_binary_numeric"] == 1.0


def test_one_feature_has_no_correlation_but_everything_else():
    values = metafeatures.compute(*_one_feature())
    assert math.isnan(values["correlation_mean"]) and values["pca_95_share"] == 1.0
    assert values["n_features_log"] == 0.0
    assert all(math.isfinite(values[k]) for k in ("landmark_stump", "landmark_1nn", "mutual_information_max"))


def test_ten_rows_still_gives_landmarkers():
    values = metafeatures.compute(*_ten_rows())
    assert values["n_rows_log"] == 1.0
    assert math.isfinite(values["landmark_tree3"]) and 0.0 <= values["landmark_tree3"] <= 1.0


def test_thousand_categories():
    X, y, task = _thousand_categories()
    values = metafeatures.compute(X, y, task)
    observed = X["id"].nunique()
    assert values["cardinality_max_log"] == pytest.approx(math.log10(1 + observed))
    assert values["share_categorical"] == 0.5
    assert math.isfinite(values["landmark_linear"])


def test_small_classes_keep_landmarkers():
    for make in (_two_member_class, _singleton_class):
        values = metafeatures.compute(*make())
        assert all(math.isfinite(values[k]) for k in ("landmark_stump", "landmark_naive_bayes", "landmark_1nn"))
    values = metafeatures.compute(*_two_member_class())
    assert values["n_classes"] == 5.0 and values["minority_share"] == pytest.approx(2 / 60)


def test_raw_types_are_read():
    X, y, task = _raw_types()
    values = metafeatures.compute(X, y, task)
    # obj, mixed, text, unhashable are categorical; flag, count, nullable, when are numeric
    assert values["share_categorical"] == pytest.approx(4 / 8)
    assert values["share_binary_numeric"] == pytest.approx(1 / 4)
    assert values["n_classes"] == 2.0
    assert math.isfinite(values["landmark_tree3"])


def test_missing_targets_are_left_out():
    X, y, task = _missing_targets()
    values = metafeatures.compute(X, y, task)
    known = y[~np.isnan(y)]
    assert values["majority_share"] == pytest.approx(np.bincount(known.astype(int)).max() / len(known))
    assert values["share_missing_cells"] == 0.0  # the target is not a feature


def test_degenerate_targets_give_missing_target_features():
    for make, missing in ((_constant_target, ("landmark_linear", "equivalent_n_features_log")),
                          (_one_class, ("landmark_stump", "class_balance")),
                          (_all_target_missing, ("landmark_stump", "target_skewness", "mutual_information_max"))):
        values = metafeatures.compute(*make())
        assert all(math.isnan(values[k]) for k in missing), make.__name__
        assert math.isfinite(values["skewness_mean"])
    constant = metafeatures.compute(*_constant_target())
    assert constant["target_skewness"] == 0.0 and constant["mutual_information_max"] == 0.0


def test_empty_tables():
    values = metafeatures.compute(*_no_columns())
    assert math.isnan(values["n_features_log"]) and values["n_rows_log"] == pytest.approx(math.log10(20))
    assert values["n_classes"] == 2.0
    values = metafeatures.compute(*_no_rows())
    assert all(math.isnan(v) for k, v in values.items() if k not in ("n_features_log", "share_categorical",
                                                                      "cardinality_mean_log", "cardinality_max_log"))


def test_unknown_task_and_bad_lengths_give_nan_not_errors(caplog):
    X, y = make_dataset(30)
    with caplog.at_level(logging.WARNING, logger="automl.metafeatures"):
        values = metafeatures.compute(X, y, "clustering")
    assert_valid(values)
    assert math.isnan(values["n_classes"]) and math.isnan(values["landmark_stump"])
    assert values["n_rows_log"] == pytest.approx(math.log10(30))
    assert "unknown task" in caplog.text
    values = metafeatures.compute(X, y[:-3], "binary")
    assert_valid(values)
    assert all(math.isnan(v) for v in values.values())


def test_a_failing_group_is_missing_and_logged(monkeypatch, caplog):
    def broken(ctx):
        raise RuntimeError("boom")

    monkeypatch.setattr(statistical, "compute", broken)
    X, y = make_dataset(50)
    with caplog.at_level(logging.WARNING, logger="automl.metafeatures"):
        values = metafeatures.compute(X, y, "binary")
    assert all(math.isnan(values[n]) for n in statistical.NAMES)
    assert math.isfinite(values["landmark_tree3"]) and math.isfinite(values["n_rows_log"])
    assert "statistical" in caplog.text and "boom" in caplog.text
