"""Trials on a Dask cluster (issue #7): a local cluster, an attached cluster, a dead worker, a lost scheduler.

Every cluster uses 127.0.0.1 and free ports, and is torn down in ``finally`` (a cluster left running by a failed
test would otherwise be reused by the next run).
"""
from __future__ import annotations

import builtins
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from automl.data import TableEncoder, encode_target
from automl.deadline import Deadline
from automl.exceptions import InputError
from automl.metrics import get_metric
from automl.search import SearchProblem, optimize
from tests.fixtures.tables import make_dataset
from tests.search.conftest import run_linear_trials

REPO = Path(__file__).resolve().parents[1]


def problem(n=300, n_jobs=2, families=None, seed=0):
    frame = make_dataset("binary", n=n, seed=seed)
    X = TableEncoder().fit_transform(frame.drop(columns=["y"]))
    target = encode_target(frame["y"], None)
    return SearchProblem(X, target.y, target.task, get_metric(None, target.task), seed=seed, n_jobs=n_jobs,
                         families=families)


@pytest.fixture
def dask_runner():
    pytest.importorskip("distributed")
    from automl.search import dask_runner
    return dask_runner


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_working_model(result, p):
    proba = result.model.predict_proba(p.X.iloc[:7])
    assert proba.shape == (7, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.isfinite(result.best_score)


def test_missing_dask_is_a_clear_input_error(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.split(".")[0] in ("dask", "distributed"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    for mod in [m for m in sys.modules if m.split(".")[0] in ("dask", "distributed")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    from automl.search.dask_runner import dask_executor_factory
    with pytest.raises(InputError, match=r"--cluster needs Dask: pip install 'automl-meta\[dask\]'"):
        dask_executor_factory("local")


# max_trials where a test is not about the budget: its trials, then the search ends (the long deadline only bounds
# a busy machine); the timed loop on a cluster is the lost scheduler's
TRIALS_DEADLINE = 60


def test_fit_on_a_local_cluster(dask_runner):
    p = problem()
    result = optimize(p, Deadline(TRIALS_DEADLINE), strategy="bo", max_trials=4,
                      executor_factory=dask_runner.dask_executor_factory("local"))
    ok = [t for t in result.trials if t.status == "ok"]
    assert len(ok) >= 2, [(t.status, t.error) for t in result.trials]
    assert any(t.fidelity == 1.0 for t in ok)
    assert_working_model(result, p)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/PID/maps")
def test_data_reaches_each_worker_once_as_a_mapped_file(dask_runner, tmp_path):
    p = problem()
    data = {"X": p.X, "y": p.y, "task": p.task, "metric": p.metric, "seed": 0, "user_families": [],
            "splits": [(np.arange(200), np.arange(200, 300))]}
    executor = dask_runner.DaskExecutor(data, 2, str(tmp_path), cluster="local")
    try:
        # more trials than workers: each worker runs some, reading the data it mapped once
        assert run_linear_trials(executor, 4) == ["ok"] * 4

        def mapped_and_loaded(path):
            from automl.search import dask_runner as worker_side
            with open(f"/proc/{os.getpid()}/maps") as maps:
                return path in maps.read(), list(worker_side._DATA_CACHE)

        answers = executor.client.run(mapped_and_loaded, executor.data_path)
        assert len(answers) == 2
        assert all(answer == (True, [executor.data_path]) for answer in answers.values()), answers
    finally:
        executor.close()


def test_attach_by_address_then_lose_the_scheduler(dask_runner, faulty_family):
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
    started: list[subprocess.Popen] = []
    try:
        scheduler = subprocess.Popen(["dask", "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                      "--no-dashboard"], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        started.append(scheduler)
        started.append(subprocess.Popen(["dask", "worker", address, "--nworkers", "2", "--nthreads", "1",
                                         "--host", "127.0.0.1", "--no-dashboard"], env=env, cwd=REPO,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        import distributed
        with distributed.Client(address, timeout=60, set_as_default=False) as client:  # setup outside the budgets
            client.wait_for_workers(2, timeout=90)
            client.run(__import__, "automl.search.trial")
        # 1. a normal search attached by address
        p = problem(families=("lightgbm", "extra_trees", "linear"))
        result = optimize(p, Deadline(TRIALS_DEADLINE), strategy="bo", max_trials=4,
                          executor_factory=dask_runner.dask_executor_factory(address))
        assert any(t.status == "ok" and t.fidelity == 1.0 for t in result.trials), \
            [(t.status, t.error) for t in result.trials]
        assert_working_model(result, p)

        # 2. the scheduler dies mid-run (after a first full-fidelity model, while the hanging trial runs): running
        # trials fail with "scheduler lost", no trial is submitted any more, the search ends with the best model so far
        p = problem(families=("faulty_test", "lightgbm"))

        def kill_scheduler(progress):
            t = progress["trial"]
            if t.status == "ok" and t.fidelity == 1.0 and scheduler.poll() is None:
                os.killpg(scheduler.pid, signal.SIGKILL)
                scheduler.wait(timeout=10)
                lost_at.append(progress["n_trials"])

        lost_at: list[int] = []
        start = time.monotonic()
        result = optimize(p, Deadline(10), strategy="warm", executor_factory=dask_runner.dask_executor_factory(
            address), suggestions=[{"config": {"family": "faulty_test", "mode": "hang"}, "origin": "kb"}],
            callback=kill_scheduler)
        assert time.monotonic() - start < 20
        assert lost_at, [(t.status, t.error) for t in result.trials]
        assert len([t for t in result.trials if t.status != "running"]) <= lost_at[0] + 2  # nothing new after the loss
        hang = result.trials[0]
        assert hang.config.get("mode") == "hang" and hang.status == "failed"
        assert "scheduler lost" in hang.error
        assert_working_model(result, p)
    finally:
        for proc in started:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)


def test_a_worker_killed_mid_trial_fails_that_trial_only(dask_runner, faulty_family):
    import distributed
    cluster = dask_runner.start_local_cluster(2)
    client = distributed.Client(cluster, set_as_default=False)
    killed: list[int] = []

    def kill_the_hanging_worker():
        end = time.monotonic() + 30
        while time.monotonic() < end and not killed:
            try:
                for worker, keys in client.processing().items():
                    if any(str(k).endswith("-0") for k in keys):  # trial 0 is the hanging one
                        pid = client.run(os.getpid, workers=[worker])[worker]
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
                        return
            except Exception:
                pass
            time.sleep(0.2)

    killer = threading.Thread(target=kill_the_hanging_worker, daemon=True)
    try:
        p = problem(families=("faulty_test", "lightgbm"))
        killer.start()
        result = optimize(p, Deadline(TRIALS_DEADLINE), strategy="warm", max_trials=4,
                          executor_factory=dask_runner.dask_executor_factory(client),
                          suggestions=[{"config": {"family": "faulty_test", "mode": "hang"}, "origin": "kb"}])
        killer.join(timeout=1)
        assert killed, "the hanging trial was never seen running"
        hang = result.trials[0]
        assert hang.config.get("mode") == "hang" and hang.status == "failed", (hang.status, hang.error)
        assert "died" in hang.error
        assert any(t.status == "ok" and t.family == "lightgbm" for t in result.trials)
        assert_working_model(result, p)
    finally:
        client.close()
        cluster.close()


def _square(x):
    return x * x


def test_refresh_pool_runs_jobs(dask_runner):
    from concurrent.futures import FIRST_COMPLETED, wait
    with dask_runner.dask_pool("local", 2) as pool:
        assert pool.max_workers == 2
        futures = [pool.submit(_square, i) for i in range(4)]
        done, _ = wait(futures, timeout=60, return_when=FIRST_COMPLETED)
        assert done
        assert [f.result(timeout=60) for f in futures] == [0, 1, 4, 9]


def test_kb_refresh_on_a_local_cluster(dask_runner, tmp_path):
    """``automl kb refresh --cluster local``: one Dask task per dataset, written back by this process only."""
    import json

    from click.testing import CliRunner

    import knowledge_base as kb
    from cli import main
    from tests.refresh.conftest import TINY_POOL
    folder = tmp_path / "datasets"
    folder.mkdir()
    entries = []
    for i, task in enumerate(("binary", "multiclass", "regression")):
        make_dataset(task, n=90, seed=i).to_csv(folder / f"{task}.csv", index=False)
        entries.append({"file": f"{task}.csv", "target": "y", "task": task})
    (folder / "manifest.json").write_text(json.dumps({"datasets": entries}))
    (tmp_path / "pool.json").write_text(json.dumps(TINY_POOL))
    kb_path = tmp_path / "kb.duckdb"
    kb.open_store(kb_path, seed_dir=None)
    args = ["kb", "refresh", "--from-dir", str(folder), "--cluster", "local", "--n-jobs", "2", "--budget", "0",
            "--candidates", str(tmp_path / "pool.json"), "--kb", str(kb_path), "--json"]
    first = CliRunner().invoke(main, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    summary = json.loads(first.output)
    assert summary["added"] == 3 and summary["failed"] == 0
    ev = kb.open_store(kb_path).evaluations(origin="candidate")
    assert len(ev) == 3 * len(TINY_POOL) and ev["fingerprint"].nunique() == 3
    again = json.loads(CliRunner().invoke(main, args, catch_exceptions=False).output)
    assert again["added"] == 0 and again["skipped"] == 3
