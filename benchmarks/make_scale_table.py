"""A deterministic generated table for the scale benchmark: binary target, 50 columns, categories, missing values.

    python benchmarks/make_scale_table.py 1000000 --out /tmp/scale

Writes ``train-N.parquet`` (N rows) and ``test-N.parquet`` (a held-out quarter of N more rows from the same
draw, never seen by a fit) and prints the training table's size in memory (pandas ``memory_usage(deep=True)``
of the frame as ``pd.read_parquet`` returns it, target included).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

N_COLUMNS = 50
# categorical columns: an informative column binned into this many string categories each (varying cardinality;
# the last two exceed the encoder's 255 kept categories, so ``__other__`` is exercised too)
CARDINALITIES = (2, 3, 5, 8, 12, 20, 40, 100, 400, 2000)
MISSING_SHARE = 0.03  # of the cells of every feature column
FLIP_Y = 0.05  # label noise: keeps the task from being trivially separable
TEST_SHARE = 0.2  # of all generated rows: the test split
TARGET = "y"


def make_table(n_rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(train, test)``: ``n_rows`` training rows and ``n_rows / 4`` test rows of one seeded draw."""
    n_total = int(round(n_rows / (1 - TEST_SHARE)))
    X, y = make_classification(n_samples=n_total, n_features=N_COLUMNS, n_informative=20, n_redundant=10,
                               n_repeated=0, n_clusters_per_class=3, flip_y=FLIP_Y, class_sep=0.8, shuffle=True,
                               random_state=seed)
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {}
    n_cat = len(CARDINALITIES)
    for j in range(N_COLUMNS):
        values = X[:, j]
        if j < n_cat:  # make_classification puts the informative columns first (shuffle moves rows, not columns)
            k = CARDINALITIES[j]
            edges = np.quantile(values, np.linspace(0, 1, k + 1)[1:-1])
            codes = np.searchsorted(edges, values)
            labels = np.asarray([f"c{j}_{i}" for i in range(k)], dtype=object)
            col = pd.Series(labels[codes], dtype=object)
            col[rng.random(n_total) < MISSING_SHARE] = None
            columns[f"cat_{j:02d}"] = col
        else:
            values = values.copy()
            values[rng.random(n_total) < MISSING_SHARE] = np.nan
            columns[f"num_{j:02d}"] = values
    frame = pd.DataFrame(columns)
    frame[TARGET] = np.where(y == 1, "yes", "no")
    return frame.iloc[:n_rows].reset_index(drop=True), frame.iloc[n_rows:].reset_index(drop=True)


def table_paths(n_rows: int, out: Path) -> tuple[Path, Path]:
    return out / f"train-{n_rows}.parquet", out / f"test-{n_rows}.parquet"


def write_table(n_rows: int, out: Path, seed: int = 0) -> tuple[Path, Path]:
    """Write (once: reused when present) and return the train and test Parquet paths."""
    out.mkdir(parents=True, exist_ok=True)
    train_path, test_path = table_paths(n_rows, out)
    if not (train_path.exists() and test_path.exists()):
        train, test = make_table(n_rows, seed)
        train.to_parquet(train_path, index=False)
        test.to_parquet(test_path, index=False)
    return train_path, test_path


def memory_bytes(path: Path) -> int:
    """The table's size in memory as a fit reads it (``pd.read_parquet``; deep, target included)."""
    return int(pd.read_parquet(path).memory_usage(deep=True).sum())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rows", type=int)
    parser.add_argument("--out", type=Path, default=Path("/tmp/automl-scale"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    train, test = write_table(args.rows, args.out, args.seed)
    size = memory_bytes(train)
    print(f"{train}  rows {args.rows:,}  in memory {size / 2**20:,.1f} MiB  on disk {train.stat().st_size / 2**20:,.1f} MiB")
    print(f"{test}  (test split)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
