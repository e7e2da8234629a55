"""Does the store learn? (issue #28) Leave-one-out regret as the knowledge base grows from a quarter of the pool
to all of it.

    python benchmarks/bench_store_learns.py ../shared/datasets/pmlb --fractions 0.25,0.5,1.0 --draws 3 \
        --fit-budget 10 --fit-datasets 8 [--held-out N] [--seed 0]

For each draw, the bundled seed's datasets are shuffled within each task, and the store is cut to the first
25 % / 50 % / 100 % of them (nested: the 50 % store holds the 25 % one; ``leave_out.LeaveOut.keeping`` hides
the others from every read, the store itself is not rebuilt). Two measurements on every cut:

* **suggestions** (offline, as ``bench_metalearning.py``): for every dataset of the seed (or ``--held-out N``
  of them, seeded) the cut store, with that dataset and its same-shape twins hidden, orders the candidate pool
  (``bench_metalearning.retrieval_order``: the product's ``store.suggest`` from 25 neighbours, then the
  neighbours' average rank); the regret of the best of the first 1 / 3 / 10 is read from the seed's recorded
  pool evaluations of the held-out dataset (normalised: 0 = the pool's best on it, 1 = its worst).
* **a warm fit** (``--fit-budget`` seconds) on ``--fit-datasets`` seed datasets found in the PMLB folder
  (seeded sample; draw d splits them with seed d, 75 / 25), with the dataset and its copies hidden
  (``bench_search.left_out``); its test score (``bench_search.metric_of``) as normalised regret against the
  best of the fits on that split: (best - score) / (best - constant predictor's score).

Printed per fraction: the mean regret with a 95 % bootstrap interval over the held-out datasets (each one's
regret averaged over the draws). Then, for each measurement, whether the curve falls: the means decrease
from each fraction to the next, and the smallest against the largest store, paired per held-out dataset
(decrease = regret(smallest) - regret(largest)): wins / ties / losses, sign test, median decrease and its
interval.

Limits: the meta-feature scaling that retrieval's distances use is the whole store's (a cut does not refit
it); with the whole pool at 235 datasets a quarter still has 14 to 26 datasets per task.
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

from bench_metalearning import PRODUCT_K, best_of_k, pool_matrix, retrieval_order, twins_of  # noqa: E402
from bench_search import left_out, load, metric_of, run_constant, tasks_of  # noqa: E402
from fits import collect, fit_scored, seed_store, split  # noqa: E402
from paired import bootstrap_ci, compare  # noqa: E402

KS = (1, 3, 10)


def cuts(datasets: pd.DataFrame, fractions: list[float], draws: int, seed: int) -> dict[tuple[float, int], set]:
    """(fraction, draw) -> the fingerprints the store keeps: per task, the first share of a seeded shuffle
    (nested within a draw)."""
    out = {}
    for d in range(draws):
        rng = np.random.default_rng(seed + d)
        order = {task: list(rng.permutation(part.index.to_numpy())) for task, part in datasets.groupby("task")}
        for f in fractions:
            out[(f, d)] = {fp for fps in order.values() for fp in fps[:int(round(f * len(fps)))]}
    return out


def suggestion_regret(store, datasets, losses, kept: dict, twins: dict, held_out: list[str]) -> pd.DataFrame:
    """One row per (fraction, draw, held-out dataset, k): the regret of the best of the first k suggestions."""
    from knowledge_base.portfolio import normalised_regret
    from leave_out import LeaveOut
    names = datasets["name"].astype(str).to_dict()
    rows = []
    for task, part in datasets.groupby("task"):
        task_losses = losses.loc[part.index].dropna(axis=1, how="all")
        regret_all = pd.DataFrame(normalised_regret(task_losses.to_numpy()), index=task_losses.index,
                                  columns=task_losses.columns)
        for (fraction, draw), keep in kept.items():
            view = LeaveOut.keeping(store, [names[fp] for fp in keep])
            for fp in [fp for fp in held_out if fp in part.index]:
                others = [o for o in part.index if o in keep and o != fp and o not in twins[fp]]
                regret_others = pd.DataFrame(normalised_regret(task_losses.loc[others].to_numpy()), index=others,
                                             columns=task_losses.columns)
                order = retrieval_order(view, fp, datasets.loc[fp], regret_others, PRODUCT_K,
                                        [names[t] for t in twins[fp]])
                for k in KS:
                    rows.append({"fraction": fraction, "draw": draw, "dataset": names[fp], "measure": f"k={k}",
                                 "regret": best_of_k(order, regret_all.loc[fp], k)})
    return pd.DataFrame(rows)


def fit_rows(pmlb: Path, name: str, task_of: dict, draw: int, kept: dict, names: dict, store, hidden,
             fractions: list[float], args) -> list[dict]:
    """Warm fits of ``name`` on draw ``draw``'s split, one per store cut, and the constant predictor's score."""
    from leave_out import LeaveOut
    X, y, task = load(pmlb, name, task_of)
    Xtr, Xte, ytr, yte = split(X, y, task, draw)
    _, score_fn, _ = metric_of(task)
    constant = float(score_fn(np.asarray(yte), run_constant(Xtr, ytr, Xte, task, 0, 1, draw)))
    rows = []
    for fraction in fractions:
        view = LeaveOut.keeping(store, [names[fp] for fp in kept[(fraction, draw)]], hide=hidden)
        fit = fit_scored(Xtr, ytr, Xte, yte, task, strategy="warm", store=view, budget=args.fit_budget, seed=draw,
                         n_jobs=args.n_jobs)
        rows.append({"fraction": fraction, "draw": draw, "dataset": name, "test": fit.test, "constant": constant,
                     "n_trials": fit.n_trials, "neighbours": len(fit.neighbours)})
    return rows


def fit_regret(frame: pd.DataFrame) -> pd.DataFrame:
    """Normalised regret of each fit against the best fit on its (dataset, draw) split."""
    best = frame.groupby(["dataset", "draw"])["test"].transform("max")
    span = (best - frame["constant"]).where(lambda s: s > 0)
    return frame.assign(measure="fit", regret=((best - frame["test"]) / span).fillna(0.0))


def curve(frame: pd.DataFrame, fractions: list[float]) -> list[str]:
    """The table: mean regret [95 % CI] per measure and fraction, then whether each measure falls."""
    per = frame.groupby(["measure", "fraction", "dataset"])["regret"].mean()  # each dataset averaged over draws
    measures = [m for m in [f"k={k}" for k in KS] + ["fit"] if m in per.index.get_level_values(0)]
    lines = [f"{'store':>8s} " + " ".join(f"{m:>24s}" for m in measures)]
    means = {}
    for f in fractions:
        cells = []
        for m in measures:
            values = per.loc[m].loc[f].to_numpy() if (m, f) in per.index.droplevel(2) else np.array([])
            lo, hi = bootstrap_ci(values, np.mean)
            means[(m, f)] = float(np.mean(values)) if len(values) else float("nan")
            cells.append(f"{means[(m, f)]:.3f} [{lo:.3f}, {hi:.3f}] n={len(values)}")
        lines.append(f"{100 * f:7.0f}% " + " ".join(f"{c:>24s}" for c in cells))
    lines.append("")
    small, large = fractions[0], fractions[-1]
    for m in measures:
        steps = [means[(m, a)] > means[(m, b)] for a, b in zip(fractions, fractions[1:])]
        decrease = (per.loc[m].loc[small] - per.loc[m].loc[large]).dropna()
        stats = compare(decrease.to_numpy())
        falls = all(steps) and stats.wins > stats.losses and stats.p_sign < 0.05
        lines.append(f"{m:5s} means fall at every step: {'yes' if all(steps) else 'no'}; "
                     + stats.line(f"{100 * small:.0f}% -> {100 * large:.0f}%", gain="decrease")
                     + f"; falls (and significant at 5 %): {'yes' if falls else 'no'}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pmlb_dir", type=Path)
    parser.add_argument("--fractions", default="0.25,0.5,1.0")
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--fit-budget", type=float, default=10.0)
    parser.add_argument("--fit-datasets", type=int, default=8, help="datasets fitted per draw (0: no fits)")
    parser.add_argument("--held-out", type=int, default=0,
                        help="held-out datasets of the suggestion measurement (0: every seed dataset)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="CSV of every regret")
    args = parser.parse_args(argv)
    fractions = sorted(float(f) for f in args.fractions.split(","))
    if not fractions or fractions[0] <= 0 or fractions[-1] > 1:
        raise SystemExit("--fractions: shares of the pool in (0, 1]")
    import knowledge_base as kb
    from automl.space import SPACE_VERSION
    store = kb.open_store(seed_store())
    datasets, losses, _, _ = pool_matrix(store, SPACE_VERSION)
    kept = cuts(datasets, fractions, args.draws, args.seed)
    rng = np.random.default_rng(args.seed)
    held_out = list(datasets.index)
    if args.held_out:
        held_out = list(rng.choice(held_out, size=min(args.held_out, len(held_out)), replace=False))
    print(f"# store learns: {len(datasets)} seed datasets {datasets['task'].value_counts().to_dict()}, pool of "
          f"{losses.shape[1]} configurations (space version {SPACE_VERSION}), fractions "
          f"{', '.join(f'{f:g}' for f in fractions)}, {args.draws} draw(s); suggestions on {len(held_out)} held-out "
          f"dataset(s); {args.fit_datasets} fitted at {args.fit_budget:g}s", flush=True)
    frame = suggestion_regret(store, datasets, losses, kept, twins_of(datasets), held_out)
    task_of = tasks_of(pd.read_csv(args.pmlb_dir / "summary.csv"))
    names = datasets["name"].astype(str).to_dict()
    fittable = sorted(n for n in names.values() if n in task_of and (args.pmlb_dir / f"{n}.tsv.gz").exists())
    fitted = list(rng.choice(fittable, size=min(args.fit_datasets, len(fittable)), replace=False))
    if fitted:
        from automl.search.runner import warm_up
        warm_up()

        def show(r: dict) -> str:
            return (f"{r['dataset'][:24]:24s} draw {r['draw']} store {100 * r['fraction']:3.0f}% "
                    f"test={r['test']:.4f} ({r['n_trials']}t, {r['neighbours']} neighbours)")

        jobs = [(f"{name} draw {d}", partial(fit_rows, args.pmlb_dir, name, task_of, d, kept, names, store,
                                             left_out(args.pmlb_dir, name, task_of), fractions, args))
                for name in fitted for d in range(args.draws)]
        fits = collect(jobs, show)
        if len(fits):
            frame = pd.concat([frame, fit_regret(fits)[["fraction", "draw", "dataset", "measure", "regret"]]])
    if args.out:
        frame.to_csv(args.out, index=False)
    print("\nmean normalised regret [95 % bootstrap CI of the mean] over held-out datasets (each averaged over the "
          "draws); k = best of the first k suggestions, fit = a warm fit's test score")
    for line in curve(frame, fractions):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
