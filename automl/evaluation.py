"""A fitted model scored on labelled data: every metric of its task, and where it errs.

``AutoMLBase.evaluate(X, y)`` (and ``automl evaluate``) returns an :class:`Evaluation`: the score of each
metric in :mod:`automl.metrics` that applies to the task (computed by those metric objects), the rows
scored, and a confusion matrix (classification) or a summary of the residuals (regression).
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .data import class_codes, class_labels, numeric_target
from .exceptions import InputError, plain_repr, plain_value
from .metrics import METRICS, Metric

log = logging.getLogger("automl")


@dataclass(frozen=True)
class MetricScore:
    name: str
    score: float | None  # None: undefined on these rows (e.g. ROC AUC when one class is present)
    greater_is_better: bool
    primary: bool  # the metric the model was selected with


@dataclass(frozen=True)
class ConfusionMatrix:
    labels: tuple  # class names in the model's order
    counts: tuple[tuple[int, ...], ...]  # counts[true][predicted]


@dataclass(frozen=True)
class ResidualSummary:
    """Residuals are observed minus predicted values."""

    mean: float
    median: float
    q05: float
    q25: float
    q75: float
    q95: float
    min: float
    max: float
    mae: float
    rmse: float


@dataclass(frozen=True)
class Evaluation:
    task: str
    n_rows: int  # rows scored
    n_rows_left_out: int  # rows without a target, or (classification) with a class the model does not know
    scores: tuple[MetricScore, ...]
    confusion: ConfusionMatrix | None  # classification
    residuals: ResidualSummary | None  # regression

    def score(self, name: str) -> float | None:
        for s in self.scores:
            if s.name == name:
                return s.score
        raise KeyError(f"no metric {name!r} in this evaluation; metrics: {', '.join(s.name for s in self.scores)}")

    def to_dict(self) -> dict:
        """Plain JSON data."""
        return {
            "task": self.task, "n_rows": self.n_rows, "n_rows_left_out": self.n_rows_left_out,
            "metrics": {s.name: s.score for s in self.scores},
            "primary_metric": next((s.name for s in self.scores if s.primary), None),
            "confusion_matrix": None if self.confusion is None else
            {"labels": list(self.confusion.labels), "counts": [list(r) for r in self.confusion.counts]},
            "residuals": None if self.residuals is None else dict(vars(self.residuals)),
        }


def true_values(y: pd.Series, task: str, classes) -> tuple[np.ndarray, np.ndarray]:
    """(values, known): class codes in the model's order (classification) or floats (regression), and which
    rows can be scored. Labels the model never saw are left out with a warning; when no label is known the
    data does not fit the model (``InputError``)."""
    if task == "regression":
        values = numeric_target(y)
        return values, np.ones(len(values), dtype=bool)
    labels = class_labels(y)
    codes = class_codes(y, classes)
    known = codes >= 0
    shown = ", ".join(plain_repr(c) for c in list(classes)[:10])
    if not known.any():
        raise InputError(f"no label of target {y.name!r} is a class the model knows (e.g. "
                         f"{plain_repr(labels[0])}; the model's classes: {shown})")
    if not known.all():
        example = labels[np.flatnonzero(~known)[0]]
        log.warning("left out %d row(s) whose label is not a class the model knows (e.g. %s; classes: %s)",
                    int((~known).sum()), plain_repr(example), shown)
    return codes, known


def evaluate_predictions(task: str, truth: np.ndarray, prediction: np.ndarray, proba: np.ndarray | None,
                         classes, primary: Metric, n_left_out: int = 0) -> Evaluation:
    """Score ``prediction`` (class codes or values) and ``proba`` (classification) against ``truth``."""
    metrics = [m for m in METRICS.values() if task in m.tasks]
    if primary.name not in METRICS:  # a custom metric the model was selected with
        metrics.append(primary)
    scores = tuple(MetricScore(m.name, _score(m, truth, proba if m.needs_proba else prediction),
                               m.greater_is_better, m.name == primary.name) for m in metrics)
    confusion = residuals = None
    if task == "regression":
        r = truth - prediction
        q05, q25, median, q75, q95 = (float(v) for v in np.quantile(r, [0.05, 0.25, 0.5, 0.75, 0.95]))
        residuals = ResidualSummary(mean=float(np.mean(r)), median=median, q05=q05, q25=q25, q75=q75, q95=q95,
                                    min=float(np.min(r)), max=float(np.max(r)),
                                    mae=METRICS["mae"].score(truth, prediction),
                                    rmse=METRICS["rmse"].score(truth, prediction))
    else:
        k = len(classes)
        counts = np.zeros((k, k), dtype=np.int64)
        np.add.at(counts, (truth, prediction), 1)
        confusion = ConfusionMatrix(tuple(plain_value(c) for c in classes),
                                    tuple(tuple(int(v) for v in row) for row in counts))
    return Evaluation(task, int(len(truth)), int(n_left_out), scores, confusion, residuals)


def _score(metric: Metric, truth: np.ndarray, prediction) -> float | None:
    """The metric's score, or None where it is undefined on these rows (sklearn refuses or returns NaN)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = metric.score(truth, prediction)
    except ValueError:
        return None
    return value if np.isfinite(value) else None
