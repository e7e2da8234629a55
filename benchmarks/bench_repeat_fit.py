"""The repeat fit (issue #28): a team refits the same model as data arrives; does last month's fit help?

    python benchmarks/bench_repeat_fit.py ../shared/datasets/pmlb --budgets 10,20 --history-budget 60 \
        --seeds 0,1,2 [--min-rows 3000] [--datasets a,b] [--drift random|sorted]

For every pool dataset of ``--min-rows`` rows or more (at most ``--max-rows``, default ``bench_search.MAX_ROWS``, a
seeded sample) and every seed:

1. "this month": the dataset split 75 / 25 (stratified, seeded; ``fits.split``); the 25 % is the test split.
2. "last month": 60 % of this month's training rows: a random 60 % (``--drift random``), or the first 60 %
   after sorting by one numeric column chosen per seed (``--drift sorted``: this month adds the column's top
   40 %, a drift).
3. Last month is fitted (``warm``, ``--history-budget`` seconds) into a copy of the bundled seed store that
   hides the dataset and its copies (``bench_search.left_out``, ``leave_out.LeaveOut``) and written back
   (``write_back=True``): the team's own history is the only thing the store knows about this dataset.
4. This month (all training rows) is fitted warm (that store; nothing written back) and cold at each budget,
   on the same split and seed (same validation folds). Cold is ``strategy="bo"`` without write-back: the
   estimator reads no knowledge base at all then, which is "without memory" (``warm_start=False`` with
   ``strategy="warm"`` runs the same ``bo``).

Wins are decided by the **test** score (ROC-AUC, negative log-loss, negative RMSE; ``bench_search.metric_of``):
gain = warm - cold, paired per (dataset, seed). The time warm needs is read on validation losses: the first
moment (seconds since ``fit`` was called, meta-features and retrieval included) at which one of warm's trials
reaches cold's final validation loss, cold's best trial at the highest fidelity cold finished a trial at (all
training rows, unless cold's budget ended while it screened on a share of them; fidelities are never mixed),
read on the trials' end times (``fits.Fit.time_to``; the data of ``plot_anytime``), as a share of the budget;
never reached counts as infinite, a cold run without any finished trial leaves the pair out of that median.

Each pair's line ends with ``history=Nev@r``: the N evaluations last month's fit wrote back (0 when no trial
finished in its budget: then warm has no history to use) and r, the rank of that history among the datasets
warm retrieved (``-``: not retrieved); ``reach`` is warm's time to cold's final validation loss (at that
fidelity) and ``search from`` the seconds warm spent before its search started (cleaning, meta-features,
retrieval), both on the same clock.

Printed per budget: pairs, warm's wins / ties / losses, the sign test's p (exact binomial), the median gain
with its 95 % bootstrap interval, the median time share, and the issue's targets (warm better on >= 75 % of
the pairs; cold's final score reached within a third of the budget on the median).
"""
from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_search import MAX_ROWS, left_out, load, tasks_of  # noqa: E402
from fits import collect, fit_scored, pool_of, seed_store, split  # noqa: E402
from paired import compare  # noqa: E402

HISTORY_SHARE = 0.6
TARGET_WINS = 0.75
TARGET_SHARE = 1 / 3


def last_month(X: pd.DataFrame, y: pd.Series, drift: str, seed: int) -> tuple[pd.DataFrame, pd.Series, str]:
    """60 % of the training rows: random, or the first 60 % by a numeric column (named in the third value)."""
    n = int(round(HISTORY_SHARE * len(X)))
    if drift == "random":
        rows = X.sample(n, random_state=seed).index
        return X.loc[rows], y.loc[rows], "-"
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    varied = [c for c in numeric if X[c].nunique() >= 20] or numeric or list(X.columns)
    column = varied[np.random.default_rng(seed).integers(len(varied))]
    rows = X[column].sort_values(kind="stable").index[:n]
    return X.loc[rows], y.loc[rows], str(column)


def run_pair(pmlb: Path, name: str, task_of: dict, seed: int, args, base_store: Path) -> list[dict]:
    import knowledge_base as kb
    from leave_out import LeaveOut
    X, y, task = load(pmlb, name, task_of, max_rows=args.max_rows or None)
    Xtr, Xte, ytr, yte = split(X, y, task, seed)
    Xh, yh, column = last_month(Xtr, ytr, args.drift, seed)
    hidden = left_out(pmlb, name, task_of)
    with tempfile.TemporaryDirectory(prefix="bench-repeat-") as d:
        shutil.copy(base_store, Path(d) / "kb.duckdb")
        store = LeaveOut(kb.open_store(Path(d) / "kb.duckdb"), hidden)
        history = fit_scored(Xh, yh, None, None, task, strategy="warm", store=store, budget=args.history_budget,
                             seed=seed, n_jobs=args.n_jobs, write_back=True)
        rows = []
        for budget in args.budgets:
            warm = fit_scored(Xtr, ytr, Xte, yte, task, strategy="warm", store=store, budget=budget, seed=seed,
                              n_jobs=args.n_jobs)
            cold = fit_scored(Xtr, ytr, Xte, yte, task, strategy="bo", store=None, budget=budget, seed=seed,
                              n_jobs=args.n_jobs)
            fidelity = cold.top_fidelity  # cold's final validation loss: its best trial at its highest fidelity
            reach = warm.time_to(cold.best(fidelity), fidelity) if cold.points else math.nan
            own = [i for i, nb in enumerate(warm.neighbours) if nb.get("source") == "local"]
            rows.append({"dataset": name, "seed": seed, "task": task, "n": len(X), "sorted_by": column,
                         "budget": budget, "history_trials": history.n_trials,
                         "history_written": history.n_written, "history_rank": own[0] + 1 if own else 0,
                         "warm": warm.test, "cold": cold.test,
                         "gain": warm.test - cold.test, "fidelity": fidelity, "warm_valid_loss": warm.best(fidelity),
                         "cold_valid_loss": cold.best(fidelity),
                         "time_to_cold": reach, "share": reach / budget, "warm_trials": warm.n_trials,
                         "cold_trials": cold.n_trials, "warm_wall": warm.wall, "cold_wall": cold.wall,
                         "warm_search_start": warm.search_start, "cold_search_start": cold.search_start})
    return rows


def _seconds(value: float) -> str:
    return "-" if math.isnan(value) else "never" if math.isinf(value) else f"{value:.1f}s"


def report(frame: pd.DataFrame) -> list[str]:
    lines = []
    for budget, part in frame.groupby("budget", sort=True):
        stats = compare(part["gain"])
        shares = part["share"].dropna()
        share = float(np.median(shares)) if len(shares) else math.nan
        share_text = ("not reached within the budget" if math.isinf(share) else
                      f"{share:.2f} of the budget" if share == share else "no cold run finished a trial")
        share_text += f" ({len(shares)} pairs; reached in {int(np.isfinite(shares).sum())})"
        wins_met = stats.win_share >= TARGET_WINS
        share_met = share <= TARGET_SHARE
        lines += [f"budget {budget:g}s",
                  "  " + stats.line("warm - cold (test score)"),
                  f"  median time warm needs to reach cold's final validation score: {share_text}",
                  f"  targets: warm better on >= 75 % of pairs: {'met' if wins_met else 'NOT met'}; "
                  f"cold's final within <= 1/3 of the budget (median): {'met' if share_met else 'NOT met'}"]
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pmlb_dir", type=Path)
    parser.add_argument("--budgets", default="10,20", help="this month's budgets, seconds, comma-separated")
    parser.add_argument("--history-budget", type=float, default=60.0, help="last month's budget, seconds")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--min-rows", type=int, default=3000)
    parser.add_argument("--max-rows", type=int, default=MAX_ROWS,
                        help=f"a seeded sample of this many rows of a larger dataset (0: every row; default {MAX_ROWS})")
    parser.add_argument("--datasets", default=None, help="comma-separated names (default: every pool dataset of "
                                                         "--min-rows rows or more)")
    parser.add_argument("--drift", choices=("random", "sorted"), default="random")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="CSV of every pair")
    args = parser.parse_args(argv)
    args.budgets = [float(b) for b in args.budgets.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    task_of = tasks_of(pd.read_csv(args.pmlb_dir / "summary.csv"))
    pool = pool_of(args.pmlb_dir, args.min_rows)
    names = args.datasets.split(",") if args.datasets else list(pool["dataset"])
    base_store = seed_store()
    from automl.search.runner import warm_up
    warm_up()
    print(f"# repeat fit: {len(pool)} pool datasets of {args.min_rows}+ rows, running {len(names)} x seeds "
          f"{','.join(map(str, seeds))}; history {args.history_budget:g}s ({args.drift}); this month "
          f"{', '.join(f'{b:g}' for b in args.budgets)}s; n_jobs {args.n_jobs}", flush=True)

    def show(r: dict) -> str:
        return (f"{r['dataset'][:24]:24s} s{r['seed']} {r['budget']:>4g}s sorted_by={r['sorted_by'][:12]:12s} "
                f"warm={r['warm']:.4f}({r['warm_trials']}t) cold={r['cold']:.4f}({r['cold_trials']}t) "
                f"gain={r['gain']:+.4f} reach={_seconds(r['time_to_cold'])} at fidelity {r['fidelity']:.2f} "
                f"(search from {r['warm_search_start']:.1f}s) history={r['history_written']}ev"
                f"@{r['history_rank'] or '-'}")

    jobs = [(f"{name} s{seed}", partial(run_pair, args.pmlb_dir, name, task_of, seed, args, base_store))
            for name in names for seed in seeds]
    frame = collect(jobs, show, args.out)
    if frame.empty:
        print("no pair was run")
        return 1
    print(f"\n{frame[['dataset', 'seed']].drop_duplicates().shape[0]} (dataset, seed) pairs over "
          f"{frame['dataset'].nunique()} datasets; wins by test score")
    for line in report(frame):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
