"""Imbalanced classification: threshold metrics with class weighting and a tuned decision threshold against
the untuned models, on the imbalanced datasets of PMLB (``imbalance`` column of summary.csv).

    python benchmarks/bench_imbalance.py ../shared/datasets/pmlb --budget 10 --n-jobs 2

Systems, each fitted on the same stratified 75 % and scored on the held-out 25 % with balanced accuracy
and F1 (binary: F1 of the minority class, coded 1; multiclass: macro F1):

- ``lgbm``: LightGBM defaults, argmax predictions (untuned).
- ``auto-default``: this project optimising the task's default metric (ROC-AUC / log-loss), argmax
  predictions: the search without the target metric, i.e. no class-weight choice aimed at it and no
  threshold.
- ``auto-ba`` / ``auto-f1``: this project optimising balanced accuracy / F1 (class weighting is part of
  the space; binary tasks get a decision threshold tuned on validation predictions).

Printed: per dataset the scores, then per system the mean and median of each metric and wins/ties/losses
against ``auto-default`` (the untuned model of the same search). Leave-one-out: the knowledge base never
retrieves the dataset under test; nothing is written back.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_search import left_out, tasks_of, use_knowledge_base  # noqa: E402
from leave_out import LeaveOut  # noqa: E402

MAX_ROWS = 20_000
SYSTEMS = ("lgbm", "auto-default", "auto-ba", "auto-f1")


def imbalanced(summary: pd.DataFrame, threshold: float, limit: int | None) -> list[str]:
    cls = summary[(summary["endpoint_type"] != "continuous") & (summary["imbalance"] >= threshold)]
    cls = cls[cls["n_instances"] <= 100_000].sort_values("imbalance", ascending=False)
    names = list(cls["dataset"])
    return names[:limit] if limit else names


def load(pmlb: Path, name: str) -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.read_csv(pmlb / f"{name}.tsv.gz", sep="\t")
    if len(frame) > MAX_ROWS:
        frame = frame.sample(MAX_ROWS, random_state=0)
    labels, counts = np.unique(frame["target"], return_counts=True)
    # classes coded by frequency, most frequent first: in binary tasks the minority class is 1 (F1's positive)
    order = labels[np.argsort(-counts, kind="stable")]
    y = pd.Series(frame["target"]).map({v: i for i, v in enumerate(order)}).to_numpy()
    return frame.drop(columns=["target"]), y


def scores(y_true: np.ndarray, labels: np.ndarray, binary: bool) -> dict[str, float]:
    from sklearn.metrics import balanced_accuracy_score, f1_score
    return {"balanced_accuracy": float(balanced_accuracy_score(y_true, labels)),
            "f1": float(f1_score(y_true, labels, average="binary" if binary else "macro", zero_division=0))}


def run(system: str, X, y, Xt, binary: bool, budget: float, n_jobs: int, seed: int,
        excluded: tuple[str, ...]) -> np.ndarray:
    if system == "lgbm":
        import lightgbm as lgb
        return lgb.LGBMClassifier(n_jobs=n_jobs, verbose=-1, random_state=seed).fit(X, y).predict(Xt)
    import knowledge_base as kb
    from automl import AutoMLClassifier
    metric = {"auto-default": None, "auto-ba": "balanced_accuracy", "auto-f1": "f1" if binary else "f1_macro"}[system]
    # leave-one-out (the dataset and its copies: bench_search.left_out)
    model = AutoMLClassifier(metric=metric, time_budget=budget, n_jobs=n_jobs, seed=seed, write_back=False,
                             knowledge_base=LeaveOut(kb.open_store(None), excluded))
    model.fit(X, y)
    return np.asarray(model.predict(Xt))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pmlb_dir", type=Path)
    parser.add_argument("--budget", type=float, default=10.0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-imbalance", type=float, default=0.25)
    parser.add_argument("--limit", type=int, default=None, help="the N most imbalanced datasets only")
    parser.add_argument("--datasets", default=None, help="comma-separated names instead")
    parser.add_argument("--kb", default=None, help="knowledge-base path (default: AUTOML_KB or a temporary store)")
    parser.add_argument("--out", type=Path, default=None, help="CSV of every score")
    args = parser.parse_args(argv)
    from fits import split

    use_knowledge_base(args.kb)
    summary = pd.read_csv(args.pmlb_dir / "summary.csv")
    names = args.datasets.split(",") if args.datasets else imbalanced(summary, args.min_imbalance, args.limit)
    from automl.search.runner import warm_up
    warm_up()
    rows = []
    print(f"# budget {args.budget:g}s, n_jobs {args.n_jobs}, {len(names)} datasets", flush=True)
    task_of = tasks_of(summary)
    for name in names:
        X, y = load(args.pmlb_dir, name)
        excluded = left_out(args.pmlb_dir, name, task_of)
        binary = len(np.unique(y)) == 2
        Xtr, Xte, ytr, yte = split(X, y, "binary" if binary else "multiclass", args.seed, codes=False)
        shares = np.bincount(y) / len(y)
        line = [f"{name[:26]:26s} k={len(shares):<2d} minority={100 * shares.min():5.1f}%"]
        for system in SYSTEMS:
            try:
                labels = run(system, Xtr, ytr, Xte, binary, args.budget, args.n_jobs, args.seed, excluded)
                s = scores(yte, labels, binary)
            except Exception as exc:  # a failure scores nothing and is reported
                print(f"# {system} failed on {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
                s = {"balanced_accuracy": float("nan"), "f1": float("nan")}
            rows.append({"dataset": name, "system": system, **s})
            line.append(f"{system}=BA {s['balanced_accuracy']:.3f}/F1 {s['f1']:.3f}")
        print(" ".join(line), flush=True)
    frame = pd.DataFrame(rows)
    if args.out:
        frame.to_csv(args.out, index=False)
    print(f"\n{len(names)} datasets, budget {args.budget:g}s")
    for metric, tuned in (("balanced_accuracy", "auto-ba"), ("f1", "auto-f1")):
        table = frame.pivot(index="dataset", columns="system", values=metric)
        print(f"\n{metric}: {'system':14s} {'mean':>7s} {'median':>7s} {'W/T/L vs auto-default':>22s}")
        for system in SYSTEMS:
            diff = table[system] - table["auto-default"]
            wtl = f"{(diff > 1e-4).sum()}/{(diff.abs() <= 1e-4).sum()}/{(diff < -1e-4).sum()}"
            print(f"{'':{len(metric) + 2}s}{system:14s} {table[system].mean():7.3f} "
                  f"{statistics.median(table[system].dropna()):7.3f} {wtl:>22s}")
        gain = table[tuned] - table["auto-default"]
        print(f"{'':{len(metric) + 2}s}{tuned} - auto-default: mean {gain.mean():+.3f}, median {gain.median():+.3f}; "
              f"{tuned} - lgbm: mean {(table[tuned] - table['lgbm']).mean():+.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
