"""Time per meta-feature group on synthetic mixed tables, one core.

    python benchmarks/bench_metafeatures.py [--sizes 1000x10,20000x50,100000x100] [--repeats 5]
                                            [--task binary] [--object]

Each table has about 20 % categorical columns (``category`` dtype, or object strings with ``--object``)
with 3 to 1,000 levels, skewed and plain numeric columns, 5 % missing cells. Prints the median seconds
per stage (context = shared precompute) and in total over the repetitions (after one warm-up run),
and the CPU seconds other processes used during the timed runs (a busy machine inflates the figures).
The issue's budget: 100,000 x 100 in at most 1.5 s.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import metafeatures  # noqa: E402

BUDGET = {(100_000, 100): 1.5}


def make_table(n: int, d: int, task: str = "binary", seed: int = 0, object_columns: bool = False):
    """A synthetic mixed table: ~20 % categorical columns, 5 % missing cells, a target tied to 2 columns."""
    rng = np.random.default_rng(seed)
    n_cat = max(1, round(0.2 * d)) if d > 1 else 0
    cols: dict[str, object] = {}
    for j in range(d - n_cat):
        v = rng.normal(size=n) * (j + 1)
        if j % 3 == 0:
            v = np.exp(v / (j + 1))
        v[rng.random(n) < 0.05] = np.nan
        cols[f"x{j}"] = v
    for j in range(n_cat):
        k = (3, 10, 50, 1000)[j % 4]
        codes = rng.integers(0, k, n)
        codes[rng.random(n) < 0.05] = -1
        cat = pd.Categorical.from_codes(codes, [f"level{i}" for i in range(k)])
        cols[f"c{j}"] = pd.Series(cat).astype(object) if object_columns else cat
    X = pd.DataFrame(cols)
    signal = np.nan_to_num(X.iloc[:, min(1, d - n_cat - 1)].to_numpy(dtype=float)) if d > n_cat else np.zeros(n)
    signal = signal / (np.std(signal) or 1.0) + rng.normal(size=n)
    if task == "regression":
        y = signal
    elif task == "multiclass":
        y = np.digitize(signal, np.quantile(signal, [0.2, 0.4, 0.6, 0.8]))
    else:
        y = (signal > 0).astype(int)
    return X, y


def _other_cpu() -> float:
    """CPU seconds used so far by every process on the machine except this one (from /proc)."""
    try:
        with open("/proc/stat") as fh:
            fields = [float(v) for v in fh.readline().split()[1:8]]
        total = (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
        return total - time.process_time()
    except (OSError, ValueError):
        return float("nan")


def bench(n: int, d: int, repeats: int, task: str, object_columns: bool) -> dict[str, float]:
    X, y = make_table(n, d, task, object_columns=object_columns)
    metafeatures.compute(X, y, task)  # warm-up: imports, first-call costs
    runs: list[dict[str, float]] = []
    cpu0 = _other_cpu()
    for _ in range(repeats):
        runs.append(metafeatures.compute(X, y, task, return_timings=True)[1])
    other = _other_cpu() - cpu0
    out = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    out["max_total"] = max(r["total"] for r in runs)
    out["other_cpu"] = other
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000x10,20000x50,100000x100", help="comma-separated ROWSxCOLUMNS")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--task", default="binary", choices=("binary", "multiclass", "regression"))
    parser.add_argument("--object", action="store_true", help="categorical columns as object strings")
    args = parser.parse_args(argv)
    sizes = []
    for item in args.sizes.split(","):
        rows, cols = item.lower().split("x")
        sizes.append((int(rows), int(cols)))
    stages = ["context", *metafeatures.GROUPS, "total"]
    print(f"meta-features {metafeatures.METAFEATURES_VERSION}: {len(metafeatures.FEATURE_NAMES)} values, "
          f"task {args.task}, {'object' if args.object else 'category'} columns, median of {args.repeats} runs, "
          "seconds, one thread")
    header = f"{'size':>12}" + "".join(f"{s:>13}" for s in stages) + f"{'max total':>11}{'other cpu':>11}  budget"
    print(header)
    failed = False
    for n, d in sizes:
        t = bench(n, d, args.repeats, args.task, args.object)
        budget = BUDGET.get((n, d))
        verdict = "" if budget is None else ("ok" if t["total"] <= budget else "OVER") + f" (<= {budget} s)"
        failed |= verdict.startswith("OVER")
        print(f"{f'{n}x{d}':>12}" + "".join(f"{t[s]:>13.3f}" for s in stages)
              + f"{t['max_total']:>11.3f}{t['other_cpu']:>11.1f}  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
