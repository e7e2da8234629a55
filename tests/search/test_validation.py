"""Validation protocol by data size, stratified, seeded; training-share subsamples keep every class."""
from __future__ import annotations

import numpy as np

from automl.search.validation import choose_protocol, make_splits, subsample


def test_protocol_by_size():
    assert choose_protocol(500) == "cv5" and choose_protocol(5_000) == "cv3"
    assert choose_protocol(50_000) == "holdout0.2"


def test_splits_are_stratified_seeded_and_cover_every_row_once():
    y = np.array([0] * 90 + [1] * 10)
    splits = make_splits(y, "binary", "cv5", seed=3)
    assert splits[0][1].tolist() == make_splits(y, "binary", "cv5", seed=3)[0][1].tolist()
    assert sorted(np.concatenate([va for _, va in splits]).tolist()) == list(range(100))
    assert all(y[va].sum() == 2 for _, va in splits)
    tr, va = make_splits(y, "binary", "holdout0.2", seed=0)[0]
    assert len(va) == 20 and y[va].sum() == 2 and not set(tr) & set(va)


def test_rare_classes_cap_the_number_of_folds():
    y = np.array([0] * 50 + [1] * 2)
    assert len(make_splits(y, "binary", "cv5", seed=0)) == 2


def test_subsample_keeps_every_class():
    y = np.array([0] * 995 + [1] * 5)
    idx = subsample(np.arange(1000), 1 / 9, seed=0, y=y)
    assert set(y[idx]) == {0, 1} and len(idx) < 200
