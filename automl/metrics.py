"""Metrics: name -> how to score, which direction, which tasks, what predictions it needs.

Scores are reported in the metric's own units (``score``); the search minimises
``loss`` (``-score`` when greater is better), so every component compares losses.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn import metrics as skm

from metafeatures import TASKS

from .exceptions import InputError



@dataclass(frozen=True)
class Metric:
    name: str
    greater_is_better: bool
    needs_proba: bool
    tasks: tuple[str, ...]
    fn: Callable[..., float]
    perfect: float | None = None  # the best score the metric can take (None: unbounded or unknown)

    def is_perfect(self, score: float) -> bool:
        """Whether ``score`` is the metric's best possible value (to rounding): a validation no honest model
        reaches on real data, so a sign of a leak rather than evidence."""
        return self.perfect is not None and score is not None and abs(float(score) - self.perfect) <= 1e-9

    def score(self, y_true, prediction, sample_weight=None) -> float:
        """``prediction``: probabilities (n, K) when ``needs_proba``, else labels / values."""
        return float(self.fn(y_true, prediction, sample_weight=sample_weight))

    def loss(self, y_true, prediction, sample_weight=None) -> float:
        s = self.score(y_true, prediction, sample_weight=sample_weight)
        return -s if self.greater_is_better else s

    def to_loss(self, score: float) -> float:
        return -score if self.greater_is_better else score

    def to_score(self, loss: float) -> float:
        return -loss if self.greater_is_better else loss

    @property
    def worst_loss(self) -> float:
        return float("inf")


def _roc_auc(y, p, sample_weight=None):
    p = np.asarray(p)
    if p.ndim == 2:
        if p.shape[1] == 2:
            p = p[:, 1]
        else:
            return skm.roc_auc_score(y, p, multi_class="ovr", average="macro", sample_weight=sample_weight,
                                     labels=np.arange(p.shape[1]))
    return skm.roc_auc_score(y, p, sample_weight=sample_weight)


def _log_loss(y, p, sample_weight=None):
    p = np.asarray(p)
    if p.ndim == 1:
        p = np.column_stack([1 - p, p])
    p = np.clip(p, 1e-15, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    return skm.log_loss(y, p, sample_weight=sample_weight, labels=np.arange(p.shape[1]))


def _rmse(y, p, sample_weight=None):
    return float(np.sqrt(skm.mean_squared_error(y, p, sample_weight=sample_weight)))


def _f1_binary(y, p, sample_weight=None):
    return skm.f1_score(y, p, average="binary", sample_weight=sample_weight, zero_division=0)


def _f1_macro(y, p, sample_weight=None):
    return skm.f1_score(y, p, average="macro", sample_weight=sample_weight, zero_division=0)


_CLS = ("binary", "multiclass")
METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("roc_auc", True, True, _CLS, _roc_auc, 1.0),
        Metric("log_loss", False, True, _CLS, _log_loss, 0.0),
        Metric("accuracy", True, False, _CLS, skm.accuracy_score, 1.0),
        Metric("balanced_accuracy", True, False, _CLS, skm.balanced_accuracy_score, 1.0),
        Metric("f1", True, False, ("binary",), _f1_binary, 1.0),
        Metric("f1_macro", True, False, _CLS, _f1_macro, 1.0),
        Metric("rmse", False, False, ("regression",), _rmse, 0.0),
        Metric("mae", False, False, ("regression",), skm.mean_absolute_error, 0.0),
        Metric("r2", True, False, ("regression",), skm.r2_score, 1.0),
    ]
}

DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}


def make_metric(fn: Callable[..., float], *, greater_is_better: bool, needs_proba: bool = False,
                name: str | None = None, tasks: tuple[str, ...] = TASKS) -> Metric:
    """A user metric: ``fn(y_true, prediction, sample_weight=None) -> float`` with a stated direction.

    ``fn`` must be importable (a module-level function), because trials run in worker processes.
    Its evaluations are stored in the knowledge base under ``name`` (default ``custom:<function name>``)
    so they are never compared with another metric's scores.
    """
    if not callable(fn):
        raise InputError(f"a custom metric must be callable; got {type(fn).__name__}")
    label = name or f"custom:{getattr(fn, '__module__', 'user')}.{getattr(fn, '__qualname__', 'metric')}"
    return Metric(label, bool(greater_is_better), bool(needs_proba), tuple(tasks), _WeightTolerant(fn))


class _WeightTolerant:
    """Calls a user function with ``sample_weight`` only when it accepts one (picklable)."""

    def __init__(self, fn: Callable[..., float]) -> None:
        self.fn = fn

    def __call__(self, y, p, sample_weight=None):
        if sample_weight is None:
            return self.fn(y, p)
        return self.fn(y, p, sample_weight=sample_weight)


def _from_scorer(scorer) -> Metric:
    """A scikit-learn scorer (``make_scorer(...)``): direction from its sign, predictions from its method."""
    method = getattr(scorer, "_response_method", "predict")
    methods = method if isinstance(method, (list, tuple)) else (method,)
    needs_proba = any(m in ("predict_proba", "decision_function") for m in methods)
    kwargs = dict(getattr(scorer, "_kwargs", {}) or {})
    fn = scorer._score_func
    label = f"scorer:{getattr(fn, '__name__', 'metric')}"
    return Metric(label, getattr(scorer, "_sign", 1) > 0, needs_proba, TASKS, _ScorerFunction(fn, kwargs))


class _ScorerFunction:
    def __init__(self, fn, kwargs) -> None:
        self.fn, self.kwargs = fn, kwargs

    def __call__(self, y, p, sample_weight=None):
        p = np.asarray(p)
        if p.ndim == 2 and p.shape[1] == 2:
            p = p[:, 1]
        extra = {} if sample_weight is None else {"sample_weight": sample_weight}
        return self.fn(y, p, **self.kwargs, **extra)


def get_metric(name, task: str) -> Metric:
    """The metric called ``name`` for ``task`` (the AutoML Benchmark default when ``name`` is None).

    ``name`` may also be a :class:`Metric` (see :func:`make_metric`) or a scikit-learn scorer.
    """
    if task not in TASKS:
        raise InputError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    if name is None:
        return METRICS[DEFAULT_METRIC[task]]
    if isinstance(name, Metric) or hasattr(name, "_score_func"):
        metric = name if isinstance(name, Metric) else _from_scorer(name)
        if task not in metric.tasks:
            raise InputError(f"metric {metric.name!r} does not apply to a {task} task")
        return metric
    if not isinstance(name, str):
        raise InputError(f"metric must be a name, a Metric from automl.metrics.make_metric or a scikit-learn "
                         f"scorer; got {type(name).__name__}")
    key = str(name).strip().lower()
    if key not in METRICS:
        raise InputError(f"unknown metric {name!r}; choose one of {', '.join(METRICS)}")
    metric = METRICS[key]
    if task not in metric.tasks:
        fitting = [m.name for m in METRICS.values() if task in m.tasks]
        raise InputError(f"metric {metric.name!r} does not apply to a {task} task; use one of {', '.join(fitting)}")
    return metric
