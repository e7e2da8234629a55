"""Robust scaling, the missing-value rule, weights, JSON round trip, and nearest datasets."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import metafeatures
from metafeatures import RobustScaler, distance, distances, nearest

from ._tables import load_pmlb

NAMES = ["a", "b", "c"]
POPULATION = np.array([[0.0, 10.0, np.nan],
                       [1.0, 20.0, np.nan],
                       [2.0, 30.0, np.nan],
                       [3.0, 40.0, np.nan],
                       [100.0, 50.0, np.nan]])


def test_fit_centre_scale_and_clip():
    scaler = RobustScaler.fit(NAMES, POPULATION)
    assert scaler.centre.tolist() == [2.0, 30.0, 0.0]  # a feature missing for everyone: centre 0, scale 1
    assert scaler.scale[0] == pytest.approx(2.0 / 1.349) and scaler.scale[2] == 1.0
    z = scaler.transform(POPULATION)
    assert z.shape == POPULATION.shape and np.isfinite(z).all()
    assert z[4, 0] == metafeatures.CLIP  # the extreme value is clipped
    assert (z[:, 2] == 0).all()


def test_zero_iqr_falls_back_to_sd_then_one():
    pop = np.array([[0.0, 5.0], [0.0, 5.0], [0.0, 5.0], [0.0, 5.0], [1.0, 5.0]])
    scaler = RobustScaler.fit(["mostly_zero", "constant"], pop)
    assert scaler.scale[0] == pytest.approx(np.std(pop[:, 0])) and scaler.scale[1] == 1.0


def test_missing_counts_as_the_population_median():
    scaler = RobustScaler.fit(NAMES, POPULATION)
    with_nan = scaler.transform([[np.nan, 40.0, 1.0]])[0]
    at_median = scaler.transform([[2.0, 40.0, 1.0]])[0]
    assert np.array_equal(with_nan, at_median)
    other = scaler.transform([[3.0, 10.0, np.nan]])[0]
    assert distance(with_nan, other) == distance(at_median, other)
    # distance() applies the same rule to raw NaN in already scaled vectors
    assert distance([np.nan, 1.0], [0.0, 1.0]) == 0.0
    assert distance([np.nan, 0.0], [2.0, 0.0]) == pytest.approx(math.sqrt(2.0))
    assert scaler.vector({"a": 3.0, "b": None}).tolist() == scaler.transform([[3.0, np.nan, np.nan]])[0].tolist()


def test_distance_is_rms_and_weighted():
    assert distance([0, 0, 0, 0], [1, 1, 1, 1]) == 1.0
    assert distance([0, 0], [3, 0], weights=[1, 0]) == 3.0
    assert distance([0, 0], [3, 0], weights=[1, 1]) == pytest.approx(3 / math.sqrt(2))
    with pytest.raises(ValueError):
        distance([0, 0], [1, 1], weights=[-1, 1])
    # weights folded into the scaler give the same weighted distance as distance(..., weights)
    scaler = RobustScaler.fit(NAMES, POPULATION, weights={"a": 3.0, "b": 1.0, "c": 0.0})
    plain = RobustScaler.fit(NAMES, POPULATION)
    p, q = POPULATION[0], POPULATION[3]
    assert distance(scaler.transform([p])[0], scaler.transform([q])[0]) == pytest.approx(
        distance(plain.transform([p])[0], plain.transform([q])[0], weights=[3.0, 1.0, 0.0]))
    z = scaler.transform(POPULATION)
    assert distances(z, z[1]) == pytest.approx([distance(r, z[1]) for r in z])
    assert nearest(z, z[1], k=2)[0] == 1


def test_json_round_trip():
    scaler = RobustScaler.fit(NAMES, POPULATION, weights=[1.0, 2.0, 0.5])
    data = json.loads(json.dumps(scaler.to_json()))
    again = RobustScaler.from_json(data)
    assert again.to_json() == scaler.to_json()
    probe = np.array([[1.5, np.nan, 7.0], [50.0, 12.0, np.nan]])
    assert np.array_equal(again.transform(probe), scaler.transform(probe))


def test_bad_inputs_are_reported():
    with pytest.raises(ValueError, match="3 columns"):
        RobustScaler.fit(NAMES, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="weights"):
        RobustScaler.fit(NAMES, POPULATION, weights=[1.0, 2.0])
    empty = RobustScaler.fit(NAMES, np.empty((0, 3)))
    assert empty.transform([[1.0, 2.0, np.nan]]).tolist() == [[1.0, 2.0, 0.0]]


def _perturbed(X: pd.DataFrame, y: pd.Series, seed: int = 1) -> tuple[pd.DataFrame, pd.Series]:
    """A slightly different copy: 5 % of rows dropped, continuous columns (more than 10 values) jittered by
    1 % of their spread; discrete columns stay discrete."""
    rng = np.random.default_rng(seed)
    keep = rng.random(len(X)) > 0.05
    X2 = X[keep].reset_index(drop=True).astype(float)
    for c in X2.columns:
        if X2[c].nunique() > 10:
            X2[c] = X2[c] + rng.normal(size=len(X2)) * 0.01 * X2[c].std(ddof=0)
    return X2, y[keep].reset_index(drop=True)


NEIGHBOURHOOD = ["iris", "hepatitis", "wine_quality_red", "sonar", "glass", "breast_cancer_wisconsin",
                 "analcatdata_aids", "prnn_crabs", "tae", "new_thyroid", "diabetes", "ionosphere"]


def test_nearest_dataset_to_a_perturbed_copy_is_itself():
    tables, vectors, names = {}, [], []
    for name in NEIGHBOURHOOD:
        try:
            X, y, task = load_pmlb(name)
        except pytest.skip.Exception:
            continue
        if task == "regression":
            continue
        tables[name] = (X, y, task)
        vectors.append(list(metafeatures.compute(X, y, task).values()))
        names.append(name)
    if len(names) < 5:
        pytest.skip("too few PMLB datasets for a neighbourhood")
    scaler = RobustScaler.fit(metafeatures.FEATURE_NAMES, np.array(vectors))
    population = scaler.transform(np.array(vectors))
    for name in names:
        X, y, task = tables[name]
        query = scaler.vector(metafeatures.compute(*_perturbed(X, y), task))
        order = nearest(population, query, k=len(names))
        d = distances(population, query)
        assert names[order[0]] == name, (name, [(names[i], round(d[i], 3)) for i in order[:3]])
        assert d[order[0]] < 0.7 * d[order[1]]  # and clearly nearer than the next one
