"""Agreement with independent references on real PMLB datasets.

The OpenML-equivalent qualities and the statistical / information-theoretic definitions are computed here
independently (pandas, scipy, scikit-learn) and always run; pymfe, when installed, is an extra check.
Datasets up to 5,000 rows are not subsampled, so values agree to rounding; larger ones are compared
within sampling tolerances.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import mutual_info_score

import metafeatures

from ._tables import load_pmlb

# name -> subsampled by the meta-features (more than 5,000 rows)?
DATASETS = {"iris": False, "hepatitis": False, "1027_ESL": False, "wine_quality_red": False, "mushroom": True,
            "magic": True}
_CACHE: dict[str, tuple] = {}


def _data(name: str):
    if name not in _CACHE:
        X, y, task = load_pmlb(name)
        _CACHE[name] = (X, y, task, metafeatures.compute(X, y, task))
    return _CACHE[name]


def _openml_qualities(X: pd.DataFrame, y: pd.Series, task: str) -> dict[str, float]:
    """OpenML's definitions (the target counts as a feature in NumberOfFeatures and the missing percentage)."""
    frame = X.assign(__target=y.to_numpy())
    q = {"NumberOfInstances": len(frame), "NumberOfFeatures": frame.shape[1],
         "PercentageOfMissingValues": 100 * frame.isna().to_numpy().sum() / frame.size,
         "PercentageOfInstancesWithMissingValues": 100 * frame.isna().any(axis=1).mean()}
    if task != "regression":
        counts = y.value_counts(dropna=True)
        q.update({"NumberOfClasses": len(counts), "MajorityClassPercentage": 100 * counts.max() / counts.sum(),
                  "MinorityClassPercentage": 100 * counts.min() / counts.sum(),
                  "ClassEntropy": stats.entropy(counts.to_numpy(), base=2)})
    return q


def _check_openml(values: dict, X: pd.DataFrame, y: pd.Series, task: str) -> None:
    q = _openml_qualities(X, y, task)
    d = X.shape[1]
    assert round(10 ** values["n_rows_log"]) == q["NumberOfInstances"]
    assert round(10 ** values["n_features_log"]) == q["NumberOfFeatures"] - 1
    # OpenML divides by all cells including the (never missing) target
    assert 100 * values["share_missing_cells"] * d / (d + 1) == pytest.approx(q["PercentageOfMissingValues"])
    assert 100 * values["share_rows_with_missing"] == pytest.approx(q["PercentageOfInstancesWithMissingValues"])
    if task == "regression":
        assert math.isnan(values["n_classes"]) and math.isnan(values["class_entropy"])
        return
    assert values["n_classes"] == q["NumberOfClasses"]
    assert 100 * values["majority_share"] == pytest.approx(q["MajorityClassPercentage"])
    assert 100 * values["minority_share"] == pytest.approx(q["MinorityClassPercentage"])
    assert values["class_entropy"] == pytest.approx(q["ClassEntropy"])


@pytest.mark.parametrize("name", list(DATASETS))
def test_openml_qualities(name):
    X, y, task, values = _data(name)
    _check_openml(values, X, y, task)


def test_openml_qualities_with_missing_values():
    X, y, task, _ = _data("hepatitis")
    rng = np.random.default_rng(0)
    X = X.mask(rng.random(X.shape) < 0.07)
    y = y.astype(object)
    values = metafeatures.compute(X, y, task)
    assert values["share_missing_cells"] > 0.05
    _check_openml(values, X, y, task)
    assert values["share_columns_with_missing"] == pytest.approx(X.isna().any().mean())


def _reference_statistics(X: pd.DataFrame, y: pd.Series, task: str) -> dict[str, float]:
    """The statistical and information-theoretic definitions, computed with pandas / scipy / scikit-learn."""
    num = X.to_numpy(dtype=float)
    usable = np.nanstd(num, axis=0) > 0
    num = num[:, usable]
    skew = np.abs(stats.skew(num, axis=0, bias=True))
    kurt = stats.kurtosis(num, axis=0, bias=True)
    corr = np.abs(np.corrcoef(num, rowvar=False)[np.triu_indices(num.shape[1], k=1)])
    # the documented discretisation: 10 equal-frequency bins, unique inner edges, right-closed
    def qbins(v: np.ndarray) -> np.ndarray:
        return np.digitize(v, np.unique(np.quantile(v, np.arange(1, 10) / 10)), right=True)

    bins = [qbins(X[c].to_numpy(dtype=float)) for c in X.columns]
    target = qbins(y.to_numpy(dtype=float)) if task == "regression" else y.to_numpy()
    h_attr = np.array([stats.entropy(np.unique(b, return_counts=True)[1], base=2) for b in bins])
    mi = np.array([mutual_info_score(b, target) / math.log(2) for b in bins])
    h_y = stats.entropy(np.unique(target, return_counts=True)[1], base=2)
    return {"skewness_mean": skew.mean(), "skewness_max": skew.max(), "kurtosis_mean": kurt.mean(),
            "kurtosis_max": kurt.max(), "correlation_mean": corr.mean(), "correlation_max": corr.max(),
            "attribute_entropy_mean": h_attr.mean(), "mutual_information_mean": mi.mean(),
            "mutual_information_max": mi.max(), "equivalent_n_features_log": math.log10(1 + h_y / mi.mean()),
            "noise_to_signal_log": math.log10(1 + (h_attr.mean() - mi.mean()) / mi.mean())}


# relative tolerance when the meta-features use a 5,000-row sample of the table
SAMPLED_RTOL = {"skewness_mean": 0.15, "skewness_max": 0.15, "kurtosis_mean": 0.25, "kurtosis_max": 0.25,
                "correlation_mean": 0.05, "correlation_max": 0.05, "attribute_entropy_mean": 0.05,
                "mutual_information_mean": 0.1, "mutual_information_max": 0.15, "equivalent_n_features_log": 0.1,
                "noise_to_signal_log": 0.1}


@pytest.mark.parametrize("name", list(DATASETS))
def test_statistics_match_independent_definitions(name):
    X, y, task, values = _data(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = _reference_statistics(X, y, task)
    for key, expected in ref.items():
        rtol = SAMPLED_RTOL[key] if DATASETS[name] else 1e-6
        assert values[key] == pytest.approx(expected, rel=rtol, abs=1e-9), key


def test_landmarkers_on_iris():
    _, _, _, values = _data("iris")
    # a stump separates setosa only: balanced accuracy about 2/3; the others about 0.95
    assert values["landmark_stump"] == pytest.approx(2 / 3, abs=0.03)
    for name in ("landmark_tree3", "landmark_naive_bayes", "landmark_1nn"):
        assert 0.9 <= values[name] <= 1.0, name
    assert 0.7 <= values["landmark_linear"] <= 1.0


# --------------------------------------------------------------------------------------------- pymfe (extra)
def _pymfe_reference(X: pd.DataFrame, y: pd.Series, task: str) -> dict[str, float]:
    mfe = pytest.importorskip("pymfe.mfe")
    from pymfe import _internal
    from pymfe.info_theory import MFEInfoTheory
    num, target = X.to_numpy(dtype=float), y.to_numpy()
    model = mfe.MFE(features=["nr_inst", "nr_attr", "nr_class", "class_ent", "skewness", "kurtosis", "cor"],
                    summary=[])
    model.fit(num, target, transform_num=False, suppress_warnings=True)
    raw = dict(zip(*model.extract(suppress_warnings=True)))
    n = len(num)
    # pymfe's default moments (e1071 type 3) -> population moments
    skew = np.abs(np.asarray(raw["skewness"], dtype=float)) / ((n - 1) / n) ** 1.5
    kurt = (np.asarray(raw["kurtosis"], dtype=float) + 3) / ((n - 1) / n) ** 2 - 3
    skew, kurt = skew[np.isfinite(skew)], kurt[np.isfinite(kurt)]
    cor = np.abs(np.asarray(raw["cor"], dtype=float))
    cor = cor[np.isfinite(cor)]
    cat = _internal.transform_num(num, num_bins=10)
    if task == "regression":
        target = _internal.transform_num(target.reshape(-1, 1).astype(float), num_bins=10)[:, 0]
    attr_ent = MFEInfoTheory.ft_attr_ent(cat)
    mut_inf = MFEInfoTheory.ft_mut_inf(cat, target)
    out = {"n_rows": raw["nr_inst"], "n_features": raw["nr_attr"], "skewness_mean": skew.mean(),
           "skewness_max": skew.max(), "kurtosis_mean": kurt.mean(), "kurtosis_max": kurt.max(),
           "correlation_mean": cor.mean(), "correlation_max": cor.max(),
           "attribute_entropy_mean": attr_ent.mean(), "mutual_information_mean": mut_inf.mean(),
           "mutual_information_max": mut_inf.max(),
           "equivalent_n_features_log": math.log10(1 + MFEInfoTheory.ft_eq_num_attr(cat, target)),
           "noise_to_signal_log": math.log10(1 + MFEInfoTheory.ft_ns_ratio(cat, target))}
    if task != "regression":
        out.update({"n_classes": raw["nr_class"], "class_entropy": raw["class_ent"]})
    return out


@pytest.mark.parametrize("name", list(DATASETS))
def test_agrees_with_pymfe(name):
    X, y, task, values = _data(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = _pymfe_reference(X, y, task)
    assert round(10 ** values["n_rows_log"]) == ref.pop("n_rows")
    assert round(10 ** values["n_features_log"]) == ref.pop("n_features")
    for key in ("n_classes", "class_entropy"):
        if key in ref:
            assert values[key] == pytest.approx(ref.pop(key)), key
    for key, expected in ref.items():
        # pymfe's entropies differ from the plug-in ones in the 6th digit
        rtol = SAMPLED_RTOL[key] if DATASETS[name] else 1e-4
        assert values[key] == pytest.approx(expected, rel=rtol, abs=1e-9), key
