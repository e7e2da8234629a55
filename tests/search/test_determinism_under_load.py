"""A ``max_trials`` search on a busy machine gives the recorded trials and ensemble: a trial or the ensemble
selection that the machine stalls (no CPU for a while) changes nothing. The stall is forced with a clock that jumps
ahead, so these tests fail or pass the same way whatever the machine's load."""
from __future__ import annotations

import logging
import time

import pytest

from automl import ensembling
from automl.deadline import Deadline
from automl.models import boosting
from automl.search import optimize, trial
from automl.search.messages import Status, TrialRequest, TrialResult
from automl.search.runner import Executor
from tests.search.test_determinism import BASELINE, CASES, make_problem, summary

STALL_SHARE = 0.25  # of a trial's seconds: past the time share of its first fold of five (0.17), within the trial's
STALL_AFTER_READS = 10  # the clock jumps after this many reads: a few boosting rounds into the first fold
SELECTION_STALL_SECONDS = 1000.0  # far more than the ensemble selection's share of the time left


class _JumpingClock:
    """``time`` as the stalled code sees it: ``monotonic`` jumps ``seconds`` ahead after ``after`` reads."""

    def __init__(self, seconds: float, after: int) -> None:
        self.seconds, self.after, self.reads = seconds, after, 0

    def monotonic(self) -> float:
        self.reads += 1
        return time.monotonic() + (self.seconds if self.reads > self.after else 0.0)

    process_time = staticmethod(time.process_time)


class _InProcessRunner(Executor):
    """One slot; a trial runs in this process at ``collect`` as ``run(request)`` does it (None: it never ends)."""

    def __init__(self, run) -> None:
        self.run, self.pending = run, []

    def free_slots(self) -> int:
        return 0 if self.pending else 1

    def running(self) -> list[int]:
        return [r.trial_id for r in self.pending]

    def submit(self, request: TrialRequest, timeout: float) -> None:
        self.pending.append(request)

    def collect(self, wait_seconds: float) -> list[tuple[int, TrialResult]]:
        results = [(r.trial_id, self.run(r)) for r in self.pending]
        self.pending = [r for r, (_, result) in zip(self.pending, results) if result is None]
        return [(trial_id, result) for trial_id, result in results if result is not None]

    def close(self) -> None:
        pass


def _stalled_trial(data: dict, monkeypatch):
    """A trial that the machine stalls ``STALL_SHARE`` of its seconds a few boosting rounds in (its own and the
    boosting fit's clock jump ahead)."""
    def run(request: TrialRequest) -> TrialResult:
        clock = _JumpingClock(STALL_SHARE * request.seconds, STALL_AFTER_READS)
        with monkeypatch.context() as m:
            m.setattr(trial, "time", clock)
            m.setattr(boosting, "time", clock)
            return trial.run_trial(request, data)
    return run


@pytest.mark.parametrize("case", ["binary-bo", "regression-hyperband"])  # (the cases with a boosting family)
def test_a_stalled_trial_changes_no_trial_of_a_max_trials_search(case, monkeypatch):
    task, strategy, families = CASES[case]
    result = optimize(make_problem(task, n=300, families=families), Deadline(600), strategy=strategy, max_trials=6,
                      executor_factory=lambda data, n_workers, workdir: _InProcessRunner(
                          _stalled_trial(data, monkeypatch)))
    assert summary(result) == BASELINE[case]


def test_a_stalled_ensemble_selection_changes_no_member_of_a_max_trials_search(monkeypatch):
    monkeypatch.setattr(ensembling, "time", _JumpingClock(SELECTION_STALL_SECONDS, after=1))
    task, strategy, families = CASES["binary-bo"]
    result = optimize(make_problem(task, n=300, families=families), Deadline(600), strategy=strategy, max_trials=6)
    assert summary(result) == BASELINE["binary-bo"]


def test_a_max_trials_search_the_time_budget_cuts_short_warns(caplog):
    """The third trial never ends and the budget runs out meanwhile: the two before it stand, it is stopped, and
    the fit warns that such a search is not reproducible."""
    task, strategy, families = CASES["binary-bo"]
    deadline = Deadline(600)

    def factory(data, n_workers, workdir):
        def run(request: TrialRequest) -> TrialResult | None:
            if request.trial_id < 2:
                return trial.run_trial(request, data)
            deadline.end = time.monotonic()  # (the budget runs out while it runs)
            return None
        return _InProcessRunner(run)

    with caplog.at_level(logging.WARNING, logger="automl"):
        result = optimize(make_problem(task, n=300, families=families), deadline, strategy=strategy, max_trials=6,
                          executor_factory=factory)
    assert summary(result)["trials"] == BASELINE["binary-bo"]["trials"][:2] + [
        BASELINE["binary-bo"]["trials"][2][:3] + [Status.TIMEOUT, None]]
    assert "ran out after 2 of max_trials=6 trials (1 stopped running)" in caplog.text
