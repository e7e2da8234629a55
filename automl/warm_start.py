"""What a fit starts from: the knowledge base's configurations for one table, or the store's learned portfolio.

The one owner of the retrieval constants. A fit and ``automl kb similar`` both call :func:`warm_start`, so
the command lists exactly the configurations, in order and with their origins, that a fit's first trials
are: the stored versions of the table's own lineage (``previous version``), then the other similar
datasets' picks (``kb``); with none of those, the portfolio the store learned (``portfolio``, the file
beside the store, else the bundled seed's). The search's hand-written list is for fits without a store.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable

from knowledge_base import KnowledgeBase, Neighbour, PriorObservation, config_id
from knowledge_base.portfolio import load_portfolio

from .kb_records import search_prior, search_suggestions

log = logging.getLogger("automl")

RETRIEVAL_K = 25  # past datasets the warm-start configurations are drawn from (why 25: docs/knowledge-base.md)
PRIOR_LIMIT = 400  # prior observations (most similar datasets first) that seed the surrogate
N_SUGGESTIONS = 10  # configurations the search tries first
NEIGHBOURS_SHOWN = 10  # nearest datasets reported with a fit (``neighbours_``) and by ``kb similar``
PORTFOLIO_ORIGIN = "portfolio"


@dataclass(frozen=True)
class StartPoint:
    """One configuration a fit tries first, where it comes from and why."""

    config: dict
    config_id: str
    origin: str  # "previous version" | "kb" | "portfolio"
    explanation: str


@dataclass(frozen=True)
class WarmStart:
    """Everything a fit takes from the knowledge base before its search starts."""

    neighbours: tuple[Neighbour, ...]
    suggestions: tuple[StartPoint, ...]
    prior: tuple[PriorObservation, ...]
    note: str

    def search_suggestions(self) -> list[dict]:
        """The suggestions as ``automl.search.optimize(suggestions=...)`` takes them."""
        return search_suggestions(self.suggestions)

    def search_prior(self) -> list[dict]:
        """The prior observations as ``automl.search.optimize(prior=...)`` takes them."""
        return search_prior(self.prior)


def warm_start(store: KnowledgeBase, metafeatures: dict, task: str, metric: str, *,
               families: Iterable[str] | None = None, lineage: str | None = None) -> WarmStart:
    """Retrieve from ``store`` what a fit of this table starts from (module docstring); raises the store's
    ``KnowledgeBaseError`` when it cannot be read (the fit then starts from the hand-written list)."""
    neighbours, suggestions, prior = store.retrieve(metafeatures, task, metric, n=N_SUGGESTIONS, k=RETRIEVAL_K,
                                                    neighbours_k=NEIGHBOURS_SHOWN, prior_limit=PRIOR_LIMIT,
                                                    families=families, lineage=lineage)
    points = tuple(StartPoint(s.config, s.config_id, s.origin, s.explanation) for s in suggestions)
    if points:
        note = f"{len(points)} warm-start configuration(s) from {len(neighbours)} similar dataset(s)"
    else:
        points = learned_portfolio(store, task, families)
        where = "the store's learned portfolio" if points else "the hand-written portfolio (none learned)"
        note = f"no similar past dataset; starting from {where}"
        log.warning("the knowledge base has no similar past dataset; starting from %s", where)
    return WarmStart(tuple(neighbours), points, tuple(prior), note)


def learned_portfolio(store: KnowledgeBase, task: str, families: Iterable[str] | None = None
                      ) -> tuple[StartPoint, ...]:
    """The portfolio the store learned for ``task`` (``knowledge_base.portfolio.load_portfolio``: the file beside
    the store, else the bundled seed's), restricted to ``families``; empty when none matches the search space."""
    from .space import SPACE_VERSION
    allowed = set(families) if families is not None else None
    configs = [c for c in load_portfolio(task, SPACE_VERSION, store_path=store.path)
               if allowed is None or c["family"] in allowed]
    return tuple(StartPoint(c, config_id(c), PORTFOLIO_ORIGIN, f"{c['family']}: learned portfolio, position {i + 1}")
                 for i, c in enumerate(configs))


__all__ = ["RETRIEVAL_K", "PRIOR_LIMIT", "N_SUGGESTIONS", "NEIGHBOURS_SHOWN", "PORTFOLIO_ORIGIN", "StartPoint",
           "WarmStart", "warm_start", "learned_portfolio"]
