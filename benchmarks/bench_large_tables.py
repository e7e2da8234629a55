"""Large tables (issue #28): warm against bo on the pool's datasets of 10,000+ rows.

    python benchmarks/bench_large_tables.py ../shared/datasets/pmlb --budget 30 --seeds 0,1,2 \
        [--min-rows 10000] [--max-rows 100000] [--stack-to N [--n-stacked 3]] [--datasets a,b]

Every pool dataset of ``--min-rows`` rows or more (a seeded sample of ``--max-rows`` rows of the larger
ones; the header says how many the pool has) is split 75 / 25 per seed (``fits.split``) and fitted by
``warm`` (the seed store through ``leave_out.LeaveOut``, hiding the dataset and its copies:
``bench_search.left_out``; nothing written back) and ``bo`` (no knowledge base) at ``--budget`` seconds,
paired on the same split and folds. Wins are decided by the test score (``bench_search.metric_of``).

When the pool has fewer than ``MIN_DATASETS`` such datasets, or with ``--stack-to N`` (default N: twice
``--min-rows``), the largest smaller pool datasets (or the named ones under ``--min-rows``) are added as
stacked versions, labelled ``NAME+stackN``: their training split (75 % of the original rows) is repeated up to
75 % of N rows with Gaussian noise (``NOISE`` x the column's standard deviation) on the numeric columns; the
test split is the original held-out rows, so no copy of a test row is trained on (the copies within the
training rows still make the validation folds optimistic, for both strategies alike).

Printed: wins / ties / losses of warm, the sign test's p (exact binomial), the median gain with its 95 %
bootstrap interval, and the issue's target (warm better on >= 65 % of the pairs, sign test p < 0.05).
"""
from __future__ import annotations

import argparse
import sys
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_search import left_out, load, tasks_of  # noqa: E402
from fits import collect, fit_scored, pool_of, seed_store, split  # noqa: E402
from paired import compare  # noqa: E402

MIN_DATASETS = 8
NOISE = 0.05
TARGET_WINS = 0.65
TARGET_P = 0.05


def stacked(X: pd.DataFrame, y: pd.Series, n_rows: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """``X`` and ``y`` repeated up to ``n_rows`` rows, numeric columns with Gaussian noise on every copy."""
    rng = np.random.default_rng(seed)
    take = np.resize(np.arange(len(X)), max(n_rows, len(X)))
    out = X.iloc[take].reset_index(drop=True)
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]) or (pd.api.types.is_integer_dtype(out[c]) and out[c].nunique() > 20):
            std = float(X[c].std()) or 0.0
            out[c] = out[c].astype(float) + rng.normal(0.0, NOISE * std, len(out))
    return out, y.iloc[take].reset_index(drop=True)


def plan(pmlb: Path, args) -> tuple[list[tuple[str, int | None]], int]:
    """(name, stacked rows or None) to run, and how many pool datasets have ``--min-rows`` rows or more. Named
    datasets (``--datasets``) under ``--min-rows`` rows are stacked; otherwise every large one runs, plus
    stacked versions of the largest smaller ones when there are too few (or ``--stack-to`` asks for them)."""
    pool = pool_of(pmlb)
    large = pool[pool["n_instances"] >= args.min_rows]
    stack_to = args.stack_to or 2 * args.min_rows
    if args.datasets:
        rows = dict(zip(pool["dataset"], pool["n_instances"]))
        return [(n, stack_to if rows.get(n, 0) < args.min_rows else None) for n in args.datasets.split(",")], \
            len(large)
    entries: list[tuple[str, int | None]] = [(n, None) for n in large["dataset"]]
    n_stack = args.n_stacked if args.stack_to else max(0, MIN_DATASETS - len(large))
    smaller = pool[pool["n_instances"] < args.min_rows]["dataset"].tolist()[::-1][:n_stack]
    return entries + [(n, stack_to) for n in smaller], len(large)


def run_split(pmlb: Path, name: str, stack_to: int | None, task_of: dict, seed: int, hidden, args) -> list[dict]:
    """One (dataset, seed) pair: warm and bo on the same split, as one row."""
    import knowledge_base as kb
    from leave_out import LeaveOut
    X, y, task = load(pmlb, name, task_of, max_rows=args.max_rows)
    Xtr, Xte, ytr, yte = split(X, y, task, seed)
    if stack_to:
        Xtr, ytr = stacked(Xtr, ytr, int(0.75 * stack_to), seed)
    label = f"{name}+stack{stack_to}" if stack_to else name
    warm = fit_scored(Xtr, ytr, Xte, yte, task, strategy="warm", store=LeaveOut(kb.open_store(None), hidden),
                      budget=args.budget, seed=seed, n_jobs=args.n_jobs)
    bo = fit_scored(Xtr, ytr, Xte, yte, task, strategy="bo", store=None, budget=args.budget, seed=seed,
                    n_jobs=args.n_jobs)
    return [{"dataset": label, "seed": seed, "task": task, "n_train": len(Xtr), "warm": warm.test, "bo": bo.test,
            "gain": warm.test - bo.test, "warm_trials": warm.n_trials, "bo_trials": bo.n_trials,
            "warm_wall": warm.wall, "bo_wall": bo.wall}]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pmlb_dir", type=Path)
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--min-rows", type=int, default=10_000)
    parser.add_argument("--max-rows", type=int, default=100_000, help="seeded sample of larger datasets")
    parser.add_argument("--stack-to", type=int, default=0,
                        help="also run stacked versions of the largest smaller datasets, with N rows")
    parser.add_argument("--n-stacked", type=int, default=3, help="how many stacked versions with --stack-to")
    parser.add_argument("--datasets", default=None,
                        help="comma-separated names (default: the large pool datasets); smaller ones are stacked")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="CSV of every pair")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    task_of = tasks_of(pd.read_csv(args.pmlb_dir / "summary.csv"))
    entries, n_large = plan(args.pmlb_dir, args)
    seed_store()
    from automl.search.runner import warm_up
    warm_up()
    n_stacked = sum(1 for _, s in entries if s)
    print(f"# large tables: the pool has {n_large} datasets of {args.min_rows}+ rows; running {len(entries)} "
          f"({n_stacked} stacked) x seeds {','.join(map(str, seeds))}; budget {args.budget:g}s, n_jobs {args.n_jobs}, "
          f"at most {args.max_rows} rows", flush=True)

    def show(r: dict) -> str:
        return (f"{r['dataset'][:30]:30s} s{r['seed']} n_train={r['n_train']:<7d} warm={r['warm']:.4f}"
                f"({r['warm_trials']}t) bo={r['bo']:.4f}({r['bo_trials']}t) gain={r['gain']:+.4f}")

    hidden = {name: left_out(args.pmlb_dir, name, task_of) for name, _ in entries}  # before any clock
    jobs = [(f"{name} s{seed}", partial(run_split, args.pmlb_dir, name, stack_to, task_of, seed, hidden[name], args))
            for name, stack_to in entries for seed in seeds]
    frame = collect(jobs, show, args.out)
    if frame.empty:
        print("no pair was run")
        return 1
    stats = compare(frame["gain"])
    print(f"\n{len(frame)} (dataset, seed) pairs over {frame['dataset'].nunique()} datasets; wins by test score")
    print(stats.line("warm - bo"))
    met = stats.win_share >= TARGET_WINS and stats.p_sign < TARGET_P and stats.wins > stats.losses
    print(f"target: warm better on >= 65 % of pairs, sign test p < 0.05: {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
