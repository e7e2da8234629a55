"""Stacking on against off (``SearchProblem.stacking``): the same search, with and without the second layer that
replaces the Caruana ensemble when it wins out-of-fold (``automl.search.stack_choice``), scored on test rows.

    python benchmarks/bench_stacking.py ../shared/datasets/pmlb [--datasets a,b,c] [--seeds 0,1,2] \\
        [--budget 30] [--max-trials N] [--n-jobs 2] [--out stacking.csv]

For each dataset and seed, a 75 / 25 split (``bench_search.trial_split``: stratified, seeded, the table cleaned
as the search gets it); the search (``optimize``, strategy ``bo``: no knowledge base, so nothing but stacking
differs) runs twice on the 75 %, stacking on then off, and each final model is scored on the 25 % with the task's
default metric (ROC-AUC, minus log loss, minus RMSE: greater is better). A time budget makes the two searches
differ by their timing too; ``--max-trials N`` runs both in deterministic mode (the same N trials, no refit), so
the pair differs only in the final model. Prints per dataset and seed both test scores and whether the stack was
chosen, then over the pairs: wins / ties / losses of stacking, the sign test's p and the 95 % bootstrap interval
of the median gain (``paired.compare``); the same over the pairs where the stack was chosen.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_search import load, metric_of, tasks_of, trial_split  # noqa: E402
from fits import collect  # noqa: E402
from paired import compare  # noqa: E402

# binary, multiclass and regression tables of 400 to 2,000 rows on which several families are competitive
DATASETS = ("diabetes,credit_g,breast_cancer_wisconsin,contraceptive,wine_quality_red,mfeat_fourier,"
            "1027_ESL,581_fri_c3_500_25")


def one_fit(Xtr, Xte, ytr, yte, task: str, seed: int, stacking: bool, args) -> dict:
    """One search on the training rows, its final model scored on the test rows."""
    from automl.deadline import Deadline
    from automl.metrics import get_metric
    from automl.search import SearchProblem, optimize
    name, score_fn, needs_proba = metric_of(task)
    problem = SearchProblem(Xtr.copy(), ytr, task, get_metric(name, task), seed=seed, n_jobs=args.n_jobs,
                            stacking=stacking)
    started = time.monotonic()
    result = optimize(problem, Deadline(args.budget), strategy="bo", max_trials=args.max_trials)
    wall = time.monotonic() - started
    pred = result.model.predict_proba(Xte) if needs_proba else result.model.predict(Xte)
    return {"test": float(score_fn(np.asarray(yte), np.asarray(pred))), "valid": float(result.best_score),
            "stacked": result.stack is not None, "wall": wall,
            "members": len([w for _, w in result.ensemble if w > 0])}


def one_dataset(pmlb: Path, name: str, task_of: dict, seeds: list[int], args) -> list[dict]:
    warnings.filterwarnings("ignore")
    X, y, task = load(pmlb, name, task_of)
    if task != "regression":
        y = pd.Series(np.unique(y, return_inverse=True)[1], name="target")
    rows = []
    for seed in seeds:
        Xtr, Xte, ytr, yte, _, _ = trial_split(X, y, task, seed)
        on = one_fit(Xtr, Xte, ytr, yte, task, seed, True, args)
        off = one_fit(Xtr, Xte, ytr, yte, task, seed, False, args)
        rows.append({"dataset": name, "task": task, "rows": len(y), "seed": seed, "on": on["test"],
                     "off": off["test"], "gain": on["test"] - off["test"], "stacked": on["stacked"],
                     "valid_on": on["valid"], "valid_off": off["valid"], "wall_on": on["wall"],
                     "wall_off": off["wall"]})
    return rows


def show(row: dict) -> str:
    return (f"{row['dataset']:28s} {row['task']:10s} seed {row['seed']}  on {row['on']:+.5f}  off {row['off']:+.5f}  "
            f"gain {row['gain']:+.5f}  {'stacked' if row['stacked'] else 'caruana'}  "
            f"wall {row['wall_on']:.1f}/{row['wall_off']:.1f} s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pmlb", type=Path)
    parser.add_argument("--datasets", default=DATASETS)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per search")
    parser.add_argument("--max-trials", type=int, default=None, help="deterministic mode: the same trials in both")
    parser.add_argument("--n-jobs", type=int, default=2, help="workers per search")
    parser.add_argument("--out", type=Path, default=None, help="CSV of the pairs")
    args = parser.parse_args(argv)
    summary = pd.read_csv(args.pmlb / "summary.csv")
    task_of = tasks_of(summary)
    seeds = [int(s) for s in args.seeds.split(",")]
    names = [n for n in args.datasets.split(",") if n]
    frame = collect([(n, lambda n=n: one_dataset(args.pmlb, n, task_of, seeds, args)) for n in names], show,
                    args.out)
    if frame.empty:
        print("no dataset ran")
        return 1
    print(f"\nbudget {args.budget:g} s, max_trials {args.max_trials}, {len(seeds)} seeds; test scores, greater is "
          f"better; gain = on - off")
    print(frame.groupby(["dataset", "task"], sort=False)[["on", "off", "gain", "stacked"]].mean().round(5).to_string())
    print(compare(frame["gain"]).line("stacking on - off"))
    chosen = frame[frame["stacked"]]
    if len(chosen):
        print(compare(chosen["gain"]).line("where the stack was chosen"))
    print(f"stack chosen on {len(chosen)}/{len(frame)} pairs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
