"""The local runner: isolated trials; a trial that raises, hangs or exhausts memory becomes a status
with its reason, the worker is replaced, and the next trials run."""
from __future__ import annotations

import time

import pytest

from automl.models import REGISTRY
from automl.search.messages import TrialRequest
from automl.search.runner import LocalRunner
from automl.search.validation import make_splits
from tests.search.conftest import make_problem


def _collect_all(runner, limit=60.0):
    out = {}
    stop = time.monotonic() + limit
    while runner.running() and time.monotonic() < stop:
        out.update(dict(runner.collect(0.2)))
    return out


def test_failures_become_statuses_and_workers_are_replaced(faulty_family, tmp_path):
    p = make_problem(n=120)
    data = {"X": p.X, "y": p.y, "task": p.task, "metric": p.metric, "seed": 0,
            "splits": make_splits(p.y, p.task, "cv5", 0), "user_families": REGISTRY.user_families()}
    runner = LocalRunner(data, 2, str(tmp_path), memory_limit=3 << 30)
    try:
        def request(i, mode, seconds, config=None):
            return TrialRequest(trial_id=i, config=config or {"family": "faulty_test", "mode": mode}, fidelity=1.0,
                                seconds=seconds, keep_models_dir=None)

        runner.submit(request(0, "raise", 30), 30)
        runner.submit(request(1, "hang", 1.0), 1.0)
        results = _collect_all(runner)
        runner.submit(request(2, "memory", 30), 30)
        runner.submit(request(3, "ok", 30), 30)
        results.update(_collect_all(runner))
        runner.submit(request(4, "ok", 30, REGISTRY.get("lightgbm").default_config()), 30)
        results.update(_collect_all(runner))
    finally:
        runner.close()
    assert results[0].status == "failed" and "always fails" in results[0].error
    assert results[1].status == "timeout" and "limit" in results[1].error
    assert results[2].status == "failed" and "memory" in results[2].error
    assert results[3].status == "ok"
    assert results[4].status == "ok" and results[4].loss < -0.6  # a real model on a replaced worker
    assert all(not w.process.is_alive() for w in runner.workers)


@pytest.mark.parametrize("n_workers", [1])
def test_idle_runner_closes_quickly(tmp_path, n_workers):
    p = make_problem(n=60)
    data = {"X": p.X, "y": p.y, "task": p.task, "metric": p.metric, "seed": 0,
            "splits": make_splits(p.y, p.task, "cv5", 0), "user_families": []}
    runner = LocalRunner(data, n_workers, str(tmp_path))
    start = time.monotonic()
    runner.close()
    assert time.monotonic() - start < 2.0
