"""A timed fit's limit on one trial, and the configurations of the table's own history that cannot keep within it.

A fit tries its table's stored configurations first (``previous version``). One whose evaluation at full fidelity
takes longer than the search's trial cap (``search.budget.fit_trial_cap``) is never promoted to every row, so the
warm start's retrieval passes it over (``KnowledgeBase.retrieve(own_over_cap=...)``). Its seconds here: the
seconds the lineage's stored versions recorded for it, brought to this table's rows and this fit's validation
protocol with the store's per-family exponents (``automl.cost_prior``). Without a time budget (``max_trials``)
there is no trial budget and nothing is passed over.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from .cost_prior import CostPrior, StoreTimings
from .search.budget import fit_trial_cap
from .search.validation import Kind, choose_protocol, protocol_fits

log = logging.getLogger("automl")


@dataclass(frozen=True)
class TrialBudget:
    """One trial of a timed fit: at most ``cap`` seconds for an evaluation at full fidelity of this table's
    ``n_rows`` rows under the fit's validation ``protocol`` (every fold)."""

    n_rows: int
    protocol: str
    cap: float

    @classmethod
    def for_fit(cls, time_budget: float, n_rows: int, *, user_rows: bool = False) -> "TrialBudget":
        """The trial budget of a fit of ``time_budget`` seconds on ``n_rows`` rows, validated on the user's rows
        (``user_rows``) or by the protocol the search chooses for that size."""
        protocol = Kind.USER.value if user_rows else choose_protocol(int(n_rows))
        return cls(int(n_rows), protocol, fit_trial_cap(time_budget))

    def seconds(self, prior: CostPrior, family: str, config_id: str) -> float | None:
        """``prior``'s estimated seconds of one evaluation of ``config_id`` at full fidelity in this fit (None: not
        timed)."""
        fits, share = protocol_fits(self.protocol)
        return prior.evaluation_seconds(family, self.n_rows * share, fits, config_id)


def over_cap(timings: StoreTimings, lineage: str, budget: TrialBudget) -> frozenset[str]:
    """The ids of the configurations the stored versions of ``lineage`` timed whose estimated seconds in this fit
    (``TrialBudget.seconds``, from those versions' timings alone, equally weighted) exceed ``budget.cap``; empty
    when none was timed or the timings cannot be read (the picks are then made as without a budget)."""
    try:
        own = timings.fingerprints(lineage)
        prior = timings.prior({fp: 1.0 for fp in own}, budget.n_rows) if own else None
        if prior is None:
            return frozenset()
        family_of = dict(zip(timings.timed["config_id"], timings.timed["family"]))
        estimates = {cid: budget.seconds(prior, family_of[cid], cid) for cid in prior.config_seconds}
    except Exception as exc:  # an estimate of seconds never stops a fit
        log.debug("own history not checked against the trial cap: %s", exc)
        return frozenset()
    return frozenset(cid for cid, seconds in estimates.items() if seconds is not None and seconds > budget.cap)


__all__ = ["TrialBudget", "over_cap"]
