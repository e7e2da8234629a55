"""The early trial: a cheap configuration run in a thread of the driver while the worker processes start, so that
a search has a validated model even when no worker trial finishes in time."""
from __future__ import annotations

import threading
import time

from ..models import REGISTRY
from ..timing import PhaseTiming
from .history import EARLY
from .messages import Job, Status, TrialRequest, TrialResult
from .trial import run_trial

EARLY_TRAIN_ROWS = 2_000  # training rows per fold of the early trial: LightGBM takes tenths of a second on them
EARLY_LEARNING_RATE = 0.2  # LightGBM's defaults at a high learning rate: early stopping after few rounds
EARLY_JOIN_SECONDS = 5.0  # the early trial's thread writes its models into the work folder: it is awaited (it is
# bounded by its rows and learning rate) before the folder is removed, or it could recreate files in it


def early_config(families, task: str) -> dict:
    """LightGBM's defaults at ``EARLY_LEARNING_RATE`` when LightGBM is allowed, else the cheapest family's
    defaults (canonical for ``task``)."""
    if any(f.key == "lightgbm" for f in families):
        return REGISTRY.get("lightgbm").complete({"family": "lightgbm", "learning_rate": EARLY_LEARNING_RATE}, task)
    return min(families, key=lambda f: f.cost).default_config(task)


def early_fidelity(splits) -> float:
    """The training share that leaves at most ``EARLY_TRAIN_ROWS`` training rows in every fold."""
    n_train = min(len(tr) for tr, _ in splits)
    return min(1.0, EARLY_TRAIN_ROWS / max(1, n_train))


class EarlyTrial:
    """A trial run in a thread of the driver while the worker processes start (LightGBM releases the GIL while it
    trains), so that a model with a real validation score exists even when no worker trial finishes in time."""

    def __init__(self, request: TrialRequest, data: dict) -> None:
        self.result: TrialResult | None = None
        self.cpu_seconds = 0.0
        self.wall_seconds = 0.0
        self._started = time.monotonic()
        self.thread = threading.Thread(target=self._run, args=(request, data), name="automl-early-trial",
                                       daemon=True)
        self.thread.start()

    def _run(self, request: TrialRequest, data: dict) -> None:
        cpu = time.thread_time()
        try:
            self.result = run_trial(request, data)  # (a trial's errors become its status)
        finally:
            self.cpu_seconds = time.thread_time() - cpu
            self.wall_seconds = time.monotonic() - self._started


class EarlySlot:
    """The early trial's bookkeeping in the driver: a normal trial of the search core (origin ``early``), started
    on ``EARLY_TRAIN_ROWS`` training rows of each of the search's folds, told once its thread has finished (or, at
    the end, as timed out); its thread is awaited before the work folder is removed (``join``)."""

    def __init__(self) -> None:
        self.pending: tuple[int, EarlyTrial] | None = None  # (trial id, the early trial) until it is told
        self.thread: threading.Thread | None = None  # its thread, also after it was told as timed out

    def start(self, core, data: dict, seconds: float) -> None:
        """Start the early trial of ``core`` (a ``SearchCore``) on ``data`` with ``seconds`` as its time limit (it is
        bounded by its rows and learning rate)."""
        config = early_config(core.families, core.p.task)
        request = core.start(Job(config, EARLY, early_fidelity(core.splits), 0), seconds=seconds)
        self.pending = (request.trial_id, EarlyTrial(request, data))
        self.thread = self.pending[1].thread

    def collect(self, core, wait: float = 0.0, final: bool = False) -> PhaseTiming | None:
        """Tell ``core`` the early trial's result once it has finished, waiting at most ``wait`` seconds; ``final``:
        one still running is told as timed out (its thread ends at its own deadline). Returns the trial's start-up
        phase when it finished."""
        if self.pending is None:
            return None
        trial_id, early = self.pending
        early.thread.join(wait)
        if early.thread.is_alive():
            if final:
                self.pending = None
                core.tell(trial_id, TrialResult.failed("the early trial did not finish in time",
                                                       core.running_seconds(trial_id), Status.TIMEOUT))
            return None
        self.pending = None
        core.tell(trial_id, early.result or TrialResult.failed("the early trial stopped"))
        return PhaseTiming("first_trial", early.wall_seconds, early.cpu_seconds, "thread")

    def join(self) -> None:
        """Wait (at most ``EARLY_JOIN_SECONDS``) for the early trial's thread to end."""
        if self.thread is not None:
            self.thread.join(EARLY_JOIN_SECONDS)


__all__ = ["EarlyTrial", "EarlySlot", "early_config", "early_fidelity", "EARLY_TRAIN_ROWS"]
