"""Trials and the search history (observations per fidelity)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

OK, FAILED, TIMEOUT = "ok", "failed", "timeout"


@dataclass
class Trial:
    trial_id: int
    config: dict
    config_id: str
    family: str
    fidelity: float
    origin: str  # kb | portfolio | default | surrogate | random | promoted
    status: str = "pending"
    score: float | None = None
    loss: float | None = None
    fit_seconds: float = 0.0
    error: str | None = None
    started: float = 0.0  # seconds since the search began
    ended: float = 0.0
    rung: int = 0
    extra: dict = field(default_factory=dict)


class History:
    """All trials in submission order, with lookups the samplers and scheduler need."""

    def __init__(self) -> None:
        self.trials: list[Trial] = []

    def add(self, trial: Trial) -> None:
        self.trials.append(trial)

    def finished(self) -> list[Trial]:
        return [t for t in self.trials if t.status in (OK, FAILED, TIMEOUT)]

    def ok(self, fidelity: float | None = None) -> list[Trial]:
        return [t for t in self.trials if t.status == OK and t.loss is not None and np.isfinite(t.loss)
                and (fidelity is None or abs(t.fidelity - fidelity) < 1e-9)]

    def best(self, fidelity: float | None = None) -> Trial | None:
        ok = self.ok(fidelity)
        return min(ok, key=lambda t: t.loss) if ok else None

    def seen(self, config_id: str, fidelity: float) -> bool:
        """Evaluated at ``fidelity`` in this run or in a replayed earlier run."""
        return any(t.config_id == config_id and abs(t.fidelity - fidelity) < 1e-9 for t in self.trials)

    def cost_estimate(self, family: str, fidelity: float) -> float | None:
        """Median seconds of finished trials of ``family`` scaled to ``fidelity`` (None when unknown)."""
        same = [t.fit_seconds * fidelity / t.fidelity for t in self.trials
                if t.family == family and t.status in (OK, TIMEOUT) and t.fit_seconds > 0]
        if not same:
            return None
        return float(np.median(same))

    def to_dicts(self) -> list[dict[str, Any]]:
        from dataclasses import asdict
        return [asdict(t) for t in self.trials]
