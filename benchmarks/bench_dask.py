"""LocalRunner vs DaskExecutor (LocalCluster) at equal CPUs: search throughput, final score, per-trial overhead.

    python benchmarks/bench_dask.py /work/shared/datasets/pmlb --budget 20 --workers 2 --trivial 50

1. For each dataset, ``optimize(strategy="bo")`` with the same budget and seed through each executor:
   trials finished, trials per minute, best validation score, wall time. The Dask figures include starting the
   local cluster (it is part of the budget, as it is for a user).
2. Per-trial overhead: ``--trivial`` trivial trials (a linear model on 100 rows, full fidelity) pushed through each
   executor directly (a new trial as soon as a slot frees); wall time per trial, and the overhead per trial over
   the trials' own fit time (``wall * workers / n - mean fit_seconds``).
The load average is printed with every row: on a shared machine other processes change the figures.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT = ["breast_cancer_wisconsin", "phoneme", "197_cpu_act"]


def load_problem(path: Path, n_jobs: int, seed: int = 0):
    from automl.data import TableEncoder, encode_target
    from automl.metrics import get_metric
    from automl.search import SearchProblem
    frame = pd.read_csv(path, sep="\t")
    X = TableEncoder().fit_transform(frame.drop(columns=["target"]))
    target = encode_target(frame["target"], None)
    return SearchProblem(X, target.y, target.task, get_metric(None, target.task), seed=seed, n_jobs=n_jobs)


def executors(workers: int):
    from automl.search.dask_runner import dask_executor_factory
    from automl.search.runner import LocalRunner
    return [("local-pool", LocalRunner), ("dask-local", dask_executor_factory("local"))]


def search_rows(args) -> None:
    from automl.deadline import Deadline
    from automl.search import optimize
    print(f"\n== search: budget {args.budget:.0f}s, {args.workers} workers, strategy bo, seed 0")
    print(f"{'dataset':26s} {'executor':11s} {'task':10s} {'rows':>6s} {'trials':>6s} {'ok':>4s} {'per min':>8s} "
          f"{'score':>9s} {'wall':>6s} {'load':>5s}")
    for name in args.datasets.split(","):
        path = args.pmlb_dir / f"{name}.tsv.gz"
        if not path.exists():
            print(f"skip {name}: not found", file=sys.stderr)
            continue
        p = load_problem(path, args.workers)
        for label, factory in executors(args.workers):
            start = time.monotonic()
            result = optimize(p, Deadline(args.budget), strategy="bo", executor_factory=factory)
            wall = time.monotonic() - start
            done = [t for t in result.trials if t.status in ("ok", "failed", "timeout")]
            ok = [t for t in done if t.status == "ok"]
            print(f"{name:26s} {label:11s} {p.task:10s} {len(p.y):6d} {len(done):6d} {len(ok):4d} "
                  f"{len(done) / wall * 60:8.1f} {result.best_score:9.4f} {wall:6.1f} {os.getloadavg()[0]:5.1f}",
                  flush=True)


def overhead_rows(args) -> None:
    from automl.metrics import get_metric
    from automl.search.messages import TrialRequest
    from automl.search.validation import choose_protocol, make_splits
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(100, 5)), columns=[f"x{i}" for i in range(5)])
    y = (X["x0"] + rng.normal(scale=0.5, size=100) > 0).astype(np.int64).to_numpy()
    metric = get_metric(None, "binary")
    data = {"X": X, "y": y, "task": "binary", "metric": metric, "seed": 0, "user_families": [],
            "splits": make_splits(y, "binary", choose_protocol(100), 0), "sample_weight": None}
    from automl.models import REGISTRY
    config = REGISTRY.get("linear").default_config("binary")
    print(f"\n== overhead: {args.trivial} trivial trials (linear, 100 rows), {args.workers} workers")
    print(f"{'executor':11s} {'start':>6s} {'wall':>6s} {'per trial':>9s} {'fit mean':>8s} {'overhead':>8s} "
          f"{'load':>5s}")
    for label, factory in executors(args.workers):
        workdir = tempfile.mkdtemp(prefix="bench-dask-")
        try:
            t0 = time.monotonic()
            ex = factory(data, args.workers, workdir)
            started = time.monotonic() - t0
            fits, submitted = [], 0
            t1 = time.monotonic()
            while len(fits) < args.trivial:
                while submitted < args.trivial and ex.free_slots() > 0:
                    ex.submit(TrialRequest(trial_id=submitted, config=config, fidelity=1.0, seconds=30,
                                           keep_models_dir=None), 30)
                    submitted += 1
                for _, result in ex.collect(0.5):
                    fits.append(result.fit_seconds)
            wall = time.monotonic() - t1
            ex.close()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        per = wall / args.trivial
        fit = float(np.mean(fits))
        print(f"{label:11s} {started:6.2f} {wall:6.2f} {per * 1000:7.1f}ms {fit * 1000:6.1f}ms "
              f"{(per * args.workers - fit) * 1000:6.1f}ms {os.getloadavg()[0]:5.1f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pmlb_dir", type=Path)
    parser.add_argument("--datasets", default=",".join(DEFAULT))
    parser.add_argument("--budget", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--trivial", type=int, default=50)
    parser.add_argument("--skip-search", action="store_true")
    args = parser.parse_args()
    import warnings
    warnings.filterwarnings("ignore")
    import logging
    logging.getLogger("automl").setLevel(logging.ERROR)
    overhead_rows(args)
    if not args.skip_search:
        search_rows(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
