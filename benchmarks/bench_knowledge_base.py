"""Knowledge-base speed against its size: open, retrieval (neighbours + warm-start configurations),
write-back of 500 evaluations.

    python benchmarks/bench_knowledge_base.py --sizes 100,1000,10000 --evals-per-dataset 100

Stores are synthesised with bulk inserts (datasets with real meta-feature names, 100 evaluations
per dataset: 1,000,000 evaluations at 10,000 datasets). Prints medians over repetitions.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

import knowledge_base as kb
import sys
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from knowledge_base.canonical import canonical_json, config_id
from metafeatures import FEATURE_NAMES, METAFEATURES_VERSION


def build(path: Path, n_datasets: int, per_dataset: int, n_configs: int = 5000) -> None:
    store = kb.open_store(path, seed_dir=None)
    rng = np.random.default_rng(0)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    configs = [{"family": ["lightgbm", "extra_trees", "linear", "knn"][i % 4], "p": float(rng.random()), "i": i}
               for i in range(n_configs)]
    ids = [config_id(c) for c in configs]
    mf = rng.normal(size=(n_datasets, len(FEATURE_NAMES)))
    frames = {
        "datasets": pd.DataFrame({"dataset_id": [f"d{i}" for i in range(n_datasets)],
                                  "name": [f"dataset {i}" for i in range(n_datasets)], "source": "bench",
                                  "task": "binary", "n_rows": 1000, "n_features": 10,
                                  "metafeatures_version": METAFEATURES_VERSION, "metafeatures": "{}",
                                  "mf_values": list(mf), "extra": "{}", "created_at": now}),
        "configurations": pd.DataFrame({"config_id": ids, "family": [c["family"] for c in configs],
                                        "space_version": "1", "config_json": [canonical_json(c) for c in configs],
                                        "created_at": now}),
    }
    n = n_datasets * per_dataset
    ds = np.repeat(np.arange(n_datasets), per_dataset)
    loss = -rng.random(n)
    frames["evaluations"] = pd.DataFrame({
        "eval_id": [f"e{i}" for i in range(n)], "run_id": [f"r{d}" for d in ds], "dataset_id": [f"d{d}" for d in ds],
        "config_id": [ids[j] for j in rng.integers(0, n_configs, n)], "fidelity": 1.0, "protocol": "cv5",
        "metric": "roc_auc", "score": -loss, "loss": loss, "normalised_score": None, "fit_seconds": 1.0,
        "status": "ok", "error": None, "seed": 0, "library_version": "bench", "created_at": now, "origin": "bench",
        "source": "bench"})
    frames["runs"] = pd.DataFrame({"run_id": [f"r{d}" for d in range(n_datasets)], "kind": "refresh",
                                   "source": "bench", "started_at": now, "finished_at": now, "budget_seconds": 1.0,
                                   "settings": "{}", "versions": "{}", "dataset_id": [f"d{d}" for d in range(n_datasets)],
                                   "n_evaluations": per_dataset})
    with store._connect() as con:
        store._insert_frames(con, frames)


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--evals-per-dataset", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    print(f"{'datasets':>9s} {'evaluations':>12s} {'open ms':>8s} {'retrieval ms':>13s} {'write 500 ms':>13s}")
    for size in [int(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "kb.duckdb"
            build(path, size, args.evals_per_dataset)
            query = {n: float(v) for n, v in zip(FEATURE_NAMES, np.random.default_rng(1).normal(size=len(FEATURE_NAMES)))}
            t_open = timed(lambda: kb.open_store(path, seed_dir=None), args.repeats)
            store = kb.open_store(path, seed_dir=None)

            def retrieve():
                store.retrieve(query, "binary", "roc_auc", n=10, k=10)

            t_retrieve = timed(retrieve, args.repeats)
            from tests.kb_writer import make_run

            def write():
                store.record_run(*make_run(int(time.time_ns() % 1000), 0, 500))

            t_write = timed(write, args.repeats)
            print(f"{size:9d} {size * args.evals_per_dataset:12d} {t_open:8.1f} {t_retrieve:13.1f} {t_write:13.1f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
