"""Typed messages between the search core and the runners: a trial's status, what to run, what came back.

Frozen and picklable (they cross process and Dask boundaries): the driver sends a ``TrialRequest`` to the runner,
the worker code (``trial.run_trial``) reads its fields and answers with a ``TrialResult``. ``Status`` values are
today's strings, so stored trials, the leaderboard and the knowledge base read the same.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

import numpy as np


STRATEGIES = ("warm", "bo", "hyperband", "random")  # the search strategies (automl.search.core), checked by the
# estimator's parameters too: defined here, where importing costs no model library


class Status(StrEnum):
    """A trial's state; ``str(Status.OK) == "ok"`` (the values stored with every trial)."""

    PENDING = "pending"
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"

    @property
    def finished(self) -> bool:
        return self in FINISHED


# the statuses of a trial that ran to an end; a plain stored string ("ok") is found in it too (StrEnum hashing)
FINISHED = frozenset({Status.OK, Status.FAILED, Status.TIMEOUT})


class Job(NamedTuple):
    """What the scheduler proposes next: ``config`` at ``fidelity`` (the ``rung``'s training share), its origin
    (kb, portfolio, default, surrogate, random, promoted, resumed) and its Hyperband ``bracket`` (None under
    ASHA). A named tuple: immutable, read by name, and built from the scheduler's plain tuples (``Job._make``)."""

    config: dict
    origin: str
    fidelity: float
    rung: int
    bracket: int | None = None


@dataclass(frozen=True)
class TrialRequest:
    """One job for a runner: a trial (``config`` at ``fidelity``) or, with ``refit``, a fit on every row.

    ``keep_below``: the loss a trial must beat to save its fold models (bounded disk; None: it saves anyway);
    ``race``: the incumbent's per-fold losses to race against (CV at full fidelity); ``iterations``: a refit's
    early-stopped parameter (a boosting family's rounds); ``deterministic`` (``max_trials``): the result may not
    depend on the machine's speed, so no fit keeps the rounds done when a share of its time runs out (past its
    ``seconds`` the trial times out instead)."""

    trial_id: int
    config: dict
    seconds: float
    keep_models_dir: str | None  # (None: the fold models are not saved)
    fidelity: float = 1.0
    keep_below: float | None = None
    race: tuple[float, ...] | None = None
    refit: bool = False
    iterations: int | None = None
    deterministic: bool = False


@dataclass(frozen=True)
class TrialDetails:
    """What a worker reports about a trial beyond its score (kept on the ``Trial``): ``fold_losses`` (per fold
    run), ``raced_out`` (the folds run before racing stopped it), a boosting family's early-stopped ``rounds`` per
    fold and its first fold's validation ``curve`` (``(round, value)`` pairs), ``truncated`` (it kept the rounds
    done when its share of the trial's time ran out), ``predict_seconds_per_row`` (CPU seconds per row of one fold
    model predicting its validation rows in one batch, the cleaned table in; None: not measured) and ``fit_rows``
    (the fold models' mean training rows: what a k-NN model compares each row with) and ``peak_bytes`` (the worker's
    peak memory over the trial above its start, ``trial_memory.PeakMeter``; None: not measured)."""

    fold_losses: tuple[float, ...] | None = None
    raced_out: int | None = None
    rounds: tuple[int, ...] | None = None
    curve: tuple[tuple[int, float], ...] | None = None
    truncated: bool = False
    predict_seconds_per_row: float | None = None
    fit_rows: int | None = None
    peak_bytes: int | None = None


@dataclass(frozen=True)
class TrialResult:
    """What came back from a trial or a refit. ``oof``: out-of-fold predictions (kept for the ensemble);
    ``models_path``: the saved fold (or refit) models; ``details``: fold losses, racing, a boosting family's rounds."""

    status: Status
    score: float | None = None
    loss: float | None = None
    fit_seconds: float = 0.0
    error: str | None = None
    details: TrialDetails = TrialDetails()
    oof: np.ndarray | None = None
    models_path: str | None = None

    @classmethod
    def failed(cls, error: str, seconds: float = 0.0, status: Status = Status.FAILED) -> "TrialResult":
        """The one constructor of an unsuccessful result (failed, or timed out with ``Status.TIMEOUT``)."""
        return cls(status=Status(status), error=error, fit_seconds=float(seconds))


__all__ = ["Status", "FINISHED", "Job", "TrialRequest", "TrialDetails", "TrialResult"]
