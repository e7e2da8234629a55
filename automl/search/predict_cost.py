"""What a member of the final model costs to predict, estimated from its trial, and the ensemble selection's limit on
the sum (``infer_limit``: seconds per row, as AutoGluon's). The estimate comes from the trial's own prediction of its
validation rows (``TrialDetails.predict_seconds_per_row``: the CPU seconds of the trial's process, which predicts on
one thread, one batch per fold, the encoder left out): rough, as fixed costs per call weigh more in a small batch, a
process running other work beside the trial (the driver's early trial) counts that too, and a model predicting on
several threads (``Family.predict_threads``) takes less wall time than its CPU seconds."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from ..models.registry import Family
from .history import Trial

log = logging.getLogger("automl")


def member_seconds_per_row(trial: Trial, family: Family, n_rows: int, n_splits: int, refit: bool) -> float:
    """Estimated seconds per row the member adds to the final model's prediction, its models as
    ``FinalModelBuilder.member_models`` deploys them: holdout, one model (the refit when ``refit`` is expected);
    CV, the fold models and the refit. Each fold model costs what the trial measured; the refit as much, or for a
    family whose cost grows with its training rows (``Family.predict_cost_grows_with_rows``) that scaled from the
    fold models' training rows to ``n_rows``. 0.0 when the trial measured nothing."""
    details = trial.details
    per_model = details.predict_seconds_per_row
    if per_model is None:
        return 0.0
    grows = family.predict_cost_grows_with_rows and details.fit_rows
    refit_cost = per_model * (n_rows / details.fit_rows if grows else 1.0) if refit else 0.0
    if n_splits == 1:
        return float(refit_cost or per_model)
    return float(per_model * n_splits + refit_cost)


@dataclass(frozen=True)
class CostLimit:
    """The selection's candidates' estimated seconds per row (``costs``, trial id -> seconds) under ``limit``."""

    costs: dict[int, float]
    limit: float

    def affordable(self, candidates: list[int]) -> list[int]:
        """The ``candidates`` (in their order) within the limit alone; when none is, the cheapest one (with a
        warning: a model that predicts beats none)."""
        kept = [i for i in candidates if self.costs[i] <= self.limit]
        if kept:
            return kept
        cheapest = min(candidates, key=lambda i: self.costs[i])
        log.warning("infer_limit: no member predicts within %.3g s per row (the fastest: %.3g s); keeping the "
                    "fastest alone", self.limit, self.costs[cheapest])
        return [cheapest]

    def within(self, members) -> bool:
        """The distinct ``members`` together predict within the limit."""
        return sum(self.costs[i] for i in set(members)) <= self.limit


__all__ = ["CostLimit", "member_seconds_per_row"]
