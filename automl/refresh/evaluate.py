"""The worker side: evaluate the candidate pool and run a short search on one prepared (sub)sample.

Runs in a pool process, on a Dask worker, or inline; takes a :class:`DatasetWork` and returns a
:class:`DatasetResult`, both plain picklable data. The rows are the search's trial rows, turned into
knowledge-base records by the parent (``automl.kb_records.evaluation_record``).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..exceptions import AutoMLError
from ..metrics import get_metric
from ..search.messages import FINISHED, TrialRequest
from .candidates import CANDIDATE_ORIGIN


@dataclass(frozen=True)
class DatasetWork:
    """What one dataset's evaluation needs."""

    X: pd.DataFrame
    y: np.ndarray
    task: str
    metric: str
    seed: int
    candidates: list[dict]  # evaluated at full fidelity (those the task and size allow)
    trial_seconds: float  # cap for one candidate evaluation
    budget: float = 0.0  # seconds of real search (0: none)
    suggestions: list[dict] = field(default_factory=list)  # the search's warm start
    prior: list[dict] = field(default_factory=list)
    max_trials: int | None = None


@dataclass(frozen=True)
class DatasetResult:
    protocol: str  # the validation protocol the scores were measured with
    candidates: list[dict]  # trial rows, origin "candidate"
    search: list[dict]  # the search's finished trial rows, their own origins
    search_error: str | None = None  # the search failed (e.g. too short a budget); the candidates stand


def evaluate_dataset(work: DatasetWork) -> DatasetResult:
    """Evaluate ``work.candidates``, then search for ``work.budget`` seconds."""
    from threadpoolctl import threadpool_limits
    warnings.filterwarnings("ignore")
    with threadpool_limits(1):  # BLAS / OpenMP threads: one per worker (contention collapses them otherwise)
        from ..search.validation import choose_protocol
        protocol = choose_protocol(len(work.y))
        candidates = _evaluate_candidates(work, protocol) if work.candidates else []
        search, search_protocol, error = _search(work) if float(work.budget or 0) > 0 else ([], None, None)
        return DatasetResult(search_protocol or protocol, candidates, search, error)


def _evaluate_candidates(work: DatasetWork, protocol: str) -> list[dict]:
    """Every candidate the task and size allow, at full fidelity, with the search's own trial function."""
    from ..models import REGISTRY
    from ..search.trial import run_trial
    from ..search.validation import make_splits
    metric = get_metric(work.metric, work.task)
    allowed = {f.key for f in REGISTRY.for_task(work.task, len(work.y))}
    data = {"X": work.X, "y": work.y, "task": work.task, "metric": metric,
            "splits": make_splits(work.y, work.task, protocol, work.seed), "seed": work.seed}
    rows = []
    for i, config in enumerate(work.candidates):
        if config.get("family") not in allowed:
            continue
        result = run_trial(TrialRequest(trial_id=i, config=config, fidelity=1.0, seconds=float(work.trial_seconds),
                                        keep_models_dir=None), data)
        rows.append({"config": config, "fidelity": 1.0, "status": result.status, "score": result.score,
                     "loss": result.loss, "fit_seconds": result.fit_seconds, "error": result.error,
                     "origin": CANDIDATE_ORIGIN})
    return rows


def _search(work: DatasetWork) -> tuple[list[dict], str | None, str | None]:
    """(finished trial rows, the search's protocol, error): a short real search, warm-started when
    ``work`` has suggestions."""
    from ..deadline import Deadline
    from ..search import SearchProblem, optimize
    problem = SearchProblem(X=work.X, y=work.y, task=work.task, metric=get_metric(work.metric, work.task),
                            seed=work.seed, n_jobs=1)
    strategy = "warm" if work.suggestions else "bo"
    try:
        result = optimize(problem, Deadline(float(work.budget)), strategy=strategy, suggestions=work.suggestions,
                          prior=work.prior, max_trials=work.max_trials)
    except AutoMLError as exc:  # e.g. the budget was too short to fit anything: keep the candidates
        return [], None, str(exc)
    rows = [{"config": t.config, "fidelity": float(t.fidelity), "status": t.status, "score": t.score,
             "loss": t.loss, "fit_seconds": float(t.fit_seconds or 0), "error": t.error, "origin": t.origin}
            for t in result.trials if t.status in FINISHED]
    return rows, result.protocol, None
