"""Content fingerprints: the same data is one dataset, any change is another."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import knowledge_base as kb


def table(n: int = 50, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.integers(0, 5, n).astype(float),
                      "c": pd.Categorical(rng.choice(["x", "y", "z"], n))})
    X.loc[3, "a"] = np.nan
    return X, rng.integers(0, 2, n)


def test_same_data_same_fingerprint_whatever_the_row_or_column_order():
    X, y = table()
    fp = kb.fingerprint(X, y)
    assert len(fp) == 32 and int(fp, 16) >= 0
    assert kb.fingerprint(X.copy(), y.copy()) == fp
    order = np.random.default_rng(1).permutation(len(X))
    assert kb.fingerprint(X.iloc[order], y[order]) == fp  # row order does not matter
    assert kb.fingerprint(X.iloc[order].reset_index(drop=True), pd.Series(y[order])) == fp
    assert kb.fingerprint(X[["c", "a", "b"]], y) == fp  # nor column order


@pytest.mark.parametrize("change", ["value", "target", "row", "duplicate", "name", "dtype", "category", "nan"])
def test_any_change_of_content_changes_the_fingerprint(change):
    X, y = table()
    fp = kb.fingerprint(X, y)
    X2, y2 = X.copy(), y.copy()
    if change == "value":
        X2.loc[0, "a"] += 1e-9
    elif change == "target":
        y2[0] = 1 - y2[0]
    elif change == "row":
        X2, y2 = X2.iloc[1:], y2[1:]
    elif change == "duplicate":
        X2, y2 = pd.concat([X2, X2.iloc[:1]]), np.append(y2, y2[0])
    elif change == "name":
        X2 = X2.rename(columns={"a": "A"})
    elif change == "dtype":
        X2["b"] = X2["b"].astype("category")
    elif change == "category":
        X2["c"] = X2["c"].cat.rename_categories({"x": "w"})
    else:
        X2.loc[0, "a"] = np.nan
    assert kb.fingerprint(X2, y2) != fp


def test_target_length_must_match():
    X, y = table()
    with pytest.raises(kb.InvalidRecordError, match="rows"):
        kb.fingerprint(X, y[:-1])


def test_fitting_the_same_table_twice_writes_one_dataset(store):
    from tests.knowledge_base.factories import lgbm, make_evaluation, make_metafeatures, make_run
    X, y = table()
    order = np.random.default_rng(2).permutation(len(X))
    for i, (Xi, yi) in enumerate([(X, y), (X.iloc[order], y[order])]):
        dataset = kb.DatasetRecord(fingerprint=kb.fingerprint(Xi, yi), name=None, source="local", task="binary",
                                   n_rows=len(Xi), n_features=3, metafeatures=make_metafeatures(0.0),
                                   metafeatures_version="synthetic-1")
        store.record_run(make_run(f"fit-{i}"), dataset, [make_evaluation(lgbm(), -0.8)])
    assert store.info()["n_datasets"] == 1 and store.info()["n_runs"] == 2
