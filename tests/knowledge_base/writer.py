"""Helper process for the concurrency and kill tests: ``python -m tests.knowledge_base.writer PATH WORKER RUNS
PER_RUN [WRITE_PATIENCE]`` writes RUNS runs of PER_RUN evaluations, printing ``done i`` after each."""
from __future__ import annotations

import sys

import knowledge_base as kb
from knowledge_base._duckdb import WRITE_PATIENCE
from tests.knowledge_base.factories import lgbm, make_dataset, make_evaluation, make_run


def main() -> None:
    import logging
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    logging.getLogger("automl.kb").setLevel(logging.INFO)  # "staged as ..." lines tell the test staging was used
    path, worker, runs, per_run = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    patience = float(sys.argv[5]) if len(sys.argv) > 5 else WRITE_PATIENCE
    store = kb.open_store(path, seed_dir=None, write_patience=patience, read_patience=30.0)
    for i in range(runs):
        # a new dataset every other run: upserts, scaler refits and vector rewrites happen inside the writes
        dataset = make_dataset(f"w{worker}-d{i // 2}", centre=float(worker + i // 2))
        evaluations = [make_evaluation(lgbm(2 + j, 0.01 * (1 + worker)), -0.5 - j / 1000) for j in range(per_run)]
        store.record_run(make_run(f"w{worker}-r{i}"), dataset, evaluations)
        print(f"done {i}", flush=True)


if __name__ == "__main__":
    main()
