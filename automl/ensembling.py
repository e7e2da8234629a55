"""Greedy ensemble selection with replacement (Caruana et al., 2004) and the final bagged model."""
from __future__ import annotations

import time

import numpy as np


def greedy_selection(predictions: list[np.ndarray], loss_fn, n_iterations: int = 25,
                     patience: int = 5, seconds: float | None = None, costs: list[float] | None = None,
                     limit: float | None = None) -> tuple[list[float], float]:
    """Weights over ``predictions`` minimising ``loss_fn(average)``; returns (weights, loss).

    Caruana et al. (2004): start from the best single model, then repeatedly add (with replacement)
    the member that most improves the running average. The weights returned are those of the best
    iteration, so the ensemble is never worse than the best single model on these predictions.
    ``costs`` and ``limit``: a member not chosen yet is added only while the chosen members' summed cost stays
    within ``limit`` (the prediction seconds per row, ``automl.search.predict_cost``); none fits: the selection stops.
    """
    if not predictions:
        raise ValueError("greedy_selection needs at least one prediction")
    counts = np.zeros(len(predictions))
    total = None  # running sum of the chosen members' predictions
    best_loss, best_counts, since_best = np.inf, None, 0
    stop_at = None if seconds is None else time.monotonic() + seconds
    spent = 0.0  # the chosen members' summed cost
    for it in range(n_iterations):
        if stop_at is not None and it > 0 and time.monotonic() > stop_at:
            break
        allowed = [limit is None or counts[j] > 0 or spent + costs[j] <= limit for j in range(len(predictions))]
        if not any(allowed):
            break
        losses = [loss_fn(p if total is None else (total + p) / (it + 1)) if ok else np.inf
                  for p, ok in zip(predictions, allowed)]
        j = int(np.argmin(losses))
        if not allowed[j]:  # (every allowed loss infinite)
            break
        if limit is not None and counts[j] == 0:
            spent += costs[j]
        counts[j] += 1
        total = predictions[j].astype(float) if total is None else total + predictions[j]
        if losses[j] < best_loss - 1e-12:
            best_loss, best_counts, since_best = float(losses[j]), counts.copy(), 0
        else:
            since_best += 1
            if since_best >= patience:
                break
    weights = best_counts / best_counts.sum()
    return weights.tolist(), float(best_loss)


class MemberThreads:
    """The threads an ensemble's members predict on: ``families`` (one model family key per member, None in a model
    saved before they were recorded: one thread) says how each member's models take them
    (``Family.set_predict_threads``); ``set_threads`` changes them only when ``n`` differs from the last call."""

    members: list[list]
    families: list[str] | None = None
    threads: int = 1

    def set_threads(self, n: int) -> None:
        """Predict on ``n`` threads from now on (the same predictions on any number)."""
        if n == self.threads or not self.families:
            return
        from .models import REGISTRY
        for models, key in zip(self.members, self.families):
            if key in REGISTRY:  # (a user's family not registered in this process keeps one thread)
                for model in models:
                    REGISTRY.get(key).set_predict_threads(model, n)
        self.threads = n


class BaggedEnsemble(MemberThreads):
    """Weighted average of members; each member is the list of its models (averaged): its fold models, with its
    refit on every row when there is one, or its holdout model or refit."""

    def __init__(self, members: list[list], weights: list[float], task: str, n_classes: int,
                 threshold: float | None = None, families: list[str] | None = None) -> None:
        self.members = members
        self.weights = weights
        self.task = task
        self.n_classes = n_classes
        self.threshold = threshold  # binary decision threshold tuned on validation predictions (None: argmax)
        self.families = families

    def _average(self, X) -> np.ndarray:
        total = None
        for models, w in zip(self.members, self.weights):
            if w <= 0:
                continue
            member = member_prediction(models, X, self.task, self.n_classes)
            total = member * w if total is None else total + member * w
        return total / sum(self.weights)

    def predict_proba(self, X) -> np.ndarray:
        if self.task == "regression":
            raise AttributeError("predict_proba is not available for regression")
        return self._average(X)

    def predict(self, X) -> np.ndarray:
        return decide(self._average(X), self.task, getattr(self, "threshold", None))


def member_prediction(models: list, X, task: str, n_classes: int) -> np.ndarray:
    """One ensemble member's prediction: the average of its models' probabilities (columns = class codes) or
    values."""
    from .search.trial import predict_one
    return np.mean([predict_one(m, X, task, n_classes) for m in models], axis=0)


def decide(prediction: np.ndarray, task: str, threshold: float | None) -> np.ndarray:
    """Labels from probabilities (P(class 1) >= ``threshold`` on binary tasks when given, else the most probable
    class); regression values unchanged."""
    if task == "regression":
        return prediction
    if task == "binary" and threshold is not None:
        return (prediction[:, 1] >= threshold).astype(int)
    return prediction.argmax(axis=1)


def tune_threshold(y: np.ndarray, proba: np.ndarray, score_fn) -> tuple[float, float]:
    """The decision threshold on P(class 1) that maximises ``score_fn(y, labels)``; returns (threshold, score).

    Candidates are 0.5 and the quantiles of the validation probabilities; ties keep the one nearest 0.5.
    """
    p = proba[:, 1]
    candidates = np.unique(np.concatenate([[0.5], np.quantile(p, np.linspace(0.01, 0.99, 99))]))
    best_t, best_s = 0.5, score_fn(y, (p >= 0.5).astype(int))
    for t in candidates:
        s = score_fn(y, (p >= t).astype(int))
        if s > best_s + 1e-12 or (abs(s - best_s) <= 1e-12 and abs(t - 0.5) < abs(best_t - 0.5)):
            best_t, best_s = float(t), s
    return best_t, float(best_s)
