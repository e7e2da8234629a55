"""Greedy ensemble selection with replacement (Caruana et al., 2004) and the final bagged model."""
from __future__ import annotations

import numpy as np


def greedy_selection(predictions: list[np.ndarray], loss_fn, n_iterations: int = 25) -> tuple[list[float], float]:
    """Weights over ``predictions`` minimising ``loss_fn(average)``; returns (weights, loss)."""
    counts = np.zeros(len(predictions))
    current = None
    best_loss = np.inf
    for it in range(n_iterations):
        losses = []
        for p in predictions:
            cand = p if current is None else (current * it + p) / (it + 1)
            losses.append(loss_fn(cand))
        j = int(np.argmin(losses))
        if losses[j] > best_loss - 1e-12 and current is not None and it > 5:
            break
        counts[j] += 1
        current = predictions[j] if current is None else (current * it + predictions[j]) / (it + 1)
        best_loss = min(best_loss, losses[j])
    weights = counts / counts.sum()
    return weights.tolist(), float(best_loss)


class BaggedEnsemble:
    """Weighted average of members; each member is the list of its fold models (averaged)."""

    def __init__(self, members: list[list], weights: list[float], task: str, n_classes: int,
                 threshold: float | None = None) -> None:
        self.members = members
        self.weights = weights
        self.task = task
        self.n_classes = n_classes
        self.threshold = threshold  # binary decision threshold tuned on validation predictions (None: argmax)

    def _average(self, X) -> np.ndarray:
        from .search.trial import predict_one
        total = None
        for models, w in zip(self.members, self.weights):
            if w <= 0:
                continue
            member = np.mean([predict_one(m, X, self.task, self.n_classes) for m in models], axis=0)
            total = member * w if total is None else total + member * w
        return total / sum(self.weights)

    def predict_proba(self, X) -> np.ndarray:
        if self.task == "regression":
            raise AttributeError("predict_proba is not available for regression")
        return self._average(X)

    def predict(self, X) -> np.ndarray:
        avg = self._average(X)
        if self.task == "regression":
            return avg
        if self.task == "binary" and getattr(self, "threshold", None) is not None:
            return (avg[:, 1] >= self.threshold).astype(int)
        return avg.argmax(axis=1)


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
