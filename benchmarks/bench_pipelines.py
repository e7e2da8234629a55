"""Pipeline steps searched against preprocessing fixed (issue 27): does searching the encoding, numeric transform,
selection and construction steps find better models within the same budget?

    python benchmarks/bench_pipelines.py ../shared/datasets/pmlb --budget 30 --seeds 0,1,2 [--datasets a,b]

Per dataset and seed: a stratified (classification) 75 / 25 split; two fits of this project with the same budget,
seed and leave-one-out knowledge base (``bench_search.left_out``), scored on the held-out 25 % with the task's
default metric:

- ``steps``: the search space with the pipeline steps as choices (``automl.models.steps``);
- ``fixed``: the same search with every family's steps fixed at its defaults (the preprocessing before steps were
  choices: the families' ``steps`` emptied in this process, so no configuration names a step and the workers
  build the default pipeline).

Printed: per split both held-out scores, then overall and per family (the best full-fidelity validation score of
each family in each search, paired per split) wins / ties / losses of ``steps`` and a two-sided sign test.
Nothing is written back.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
import warnings
from pathlib import Path

import pandas as pd

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_search import left_out, load, tasks_of, use_knowledge_base  # noqa: E402
from leave_out import LeaveOut  # noqa: E402
from paired import compare  # noqa: E402

SYSTEMS = ("steps", "fixed")


@contextlib.contextmanager
def fixed_preprocessing():
    """Every registered family without pipeline slots while inside (registry order kept)."""
    from automl.models import REGISTRY
    saved = dict(REGISTRY._entries)
    REGISTRY._entries.update({k: dataclasses.replace(f, steps=()) for k, f in saved.items()})
    REGISTRY.version += 1
    try:
        yield
    finally:
        REGISTRY._entries.update(saved)
        REGISTRY.version += 1


def fit(system: str, X, y, task: str, budget: float, n_jobs: int, seed: int, excluded: tuple[str, ...]):
    import knowledge_base as kb
    from automl import AutoML
    model = AutoML(task=task, time_budget=budget, n_jobs=n_jobs, seed=seed, write_back=False,
                   knowledge_base=LeaveOut(kb.open_store(None), excluded))
    with fixed_preprocessing() if system == "fixed" else contextlib.nullcontext():
        model.fit(X, y)
    return model


def family_bests(model) -> dict[str, float]:
    """Per family: the best full-fidelity validation score of the search (higher is better: sign flipped for losses)."""
    board = model.leaderboard_
    rows = board[(board["kind"] == "trial") & (board["status"] == "ok")]
    return {fam: float(-group["loss"].astype(float).min()) for fam, group in rows.groupby("family")}


def winner(model) -> str:
    """The best full-fidelity trial's pipeline, e.g. ``quantile > linear`` (what "changes the winner" compares)."""
    board = model.leaderboard_
    rows = board[(board["kind"] == "trial") & (board["status"] == "ok")]
    if rows.empty:
        return "-"
    return str(rows.loc[rows["loss"].astype(float).idxmin(), "pipeline"]).replace(" ", "")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pmlb_dir", type=Path)
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--datasets", default=None, help="comma-separated names (default: every dataset <= 20k rows)")
    parser.add_argument("--kb", default=None, help="knowledge-base path (default: AUTOML_KB or a temporary store)")
    parser.add_argument("--out", type=Path, default=None, help="CSV of every split (scores and winners)")
    args = parser.parse_args(argv)
    from fits import split

    from automl.metrics import get_metric
    use_knowledge_base(args.kb)
    summary = pd.read_csv(args.pmlb_dir / "summary.csv")
    task_of = tasks_of(summary)
    names = args.datasets.split(",") if args.datasets else list(summary[summary["n_instances"] <= 20_000]["dataset"])
    seeds = [int(s) for s in args.seeds.split(",")]
    overall: list[float] = []
    per_family: dict[str, list[float]] = {}
    rows: list[dict] = []
    print(f"{'dataset':30s} seed metric     steps      fixed  winner steps / fixed")
    for name in names:
        X, y, task = load(args.pmlb_dir, name, task_of)
        excluded = left_out(args.pmlb_dir, name, task_of)
        metric = get_metric(None, task)
        for seed in seeds:
            Xa, Xb, ya, yb = split(X, y, task, seed, codes=False)
            held, bests, winners = {}, {}, {}
            for system in SYSTEMS:
                model = fit(system, Xa, ya, task, args.budget, args.n_jobs, seed, excluded)
                ev = model.evaluate(Xb, yb)
                held[system] = float(ev.score(metric.name))
                bests[system] = family_bests(model)
                winners[system] = winner(model)
            sign = 1.0 if metric.greater_is_better else -1.0
            overall.append(sign * (held["steps"] - held["fixed"]))
            for fam in set(bests["steps"]) & set(bests["fixed"]):
                per_family.setdefault(fam, []).append(bests["steps"][fam] - bests["fixed"][fam])
            print(f"{name:30s} {seed:4d} {metric.name:8s} {held['steps']:10.5f} {held['fixed']:10.5f}  "
                  f"{winners['steps']} / {winners['fixed']}", flush=True)
            rows.append({"dataset": name, "seed": seed, "task": task, "metric": metric.name,
                         **{f"{s}_score": held[s] for s in SYSTEMS}, **{f"{s}_winner": winners[s] for s in SYSTEMS}})
            if args.out:
                pd.DataFrame(rows).to_csv(args.out, index=False)
    print()
    print(compare(overall).line("held-out score, steps - fixed"))
    for fam, diffs in sorted(per_family.items()):
        print(compare(diffs).line(f"  {fam}: best validation score, steps - fixed"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
