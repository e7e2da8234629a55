"""Table factories and pmlb loading for the meta-feature tests."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metafeatures
from knowledge_base.sources.folder import PMLB_TASKS

PMLB = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "pmlb"


def make_dataset(n: int = 200, n_numeric: int = 4, n_categorical: int = 2, task: str = "binary", seed: int = 0,
                 missing: float = 0.0) -> tuple[pd.DataFrame, np.ndarray]:
    """A small mixed table whose target depends on the first numeric column."""
    rng = np.random.default_rng(seed)
    cols = {f"x{j}": rng.normal(size=n) * (j + 1) for j in range(n_numeric)}
    for j in range(n_categorical):
        cols[f"c{j}"] = pd.Categorical(rng.choice(["a", "b", "c", "d"][: 2 + j % 3], n))
    X = pd.DataFrame(cols)
    if missing:
        for c in X.columns:
            X.loc[rng.random(n) < missing, c] = np.nan
    signal = (X["x0"].fillna(0).to_numpy() if n_numeric else np.zeros(n)) + 0.5 * rng.normal(size=n)
    if task == "regression":
        y = signal
    elif task == "multiclass":
        y = np.digitize(signal, [-1.0, 0.0, 1.0])
    else:
        y = (signal > 0).astype(int)
    return X, y


def pmlb_dir() -> Path:
    if not (PMLB / "summary.csv").exists():
        pytest.skip(f"PMLB datasets not found at {PMLB.resolve()}")
    return PMLB


def load_pmlb(name: str) -> tuple[pd.DataFrame, pd.Series, str]:
    folder = pmlb_dir()
    path = folder / f"{name}.tsv.gz"
    if not path.exists():
        pytest.skip(f"PMLB dataset {name} not found in {folder.resolve()}")
    df = pd.read_csv(path, sep="\t")
    summary = pd.read_csv(folder / "summary.csv").set_index("dataset")
    task = PMLB_TASKS[summary.loc[name, "endpoint_type"]]
    return df.drop(columns="target"), df["target"], task


def assert_valid(values: dict) -> None:
    """Every name, in order, as a Python float that is finite or NaN (never inf)."""
    assert list(values) == list(metafeatures.FEATURE_NAMES)
    for name, v in values.items():
        assert type(v) is float, (name, type(v))
        assert math.isfinite(v) or math.isnan(v), (name, v)
