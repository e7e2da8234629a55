"""The benchmarks' 75 / 25 split (``fits.split``): today's ``train_test_split`` row for row, and a class of one row
(which cannot be stratified) on the training side instead of a crash."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def test_a_split_without_a_one_row_class_is_train_test_splits_row_for_row(pmlb_dir):
    from fits import split
    frame = pd.read_csv(pmlb_dir / "allbp.tsv.gz", sep="\t")  # classes of 3609, 149 and 14 rows
    X, y = frame.drop(columns=["target"]), frame["target"]
    for seed in (0, 1):
        expected = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
        for codes in (True, False):
            for got, want in zip(split(X, y, "multiclass", seed, codes=codes), expected):
                pd.testing.assert_index_equal(got.index, want.index)
                pd.testing.assert_frame_equal(pd.DataFrame(got), pd.DataFrame(want), check_names=False)
        # as arrays (bench_imbalance's coded labels)
        arrays = split(X.to_numpy(), y.to_numpy(), "multiclass", seed, codes=False)
        for got, want in zip(arrays, expected):
            np.testing.assert_array_equal(got, want.to_numpy())
    frame = pd.read_csv(pmlb_dir / "1027_ESL.tsv.gz", sep="\t")
    X, y = frame.drop(columns=["target"]), frame["target"]
    for got, want in zip(split(X, y, "regression", 0), train_test_split(X, y, test_size=0.25, random_state=0)):
        pd.testing.assert_index_equal(got.index, want.index)


def _assert_one_row_classes_train_only(ytr, yte, y) -> None:
    """Every class trains; a class of one row is on the training side only, a class of 3 rows or more on both
    (stratification may give both rows of a 2-row class to the training side, as ``train_test_split`` does)."""
    counts = pd.Series(np.asarray(y)).value_counts()
    alone = set(counts.index[counts == 1])
    assert alone, "the table has no class of one row"
    assert set(np.asarray(ytr)) == set(counts.index) and not alone & set(np.asarray(yte))
    assert set(counts.index[counts >= 3]) <= set(np.asarray(yte))
    assert len(ytr) + len(yte) == len(y)


def test_a_one_row_class_goes_to_the_training_side():
    from fits import split
    rng = np.random.default_rng(0)
    y = pd.Series(["a"] * 20 + ["b"] * 12 + ["c"], name="target")
    X = pd.DataFrame({"x": rng.normal(size=len(y))})
    with pytest.raises(ValueError):  # what the benchmarks called before
        train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    for codes in (True, False):
        Xtr, Xte, ytr, yte = split(X, y, "multiclass", 0, codes=codes)
        _assert_one_row_classes_train_only(ytr, yte, ytr.tolist() + yte.tolist())
        assert sorted(Xtr.index.tolist() + Xte.index.tolist()) == list(range(len(y)))
        assert (Xtr.index == ytr.index).all() and (Xte.index == yte.index).all()
    assert ytr.index[-1] == 32 and len(yte) == 8  # the lone row follows the stratified 75 % of the other 32


def test_kddcup_as_the_benchmark_samples_it_splits_and_scores(pmlb_dir):
    from bench_search import load, metric_of, tasks_of
    from fits import split
    X, y, task = load(pmlb_dir, "kddcup", tasks_of(pd.read_csv(pmlb_dir / "summary.csv")))
    assert task == "multiclass" and (y.value_counts() == 1).any()  # the 20,000-row sample leaves one-row classes
    Xtr, Xte, ytr, yte = split(X, y, task, 0)
    codes = np.unique(y, return_inverse=True)[1]
    _assert_one_row_classes_train_only(ytr, yte, codes)
    assert (Xtr.index == ytr.index).all() and (Xte.index == yte.index).all()
    # the other rows are split as train_test_split splits them, the one-row classes' rows after the training 75 %
    others = pd.Series(codes, index=y.index).map(pd.Series(codes).value_counts()) > 1
    want = train_test_split(X[others.to_numpy()], test_size=0.25, random_state=0, stratify=codes[others.to_numpy()])
    assert Xte.index.equals(want[1].index) and Xtr.index[:len(want[0])].equals(want[0].index)
    # a test side without the one-row classes still scores (log-loss over every trained class)
    _, score, _ = metric_of(task)
    k = int(codes.max()) + 1
    assert np.isfinite(score(yte.to_numpy(), np.full((len(yte), k), 1 / k)))
