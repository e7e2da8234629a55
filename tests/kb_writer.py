"""Helper process for the concurrency and kill tests: writes runs of evaluations into one store."""
from __future__ import annotations

import sys
import uuid
from datetime import datetime, timezone

import knowledge_base as kb
from metafeatures import FEATURE_NAMES, METAFEATURES_VERSION


def make_run(worker: int, index: int, n_evals: int):
    now = datetime.now(timezone.utc)
    dataset = kb.DatasetRecord(fingerprint=f"ds-{worker}", name=f"worker {worker}", source="test", task="binary",
                               n_rows=100, n_features=5,
                               metafeatures={n: float(worker + i) for i, n in enumerate(FEATURE_NAMES)},
                               metafeatures_version=METAFEATURES_VERSION)
    evals = [kb.EvaluationRecord(config={"family": "lightgbm", "num_leaves": 2 + j, "worker": worker},
                                 family="lightgbm", space_version="1", fidelity=1.0, protocol="cv5", metric="roc_auc",
                                 score=0.5 + j / 1000, loss=-(0.5 + j / 1000), fit_seconds=0.1, status="ok",
                                 error=None, seed=0, library_version="test") for j in range(n_evals)]
    run = kb.RunRecord(run_id=uuid.uuid4().hex, kind="fit", started_at=now, finished_at=now, budget_seconds=1.0,
                       settings={"i": index}, versions={})
    return run, dataset, evals


def main() -> None:
    path, worker, runs, per_run = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    store = kb.open_store(path, seed_dir=None)
    for i in range(runs):
        store.record_run(*make_run(worker, i, per_run))
        print(f"done {i}", flush=True)


if __name__ == "__main__":
    main()
