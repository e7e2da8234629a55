"""The entry point's contract, the documented table, and golden values on tiny hand-made tables."""
from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metafeatures
from metafeatures import information, landmarkers, simple, statistical

from ._tables import assert_valid, make_dataset

NAN = float("nan")


def test_names_order_table_and_version():
    names = metafeatures.FEATURE_NAMES
    assert 30 <= len(names) <= 50 and len(set(names)) == len(names)
    assert [f.name for f in metafeatures.FEATURES] == list(names)
    # each group module declares its names in table order and the groups come in GROUPS order
    modules = {"simple": simple, "statistical": statistical, "information": information, "landmarker": landmarkers}
    expected = [n for g in metafeatures.GROUPS for n in modules[g].NAMES]
    assert expected == list(names)
    for f in metafeatures.FEATURES:
        assert f.name in modules[f.group].NAMES
        assert f.cost in metafeatures.COST_CLASSES and f.definition
    assert isinstance(metafeatures.METAFEATURES_VERSION, str) and metafeatures.METAFEATURES_VERSION


def test_features_md_is_the_rendered_table():
    path = Path(metafeatures.__file__).with_name("FEATURES.md")
    assert path.read_text() == metafeatures.feature_table_markdown(), (
        "FEATURES.md is stale: regenerate it with metafeatures.feature_table_markdown()")


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_values_are_plain_floats_in_order(task):
    X, y = make_dataset(300, task=task, missing=0.05)
    values = metafeatures.compute(X, y, task)
    assert_valid(values)
    # on a clean mixed table everything that applies to the task is known
    not_applicable = ({"target_skewness"} if task != "regression" else
                      {"n_classes", "majority_share", "minority_share", "class_entropy", "class_balance",
                       "landmark_naive_bayes"})
    assert {k for k, v in values.items() if math.isnan(v)} == not_applicable


def test_timings_per_group():
    X, y = make_dataset(200)
    values, timings = metafeatures.compute(X, y, "binary", return_timings=True)
    assert values == metafeatures.compute(X, y, "binary")
    assert set(timings) == {"context", *metafeatures.GROUPS, "total"}
    assert all(t >= 0 for t in timings.values())
    assert timings["total"] >= max(timings[g] for g in metafeatures.GROUPS)
    assert metafeatures.compute_with_timings(X, y, "binary")[0] == values


def test_deterministic():
    X, y = make_dataset(7000, n_numeric=6, n_categorical=3, task="multiclass", missing=0.1)  # subsampled
    first = metafeatures.compute(X, y, "multiclass")
    again = metafeatures.compute(copy.deepcopy(X), y.copy(), "multiclass")
    assert first == pytest.approx(again, nan_ok=True, rel=0, abs=0)
    assert np.array_equal(np.array(list(first.values())), np.array(list(again.values())), equal_nan=True)


def test_same_values_for_labels_of_any_type():
    X, y = make_dataset(150, task="multiclass")
    as_codes = metafeatures.compute(X, y, "multiclass")
    as_text = metafeatures.compute(X, np.array(["c" + str(v) for v in y], dtype=object), "multiclass")
    as_series = metafeatures.compute(X, pd.Series(y, index=np.arange(150) + 1000), "multiclass")
    for other in (as_text, as_series):
        assert other == pytest.approx(as_codes, nan_ok=True)


# ----------------------------------------------------------------------------------------------- golden values
def _tiny_binary():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": pd.Categorical(["u", "u", "v", None])})
    return X, np.array(["no", "no", "yes", "yes"])


GOLDEN_BINARY = {
    "n_rows_log": math.log10(4), "n_features_log": math.log10(2), "features_per_row_log": math.log10(0.5),
    "share_categorical": 0.5, "share_missing_cells": 1 / 8, "share_rows_with_missing": 1 / 4,
    "share_columns_with_missing": 1 / 2, "n_classes": 2.0, "majority_share": 0.5, "minority_share": 0.5,
    "class_entropy": 1.0, "class_balance": 1.0, "target_skewness": NAN,
    # a = 1..4: mean 2.5, m2 = 1.25, m4 = 2.5625 -> skewness 0, excess kurtosis 2.5625 / 1.5625 - 3 = -1.36
    "skewness_mean": 0.0, "skewness_max": 0.0, "kurtosis_mean": -1.36, "kurtosis_max": -1.36,
    "outlier_share": 0.0, "correlation_mean": NAN, "correlation_max": NAN, "pca_95_share": 1.0,
    "share_binary_numeric": 0.0, "share_zero_cells": 0.0,
    # class means 1.5 and 3.5: between SS 4, total SS 5 -> eta = sqrt(0.8)
    "target_association_mean": math.sqrt(0.8), "target_association_max": math.sqrt(0.8),
    "cardinality_mean_log": math.log10(3), "cardinality_max_log": math.log10(3),
    # H(a) = 2 (four bins), H(b) = H(.5, .25, .25) = 1.5 (missing is a bin); both determine y: MI = 1 each
    "attribute_entropy_mean": 1.75, "mutual_information_mean": 1.0, "mutual_information_max": 1.0,
    "equivalent_n_features_log": math.log10(2.0), "noise_to_signal_log": math.log10(1.75),
    # 4 rows: too few for 3-fold landmarkers
    "landmark_stump": NAN, "landmark_tree3": NAN, "landmark_naive_bayes": NAN, "landmark_1nn": NAN,
    "landmark_linear": NAN,
}


def test_golden_tiny_binary():
    X, y = _tiny_binary()
    values = metafeatures.compute(X, y, "binary")
    assert list(values) == list(GOLDEN_BINARY)
    for name, expected in GOLDEN_BINARY.items():
        assert values[name] == pytest.approx(expected, abs=1e-12, nan_ok=True), name


def test_golden_separable_landmarkers_and_correlation():
    # two well separated groups: every landmarker is perfect; b = 2a exactly, c = -a
    a = np.r_[np.arange(15.0), np.arange(100.0, 115.0)]
    X = pd.DataFrame({"a": a, "b": 2 * a, "c": -a})
    y = (a >= 100).astype(int)
    values = metafeatures.compute(X, y, "binary")
    for name in landmarkers.NAMES:
        assert values[name] == pytest.approx(1.0), name
    assert values["correlation_mean"] == pytest.approx(1.0) and values["correlation_max"] == pytest.approx(1.0)
    assert values["pca_95_share"] == pytest.approx(1 / 3)
    assert values["mutual_information_max"] == pytest.approx(1.0)  # each column determines the class


def test_golden_regression():
    # y: nine 0s and one 10 -> mean 1, m2 = 9, m3 = 72 -> skewness 72 / 27
    X = pd.DataFrame({"a": np.arange(10.0), "z": np.r_[np.zeros(5), np.ones(5)]})
    y = np.r_[np.zeros(9), 10.0]
    values = metafeatures.compute(X, y, "regression")
    assert values["target_skewness"] == pytest.approx(72 / 27)
    assert all(math.isnan(values[k]) for k in ("n_classes", "majority_share", "class_entropy",
                                               "landmark_naive_bayes"))
    assert values["share_binary_numeric"] == 0.5 and values["share_zero_cells"] == pytest.approx(6 / 20)
    # |r| of a (0..9) with y and of z with y
    r_a = abs(np.corrcoef(X["a"], y)[0, 1])
    r_z = abs(np.corrcoef(X["z"], y)[0, 1])
    assert values["target_association_max"] == pytest.approx(max(r_a, r_z))
    assert values["target_association_mean"] == pytest.approx((r_a + r_z) / 2)


def test_linear_regression_landmarkers():
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    X = pd.DataFrame({"x": x, "noise": rng.normal(size=300)})
    values = metafeatures.compute(X, 3 * x + 1, "regression")
    assert values["landmark_linear"] > 0.99
    assert values["landmark_stump"] < values["landmark_tree3"] < values["landmark_linear"]
    assert -1.0 <= values["landmark_1nn"] <= 1.0
    noise = metafeatures.compute(X, rng.normal(size=300), "regression")
    assert noise["landmark_linear"] < 0.05 and noise["landmark_1nn"] < 0.0  # 1-NN overfits pure noise


def test_benchmark_script_runs(capsys):
    import importlib.util
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_metafeatures.py"
    spec = importlib.util.spec_from_file_location("bench_metafeatures", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--sizes", "300x6", "--repeats", "1", "--task", "regression"]) == 0
    out = capsys.readouterr().out
    assert "300x6" in out and "landmarker" in out and "total" in out


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_stump_read_off_the_depth3_tree_equals_a_fitted_stump(task):
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    from metafeatures import _context
    X, y = make_dataset(400, n_numeric=5, n_categorical=3, task=task, missing=0.1)
    Xm, ym = landmarkers.model_matrix(_context.build(X, y, task))
    Tree = DecisionTreeRegressor if task == "regression" else DecisionTreeClassifier
    for tr, va in landmarkers._folds(task, Xm, ym):
        deep = Tree(max_depth=3, random_state=0).fit(Xm[tr], ym[tr])
        stump = Tree(max_depth=1, random_state=0).fit(Xm[tr], ym[tr])
        assert np.array_equal(landmarkers.root_split_predict(deep, Xm[va]), stump.predict(Xm[va]))
