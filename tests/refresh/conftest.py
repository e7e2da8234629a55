"""Fixtures for refresh tests: a folder of tiny datasets, an unseeded store, a small candidate pool."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import knowledge_base as kb
from automl.refresh import RefreshOptions
from tests.fixtures.pmlb import write_pmlb_folder
from tests.fixtures.tables import make_dataset

# small PMLB datasets (50-160 rows): one per task
TINY_PMLB = ("analcatdata_aids", "iris", "1096_FacultySalaries")
# three cheap configurations keep every refresh test within a few seconds
TINY_POOL = [
    {"family": "linear", "C": 1.0, "alpha": 0.001, "l1_ratio": 0.1, "class_weight": "none"},
    {"family": "lightgbm", "learning_rate": 0.1, "num_leaves": 7, "min_child_samples": 5, "subsample": 1.0,
     "colsample_bytree": 1.0, "reg_lambda": 0.001, "reg_alpha": 0.001, "max_bin": 63, "class_weight": "none"},
    {"family": "knn", "n_neighbors": 5, "weights": "distance", "p": 2},
]
# the cheapest of them alone (k-NN): for the tests that follow which datasets a refresh evaluates, not with what
ONE_CANDIDATE = TINY_POOL[2:]


@pytest.fixture
def store(tmp_path):
    """A fresh store that does not import the bundled seed (so the PMLB test files are new to it)."""
    return kb.open_store(tmp_path / "kb" / "refresh.duckdb", seed_dir=None)


@pytest.fixture
def options():
    def make(**kw) -> RefreshOptions:
        base = dict(budget=0.0, n_jobs=1, pool=TINY_POOL, trial_seconds=20.0)
        base.update(kw)
        return RefreshOptions(**base)
    return make


@pytest.fixture
def data_folder(tmp_path) -> Path:
    """3 PMLB files (with their summary rows), a CSV named by a manifest, and one broken file."""
    folder = write_pmlb_folder(tmp_path / "datasets", TINY_PMLB)
    make_dataset("binary", n=80, seed=3).to_csv(folder / "customers.csv", index=False)
    (folder / "manifest.json").write_text(json.dumps({"datasets": [
        {"file": "customers.csv", "target": "y", "task": "binary"}]}))
    (folder / "broken.tsv.gz").write_bytes(b"\x1f\x8b\x08\x00 this is not gzip data")
    return folder
