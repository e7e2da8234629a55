"""The early trial: a cheap configuration run in a thread of the driver while the worker processes start, so that
a search has a validated model even when no worker trial finishes in time."""
from __future__ import annotations

import threading
import time

from ..models import REGISTRY
from .messages import TrialRequest, TrialResult
from .trial import run_trial

EARLY_TRAIN_ROWS = 2_000  # training rows per fold of the early trial: LightGBM takes tenths of a second on them
EARLY_LEARNING_RATE = 0.2  # LightGBM's defaults at a high learning rate: early stopping after few rounds


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


__all__ = ["EarlyTrial", "early_config", "early_fidelity", "EARLY_TRAIN_ROWS"]
