"""Many processes at once, and writers killed with SIGKILL at random moments."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import knowledge_base as kb

REPO = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")


def writer(path: Path, worker: int, runs: int, per_run: int, patience: float, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.knowledge_base.writer", str(path), str(worker), str(runs),
                             str(per_run), str(patience)], cwd=REPO, env=ENV, text=True, **kw)


@pytest.mark.slow
def test_eight_processes_write_1600_evaluations_and_none_is_lost(tmp_path):
    path = tmp_path / "kb.duckdb"
    kb.open_store(path, seed_dir=None)
    # 8 writers x 5 runs x 40 evaluations; half of them wait at most 50 ms for the lock and then stage
    # (most of their runs go through the staging area), half retry with back-off for up to 2 s. (Starting a writer,
    # its imports, takes longer than its runs: more runs per writer would add time, not contention.)
    procs = [writer(path, w, 5, 40, 0.05 if w % 2 else 2.0, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for w in range(8)]
    staged = 0
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        staged += err.count("staged as")
    print(f"{staged} of 40 runs went through the staging area")
    assert staged > 0, "the writers never found the store busy: they did not overlap in time"
    store = kb.open_store(path, seed_dir=None)
    store.merge_staged()
    info = store.info()
    assert (info["n_evaluations"], info["n_runs"], info["n_datasets"], info["pending_staged"]) == (1600, 40, 24, 0)
    assert store.check() == []
    per_worker = store.evaluations().groupby(store.evaluations()["run_id"].str.split("-").str[0]).size()
    assert per_worker.tolist() == [200] * 8


@pytest.mark.slow
def test_kill_minus_nine_at_random_moments_leaves_a_consistent_store(tmp_path):
    """SIGKILL a writer at random moments; every other time a companion writes at once, so the victim may
    die while waiting, staging or merging staged runs. After each kill: opens, no problem, all or nothing."""
    path = tmp_path / "kb.duckdb"
    kb.open_store(path, seed_dir=None)
    rng = np.random.default_rng(4)
    per_run = 40
    for attempt in range(4):
        contended = attempt % 2 == 1
        patience = 0.05 if contended else 0.5
        victim = writer(path, attempt, 1000, per_run, patience, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        companion = writer(path, 100 + attempt, 6, per_run, 0.05, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL) if contended else None
        assert victim.stdout.readline().startswith("done")  # at least one run written ...
        time.sleep(float(rng.uniform(0.0, 0.3)))  # ... then killed at a random moment
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        if companion is not None:
            assert companion.wait(timeout=120) == 0
        store = kb.open_store(path, seed_dir=None)
        store.merge_staged()
        assert store.check() == []
        info = store.info()
        assert info["n_runs"] >= attempt + 1 and info["pending_staged"] == 0
        assert info["n_evaluations"] == per_run * info["n_runs"]  # all or nothing per run
    assert not list(tmp_path.glob(".kb.duckdb.creating-*"))
