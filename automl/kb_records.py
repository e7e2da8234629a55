"""The one translation between the search's plain rows and the knowledge base's records.

A fit and a refresh job write their trials as :func:`evaluation_record` builds them, and both hand
retrieval results to ``automl.search.optimize`` as :func:`search_suggestions` / :func:`search_prior`
make them, so the two never drift apart.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping

from .search.messages import Status
from .versions import __version__

if TYPE_CHECKING:  # importing knowledge_base opens DuckDB's module: only when a record is built
    from knowledge_base.records import EvaluationRecord, PriorObservation, Suggestion


def evaluation_record(trial: Mapping[str, Any], *, space_version: str, protocol: str, metric: str, seed: int,
                      library_version: str = __version__) -> EvaluationRecord:
    """One trial row (``config``, ``fidelity``, ``status``, ``score``, ``loss``, ``fit_seconds``, ``error``,
    ``origin``; ``family`` optional) as a knowledge-base evaluation; non-finite scores become None there."""
    from knowledge_base.records import EvaluationRecord
    config = trial["config"]
    return EvaluationRecord(
        config=config, family=trial.get("family") or config.get("family", "unknown"), space_version=space_version,
        fidelity=float(trial.get("fidelity", 1.0)), protocol=protocol, metric=metric, score=trial.get("score"),
        loss=trial.get("loss"), fit_seconds=float(trial.get("fit_seconds") or 0.0),
        status=str(trial.get("status") or Status.FAILED), error=trial.get("error"), seed=int(seed),
        library_version=library_version, created_at=None, origin=trial.get("origin"))


def search_suggestions(suggestions: Iterable[Suggestion]) -> list[dict]:
    """Retrieved configurations (anything with ``config``, ``origin``, ``explanation``: a ``Suggestion``, a
    ``warm_start.StartPoint``) as ``optimize(suggestions=...)`` takes them, each with its own origin."""
    return [{"config": s.config, "origin": s.origin, "explanation": s.explanation} for s in suggestions]


def search_prior(prior: Iterable[PriorObservation]) -> list[dict]:
    """Prior observations as ``optimize(prior=...)`` takes them."""
    return [{"config": p.config, "fidelity": p.fidelity, "normalised_score": p.normalised_score, "weight": p.weight}
            for p in prior]


__all__ = ["evaluation_record", "search_suggestions", "search_prior"]
