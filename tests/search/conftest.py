"""Fixtures for the search tests: small cleaned problems, a batch of trials run on an executor, the workers' fork
server started, and the stacking tests' real trials shared by the session."""
from __future__ import annotations

import multiprocessing as mp
import os
import time

import pytest

from automl.data import TableEncoder, encode_target
from automl.metrics import get_metric
from automl.models import REGISTRY
from automl.search import SearchProblem
from automl.search.messages import TrialRequest, TrialResult
from automl.search.runner import warm_up
from tests.fixtures.tables import make_dataset


def make_problem(task: str = "binary", n: int = 200, seed: int = 0, n_jobs: int = 1, families=None,
                 metric=None) -> SearchProblem:
    frame = make_dataset(task, n=n, seed=seed)
    X = TableEncoder().fit_transform(frame.drop(columns=["y"]))
    target = encode_target(frame["y"], None)
    return SearchProblem(X, target.y, target.task, get_metric(metric, target.task), seed=seed, n_jobs=n_jobs,
                         families=families)


def run_requests(executor, requests: list[TrialRequest], seconds: float = 60.0) -> dict[int, TrialResult]:
    """Run ``requests`` on ``executor``, each submitted once a worker is free (a local runner takes no more), and
    wait for them all (at most ``seconds``): trial id -> result."""
    pending = list(requests)
    results: dict[int, TrialResult] = {}
    stop = time.monotonic() + seconds
    while (pending or executor.running()) and time.monotonic() < stop:
        while pending and executor.free_slots() > 0:
            executor.submit(pending.pop(0), seconds)
        results.update(dict(executor.collect(0.2)))
    return results


def run_linear_trials(executor, n: int, seconds: float = 60.0) -> list[str]:
    """Submit ``n`` full-fidelity trials of the linear family's default to ``executor`` and wait for them all;
    their statuses in trial order."""
    config = REGISTRY.get("linear").default_config()
    for i in range(n):
        executor.submit(TrialRequest(trial_id=i, config=config, fidelity=1.0, seconds=seconds, keep_models_dir=None),
                        seconds)
    results = {}
    stop = time.monotonic() + seconds
    while executor.running() and time.monotonic() < stop:
        results.update(dict(executor.collect(0.2)))
    return [results[i].status if i in results else "missing" for i in range(n)]


@pytest.fixture
def started_fork_server() -> None:
    """The workers' fork server running with the model libraries imported (as a fit's ``warm_up`` starts it early
    on): a short budget then pays for the search, not for this test process's first import of those libraries."""
    warm_up()
    if "forkserver" in mp.get_all_start_methods():
        child = mp.get_context("forkserver").Process(target=os.getpid)  # forked once the server's imports are done
        child.start()
        child.join()


@pytest.fixture(scope="session")
def diverse_trials(tmp_path_factory):
    """The stacking tests' real trials of four diverse families (``test_stacking.run_diverse_trials``), run once:
    the stacking and prediction-cost tests build their own final-model builders over them."""
    from tests.search.test_stacking import run_diverse_trials
    return run_diverse_trials(tmp_path_factory.mktemp("diverse"))
