"""What a member of the final model costs to predict, estimated from its trial, and the ensemble selection's limit on
the sum (``infer_limit``: seconds per row, as AutoGluon's). The estimate comes from the trial's own prediction of its
validation rows (``TrialDetails.predict_seconds_per_row``, one batch per fold, the encoder left out): rough, it
varies with the machine's load and with the batch size (fixed costs per call weigh more in a small batch)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from ..models.registry import Family
from .history import Trial

log = logging.getLogger("automl")


def member_seconds_per_row(trial: Trial, family: Family, n_rows: int, n_splits: int, refit: bool) -> float:
    """Estimated seconds per row the member adds to the final model's prediction: the trial's seconds per row of one
    model times the models ``FinalModelBuilder.member_models`` will average (holdout: one; CV: the fold models,
    and the refit when ``refit`` is expected; a family whose cost grows with its training rows: the refit alone,
    its cost scaled from the fold models' training rows to ``n_rows``). 0.0 when the trial measured nothing."""
    details = trial.details
    per_model = details.predict_seconds_per_row
    if per_model is None:
        return 0.0
    alone = refit and family.predict_cost_grows_with_rows
    if alone and details.fit_rows:
        per_model *= n_rows / details.fit_rows
    models = 1 if n_splits == 1 or alone else n_splits + int(refit)
    return float(per_model * models)


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
