"""Typed messages between the search core and the runners: a trial's status, what to run, what came back.

Frozen and picklable (they cross process and Dask boundaries). ``Status`` values are today's strings, so stored
trials, the leaderboard and the knowledge base read the same. The runners still exchange plain dicts with the
worker code (``trial.run_trial``); ``TrialRequest.as_dict`` and ``TrialResult.from_dict`` are that boundary.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

import numpy as np


class Status(StrEnum):
    """A trial's state; ``str(Status.OK) == "ok"`` (the values stored with every trial)."""

    PENDING = "pending"
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"

    @property
    def finished(self) -> bool:
        return self in (Status.OK, Status.FAILED, Status.TIMEOUT)


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
    early-stopped parameter (a boosting family's rounds)."""

    trial_id: int
    config: dict
    seconds: float
    keep_models_dir: str
    fidelity: float = 1.0
    keep_below: float | None = None
    race: tuple[float, ...] | None = None
    refit: bool = False
    iterations: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The dict the worker code reads (optional keys only when set, as before)."""
        out: dict[str, Any] = {"trial_id": self.trial_id, "config": self.config, "seconds": self.seconds,
                               "keep_models_dir": self.keep_models_dir}
        if self.refit:
            out.update(refit=True, iterations=self.iterations)
        else:
            out["fidelity"] = self.fidelity
        if self.keep_below is not None:
            out["keep_below"] = self.keep_below
        if self.race is not None:
            out["race"] = list(self.race)
        return out


@dataclass(frozen=True)
class TrialResult:
    """What came back from a trial or a refit. ``oof``: out-of-fold predictions (kept for the ensemble);
    ``models_path``: the saved fold (or refit) models; ``raced_out``: the folds run before racing stopped it;
    ``rounds`` / ``curve``: a boosting family's early-stopped rounds and validation curve; ``truncated``: rows cut."""

    status: Status
    score: float | None = None
    loss: float | None = None
    fit_seconds: float = 0.0
    error: str | None = None
    fold_losses: tuple[float, ...] | None = None
    raced_out: int | None = None
    rounds: Any = None
    curve: Any = None
    truncated: bool | None = None
    oof: np.ndarray | None = None
    models_path: str | None = None

    @classmethod
    def failed(cls, error: str, seconds: float = 0.0, status: Status = Status.FAILED) -> "TrialResult":
        """The one constructor of an unsuccessful result (failed, or timed out with ``Status.TIMEOUT``)."""
        return cls(status=Status(status), error=error, fit_seconds=float(seconds))

    @classmethod
    def from_dict(cls, result: dict) -> "TrialResult":
        """A runner's dict (``trial.run_trial``); a missing status is a failure."""
        fold_losses = result.get("fold_losses")
        return cls(status=Status(result.get("status") or Status.FAILED), score=result.get("score"),
                   loss=result.get("loss"), fit_seconds=float(result.get("fit_seconds") or 0.0),
                   error=result.get("error"), fold_losses=None if fold_losses is None else tuple(fold_losses),
                   raced_out=result.get("raced_out"), rounds=result.get("rounds"), curve=result.get("curve"),
                   truncated=result.get("truncated"), oof=result.get("oof"), models_path=result.get("models_path"))


def as_result(result: "TrialResult | dict") -> TrialResult:
    """A runner's answer as a ``TrialResult`` (local and Dask runners still answer with dicts)."""
    return result if isinstance(result, TrialResult) else TrialResult.from_dict(result)


__all__ = ["Status", "Job", "TrialRequest", "TrialResult", "as_result"]
