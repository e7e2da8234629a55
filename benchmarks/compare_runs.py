"""Two runs of a benchmark that wrote ``--out`` CSVs (``bench_search.py``), compared pair by pair: a before/after.

    python benchmarks/compare_runs.py before.csv after.csv [--systems warm,bo,random]

Pairs are (dataset, seed, system) rows present in both files: the same split fitted by the same system, once
by each version. Per system: wins / ties / losses of ``after``, the sign test's p and the bootstrap interval of
the median relative gain ((after - before) / |before|: scores of different metrics are on different scales),
the median trials and wall time of each run. A refactor that changes no behaviour should show no significant
difference (p well above 0.05, an interval around 0); timings drift with the machine's load.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paired import compare, relative_gain  # noqa: E402

KEY = ["dataset", "seed", "system"]


def paired_rows(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """The rows of both runs joined on (dataset, seed, system), with the relative gain of ``after``."""
    both = before.merge(after, on=KEY, suffixes=("_before", "_after"))
    both["gain"] = relative_gain(both["score_after"], both["score_before"])
    return both


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--systems", default=None, help="comma-separated (default: every system in both)")
    args = parser.parse_args(argv)
    both = paired_rows(pd.read_csv(args.before), pd.read_csv(args.after))
    systems = args.systems.split(",") if args.systems else list(dict.fromkeys(both["system"]))
    print(f"{args.before.name} -> {args.after.name}: {both['dataset'].nunique()} datasets, "
          f"{both['seed'].nunique()} seeds")
    print(f"{'system':8s} {'trials before/after':>20s} {'wall before/after':>18s}")
    for system in systems:
        rows = both[both["system"] == system]
        print(f"{system:8s} {rows['n_trials_before'].median():>9.0f} / {rows['n_trials_after'].median():<8.0f} "
              f"{rows['wall_before'].median():>8.2f} / {rows['wall_after'].median():<7.2f}")
    for system in systems:
        print(compare(both.loc[both["system"] == system, "gain"].to_numpy()).line(f"{system} after - before",
                                                                                  "relative gain"))
    print(compare(both["gain"].to_numpy()).line("all systems after - before", "relative gain"))


if __name__ == "__main__":
    main()
