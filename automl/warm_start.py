"""What a fit starts from: the knowledge base's configurations for one table, or the store's learned portfolio.

The one owner of the retrieval constants. A fit and ``automl kb similar`` both call :func:`warm_start`, so
the command lists exactly the configurations, in order and with their origins, that a fit's first trials
are: the stored versions of the table's own lineage (``previous version``), then the other similar
datasets' picks (``kb``); with none of those, the portfolio the store learned (``portfolio``, the file
beside the store, else the bundled seed's). The search's hand-written list is for fits without a store.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable

from .kb_records import search_prior, search_suggestions

if TYPE_CHECKING:  # importing knowledge_base opens DuckDB's module: only when a store is read
    from knowledge_base import KnowledgeBase, Neighbour, PriorObservation

    from .cost_prior import CostPrior, StoreTimings
    from .prepare import PreparedTable
    from .timing import PhaseClock
    from .trial_budget import TrialBudget

log = logging.getLogger("automl")

RETRIEVAL_K = 25  # past datasets the warm-start configurations are drawn from (why 25: docs/knowledge-base.md)
PRIOR_LIMIT = 400  # prior observations (most similar datasets first) that seed the surrogate
N_SUGGESTIONS = 10  # configurations the search tries first
NEIGHBOURS_SHOWN = 10  # nearest datasets reported with a fit (``neighbours_``) and by ``kb similar``
PORTFOLIO_ORIGIN = "portfolio"
NOT_USED = "knowledge base not used"


@dataclass(frozen=True)
class StartPoint:
    """One configuration a fit tries first, where it comes from and why."""

    config: dict
    config_id: str
    origin: str  # "previous version" | "kb" | "portfolio"
    explanation: str


@dataclass(frozen=True)
class WarmStart:
    """Everything a fit takes from the knowledge base before its search starts and, from a fit
    (:func:`warm_start_for_fit`), the table's description it was retrieved by and is written back under
    (None where the fit did not compute it)."""

    neighbours: tuple[Neighbour, ...]
    suggestions: tuple[StartPoint, ...]
    prior: tuple[PriorObservation, ...]
    note: str
    metafeatures: dict[str, float] | None = None
    fingerprint: str | None = None
    lineage: str | None = None
    cost_prior: CostPrior | None = None  # the search's prior on seconds (``automl.cost_prior``), from a fit only

    def search_suggestions(self) -> list[dict]:
        """The suggestions as ``automl.search.optimize(suggestions=...)`` takes them."""
        return search_suggestions(self.suggestions)

    def search_prior(self) -> list[dict]:
        """The prior observations as ``automl.search.optimize(prior=...)`` takes them."""
        return search_prior(self.prior)


def warm_start(store: KnowledgeBase, metafeatures: dict, task: str, metric: str, *,
               families: Iterable[str] | None = None, lineage: str | None = None,
               budget: "TrialBudget | None" = None, timings: "StoreTimings | None" = None) -> WarmStart:
    """Retrieve from ``store`` what a fit of this table starts from (module docstring); raises the store's
    ``KnowledgeBaseError`` when it cannot be read (the fit then starts from the hand-written list). ``families``
    None: every family registered here (:func:`registered_families`). With the fit's trial ``budget`` (a timed
    fit), the stored configurations of ``lineage`` estimated over its cap (``automl.trial_budget.over_cap``, from
    ``timings``: the store's, read here when not given) are passed over in its own history's picks."""
    families = registered_families(families)
    over = frozenset()
    if budget is not None and lineage is not None:
        from .cost_prior import StoreTimings
        from .trial_budget import over_cap
        over = over_cap(timings or StoreTimings(store), lineage, budget)
    neighbours, suggestions, prior = store.retrieve(metafeatures, task, metric, n=N_SUGGESTIONS, k=RETRIEVAL_K,
                                                    neighbours_k=NEIGHBOURS_SHOWN, prior_limit=PRIOR_LIMIT,
                                                    families=families, lineage=lineage, own_over_cap=over)
    points = tuple(StartPoint(s.config, s.config_id, s.origin, s.explanation) for s in suggestions)
    if points:
        note = f"{len(points)} warm-start configuration(s) from {len(neighbours)} similar dataset(s)"
        if over:
            note += (f"; {len(over)} configuration(s) of this table's history estimated over the "
                     f"{budget.cap:.1f} s trial cap passed over")
    else:
        points = learned_portfolio(store, task, families)
        where = "the store's learned portfolio" if points else "the hand-written portfolio (none learned)"
        note = f"no similar past dataset; starting from {where}"
        log.warning("the knowledge base has no similar past dataset; starting from %s", where)
    return WarmStart(tuple(neighbours), points, tuple(prior), note)


def warm_start_for_fit(table: "PreparedTable", target_name: str | None, *, describe: bool, retrieve: bool,
                       open_store: Callable[[], KnowledgeBase], metric: str, families: Iterable[str] | None = None,
                       clock: "PhaseClock | None" = None, budget: "TrialBudget | None" = None) -> WarmStart:
    """With ``describe``, the fingerprint, meta-features and lineage of the prepared ``table`` (their failure
    leaves the knowledge base out of the fit, with a warning); with ``retrieve`` too, what its search starts
    from (:func:`warm_start`, within the trial ``budget`` of a timed fit; none, with the reason in ``note``, when
    the store cannot be read: the search then starts from its hand-written list), and the search's prior on
    seconds from the neighbours' timings (``automl.cost_prior``; the store's timings read at most once for both,
    and only when an estimate is made from them).
    ``clock`` times the phases ``metafeatures`` and ``knowledge_base``."""
    found = WarmStart((), (), (), NOT_USED)
    if not describe:
        return found
    from knowledge_base import KnowledgeBaseError
    from knowledge_base import lineage as lineage_key
    try:
        described = table.described()
        found = dataclasses.replace(found, fingerprint=described.fingerprint, metafeatures=described.metafeatures)
        found = dataclasses.replace(found, lineage=lineage_key(table.encoder.column_kinds(), target_name, table.task))
    except Exception as exc:  # meta-features never stop a fit
        log.warning("meta-features failed (%s); fitting without the knowledge base", exc)
        return found
    finally:
        if clock is not None:
            clock.lap("metafeatures")
    if not retrieve:
        return found
    from .cost_prior import StoreTimings, store_cost_prior
    try:
        store = open_store()
        timings = StoreTimings(store)
        start = warm_start(store, found.metafeatures, table.task, metric, families=families, lineage=found.lineage,
                           budget=budget, timings=timings)
        start = dataclasses.replace(start, cost_prior=store_cost_prior(timings, start.prior, len(table.y)))
    except KnowledgeBaseError as exc:
        log.warning("knowledge base unavailable (%s); starting from the default portfolio", exc)
        return dataclasses.replace(found, note=f"knowledge base unavailable: {exc}")
    finally:
        if clock is not None:
            clock.lap("knowledge_base")
    return dataclasses.replace(start, metafeatures=found.metafeatures, fingerprint=found.fingerprint,
                               lineage=found.lineage)


def registered_families(families: Iterable[str] | None = None) -> list[str]:
    """The families a search here may start from: ``families`` (None: all) that are registered. A store may hold
    configurations of a family this installation lacks (the seed's CatBoost and XGBoost without
    ``automl-meta[boost]``, another session's own family): retrieval leaves them out, so the suggestions are
    the best of what can run rather than fewer."""
    from .models import REGISTRY
    return [key for key in (REGISTRY.keys() if families is None else families) if key in REGISTRY]


def learned_portfolio(store: KnowledgeBase, task: str, families: Iterable[str] | None = None
                      ) -> tuple[StartPoint, ...]:
    """The portfolio the store learned for ``task`` (``knowledge_base.portfolio.load_portfolio``: the file beside
    the store, else the bundled seed's), restricted to ``families`` (:func:`registered_families`); empty when
    none matches the search space."""
    from knowledge_base import config_id
    from knowledge_base.portfolio import load_portfolio

    from .space import SPACE_VERSION
    allowed = set(registered_families(families))
    configs = [c for c in load_portfolio(task, SPACE_VERSION, store_path=store.path) if c.get("family") in allowed]
    return tuple(StartPoint(c, config_id(c), PORTFOLIO_ORIGIN, f"{c['family']}: learned portfolio, position {i + 1}")
                 for i, c in enumerate(configs))


__all__ = ["RETRIEVAL_K", "PRIOR_LIMIT", "N_SUGGESTIONS", "NEIGHBOURS_SHOWN", "PORTFOLIO_ORIGIN", "NOT_USED",
           "StartPoint", "WarmStart", "warm_start", "warm_start_for_fit", "learned_portfolio", "registered_families"]
