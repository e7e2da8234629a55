"""The search: roles (sampler, scheduler, runner, history) composed by the optimiser."""
from .history import FAILED, OK, TIMEOUT, History, Trial
from .optimizer import STRATEGIES, SearchProblem, SearchResult, optimize

__all__ = ["optimize", "SearchProblem", "SearchResult", "Trial", "History", "STRATEGIES", "OK", "FAILED",
           "TIMEOUT"]
