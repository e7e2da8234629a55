"""Fits on a busy machine (issue 29): the early trial in the driver gives a validated model even when no worker
trial finishes, and the fallback, when even that could not run, is reported with a held-out score."""
from __future__ import annotations

import numpy as np

from automl.deadline import Deadline
from automl.search import optimize
from automl.search.runner import LocalRunner
from tests.search.conftest import make_problem


def _starved_workers(data, n_workers, workdir):
    """Real worker processes under a 64 MB address-space limit: every trial they run fails for lack of memory,
    as trials do on a machine without room for them."""
    return LocalRunner(data, n_workers, workdir, memory_limit=64 << 20)


def test_a_validated_model_when_no_worker_trial_finishes():
    p = make_problem(n=300, n_jobs=2)
    r = optimize(p, Deadline(3), strategy="bo", executor_factory=_starved_workers)
    assert r.fallback is None and np.isfinite(r.best_score)
    worker_trials = [t for t in r.trials if t.origin != "early"]
    assert all(t.status != "ok" for t in worker_trials)  # (none at all when the workers start too late)
    early = [t for t in r.trials if t.origin == "early"]
    assert len(early) == 1 and early[0].status == "ok" and np.isfinite(early[0].score)
    assert r.ensemble == [(early[0].config_id, 1.0)] and r.best_score == early[0].score
    proba = r.model.predict_proba(p.X.iloc[:5])
    assert proba.shape == (5, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert {ph.name for ph in r.startup} == {"worker_start", "first_trial"}
    assert all(ph.wall_seconds >= 0 and ph.cpu_seconds >= 0 for ph in r.startup)


def test_the_fallback_is_named_with_a_score_on_held_out_rows():
    p = make_problem(n=400)
    r = optimize(p, Deadline(0.2), strategy="bo")  # too little time for any trial, the early one included
    assert r.fallback is not None and "no trial finished" in r.fallback.reason
    assert r.fallback.holdout_rows == 80 and r.fallback.family == "lightgbm"
    assert np.isfinite(r.fallback.holdout_score) and 0.0 <= r.fallback.holdout_score <= 1.0
    assert r.best_score == r.fallback.holdout_score
    assert r.startup == ()  # no worker process was started either: it would only have overrun the budget
