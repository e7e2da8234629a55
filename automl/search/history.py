"""Trials and the search history (observations per fidelity)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .messages import FINISHED, Status, TrialDetails

OK, FAILED, TIMEOUT = Status.OK, Status.FAILED, Status.TIMEOUT  # (the names callers import; one owner: Status)
EARLY = "early"  # origin of the first trial, run in the driver while the workers start (not a scheduler rung)
FIDELITY_DIGITS = 9  # fidelities are the same when equal to this many digits (a share like 1/3 computed two ways)


@dataclass
class Trial:
    trial_id: int
    config: dict
    config_id: str
    family: str
    fidelity: float
    origin: str  # previous version | kb | portfolio | default | surrogate | random | promoted | resumed | early
    status: Status = Status.PENDING
    score: float | None = None
    loss: float | None = None
    fit_seconds: float = 0.0
    error: str | None = None
    started: float = 0.0  # seconds since the search began
    ended: float = 0.0
    rung: int = 0
    bracket: int | None = None  # its Hyperband bracket (None under ASHA)
    details: TrialDetails = TrialDetails()  # what the worker reported beyond the score
    full_seconds: float | None = None  # a raced-out trial's seconds extrapolated to every fold
    replayed: bool = False  # an earlier search's trial (resume): informs the sampler, never re-run nor written back
    refit: bool = False  # its configuration was refit on every row for the final model

    @property
    def evaluation_seconds(self) -> float:
        """Seconds of the trial's evaluation on every fold (a raced-out trial's extrapolated)."""
        return self.fit_seconds if self.full_seconds is None else self.full_seconds


class History:
    """All trials in submission order, with lookups the samplers and scheduler need."""

    def __init__(self) -> None:
        self.trials: list[Trial] = []
        self._seen: set[tuple[str, float]] = set()
        self._configs: dict[str, dict] = {}  # configuration id -> its configuration (first trial's)
        self._relative: dict[int, float] = {}  # trial id -> its configuration's relative cost (cost_estimate)

    def add(self, trial: Trial) -> None:
        self.trials.append(trial)
        self._seen.add((trial.config_id, round(trial.fidelity, FIDELITY_DIGITS)))
        self._configs.setdefault(trial.config_id, trial.config)

    def config(self, config_id: str) -> dict:
        """The configuration of a tried configuration id (a promotion runs it again at a higher rung)."""
        return self._configs[config_id]

    def finished(self) -> list[Trial]:
        return [t for t in self.trials if t.status in FINISHED]

    def ok(self, fidelity: float | None = None) -> list[Trial]:
        return [t for t in self.trials if t.status == OK and t.loss is not None and math.isfinite(t.loss)
                and (fidelity is None or abs(t.fidelity - fidelity) < 10.0 ** -FIDELITY_DIGITS)]

    def best(self, fidelity: float | None = None) -> Trial | None:
        ok = self.ok(fidelity)
        return min(ok, key=lambda t: t.loss) if ok else None

    def seen(self, config_id: str, fidelity: float) -> bool:
        """Evaluated at ``fidelity`` in this run or in a replayed earlier run."""
        return (config_id, round(fidelity, FIDELITY_DIGITS)) in self._seen

    def timed(self) -> list[Trial]:
        """The trials whose seconds tell this run's costs: finished or timed out in a worker in this run."""
        # (the early trial ran in the driver beside the workers' start-up: its seconds say little of a worker's)
        return [t for t in self.trials if t.status in (OK, TIMEOUT) and t.fit_seconds > 0
                and not t.replayed and t.origin != EARLY]

    def cost_estimate(self, family: str, fidelity: float, costs: dict[str, float] | None = None,
                      relative: Callable[[dict], float] | None = None) -> float | None:
        """Median seconds of finished trials of ``family`` scaled to ``fidelity``; for a family not run yet,
        the other families' seconds scaled by the relative ``costs`` hints (None when nothing is known).
        With ``relative`` (a configuration's seconds relative to its family default's; one function per
        history, its values are cached per trial), every trial's seconds are first brought to its family
        default's: the estimate is then the family default's, and ``relative(config)`` times it a
        configuration's."""
        def seconds(t: Trial) -> float:
            unit = 1.0
            if relative is not None:
                if t.trial_id not in self._relative:
                    self._relative[t.trial_id] = relative(t.config)
                unit = self._relative[t.trial_id]
            return t.evaluation_seconds / max(t.fidelity, 1e-9) / unit
        done = self.timed()
        same = [seconds(t) for t in done if t.family == family]
        if same:
            return float(np.median(same)) * fidelity
        if not costs or family not in costs:
            return None
        # other families' successful trials only: one family's timeouts say nothing about another's cost
        others = [seconds(t) / costs[t.family] for t in done if t.status == OK and costs.get(t.family)]
        return float(np.median(others)) * costs[family] * fidelity if others else None

    def to_dicts(self) -> list[dict[str, Any]]:
        from dataclasses import asdict
        return [asdict(t) for t in self.trials]
