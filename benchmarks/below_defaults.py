"""Is the search ever worse than LightGBM's defaults? Read from a ``bench_search.py --out`` CSV run over several splits.

    python benchmarks/bench_search.py ../shared/datasets/pmlb --budget 30 --seeds 0,1,2 \\
        --systems warm,lgbm-default --out defaults.csv
    python benchmarks/below_defaults.py defaults.csv [--system warm]

Per dataset, over the splits both systems ran (paired: the same 75/25 split): the mean difference of test
scores (search - defaults; every score is greater-is-better) and its standard error over the splits. A dataset
is *below the defaults beyond the split-to-split spread* when the mean difference plus two standard errors is
still below 0 (with 3 splits: every split, or nearly, loses clearly). Prints each dataset, the flagged ones and
their share (the target: at most 1 in 20), and the sign test over all (dataset, split) pairs.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paired import compare  # noqa: E402

DEFAULTS = "lgbm-default"
SPREAD = 2.0  # standard errors of the mean paired difference a loss must exceed to count as beyond the spread


def paired(scores: pd.DataFrame, system: str) -> pd.DataFrame:
    """One row per (dataset, task, seed) both systems ran: their scores and ``diff`` (system - defaults)."""
    wide = scores[scores["system"].isin([system, DEFAULTS])].pivot_table(
        index=["dataset", "task", "seed"], columns="system", values="score").dropna()
    wide["diff"] = wide[system] - wide[DEFAULTS]
    return wide


def per_dataset(wide: pd.DataFrame, system: str) -> pd.DataFrame:
    """One row per dataset of ``paired``: splits, mean difference, its standard error, flagged."""
    rows = []
    for (dataset, task), group in wide.groupby(level=["dataset", "task"], sort=False):
        n = len(group)
        se = group["diff"].std(ddof=1) / np.sqrt(n) if n > 1 else float("nan")
        mean = group["diff"].mean()
        rows.append({"dataset": dataset, "task": task, "splits": n, "search": group[system].mean(),
                     "defaults": group[DEFAULTS].mean(), "diff": mean, "se": se,
                     "below": bool(n > 1 and mean + SPREAD * se < 0)})
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path, help="bench_search.py --out file")
    parser.add_argument("--system", default="warm")
    args = parser.parse_args(argv)
    scores = pd.read_csv(args.csv)
    wide = paired(scores, args.system)
    table = per_dataset(wide, args.system)
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(table.round(5).to_string(index=False))
    below = table[table["below"]]
    print(f"{args.system} below {DEFAULTS} beyond the split-to-split spread: {len(below)}/{len(table)} datasets "
          f"({100 * len(below) / max(len(table), 1):.0f} %; target <= 5 %)"
          + (f": {', '.join(below['dataset'])}" if len(below) else ""))
    print(f"datasets with a lower mean score: {(table['diff'] < 0).sum()}/{len(table)}")
    print(compare(wide["diff"].to_numpy()).line(f"{args.system} - {DEFAULTS} per split"))


if __name__ == "__main__":
    main()
