"""The second layer of a stacked ensemble (Wolpert, 1992; as AutoGluon's multi-layer stack): a small, regularised
linear model trained on the first-layer members' out-of-fold predictions, and the final model that predicts through
it. Classification: a multinomial logistic regression on the members' log-probabilities with one non-negative weight
per member (shared by every class) and a bias per class, softmax(sum_m w_m log p_m + b) (a log-linear pool; binary:
logistic regression on the members' logits), L2-shrunk towards equal weights; regression: non-negative least squares
with an intercept (Breiman's stacked regressions, 1996). The original features are left out: the second layer only
re-weighs and recalibrates the members. Whether a stack is used at all is decided in ``automl.search.stack_choice``."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ensembling import MemberThreads, decide, member_prediction

POOL_CLIP = 1e-3  # probabilities are clipped to at least this before their log (a k-NN's zeros would dominate)
POOL_L2 = 1.0  # L2 strength pulling the member weights towards equal shares (the loss is summed over rows)
# (one weight per member, shared by the classes: a weight per member and class overfit with ten classes)


def log_probabilities(predictions: list[np.ndarray]) -> np.ndarray:
    """The members' clipped log-probabilities, shape (n, K, members)."""
    return np.stack([np.log(np.clip(np.asarray(p, dtype=float), POOL_CLIP, 1.0)) for p in predictions], axis=2)


def _softmax_logits(logp: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """sum_m w_m log p_m + b, shape (n, K); ``theta`` = (w_1..w_M, b_1..b_K)."""
    m = logp.shape[2]
    return logp @ theta[:m] + theta[m:]


def _pool_objective(theta: np.ndarray, logp: np.ndarray, onehot: np.ndarray, sw: np.ndarray):
    """(weighted log loss + L2 towards equal weights, its gradient) of the pool's ``theta``."""
    from scipy.special import logsumexp
    m = logp.shape[2]
    z = _softmax_logits(logp, theta)
    log_proba = z - logsumexp(z, axis=1, keepdims=True)
    residual = (np.exp(log_proba) - onehot) * sw[:, None]
    shrink = theta[:m] - 1.0 / m
    grad = np.concatenate([np.einsum("nk,nkm->m", residual, logp) + POOL_L2 * shrink, residual.sum(axis=0)])
    return -(sw[:, None] * onehot * log_proba).sum() + 0.5 * POOL_L2 * shrink @ shrink, grad


class Stacker:
    """A second layer over the members' predictions: ``fit(predictions, y, sample_weight)``, then
    ``predict(predictions)`` (probabilities with a column per class code 0..K-1, or values). Picklable."""

    def __init__(self, task: str, n_classes: int) -> None:
        self.task = task
        self.n_classes = n_classes

    def fit(self, predictions: list[np.ndarray], y: np.ndarray, sample_weight: np.ndarray | None = None) -> Stacker:
        """Fit the member weights (``weights_``, all >= 0) and the intercept or class biases (``bias_``)."""
        m = len(predictions)
        if self.task == "regression":
            from sklearn.linear_model import LinearRegression
            model = LinearRegression(positive=True).fit(np.column_stack(predictions), y, sample_weight=sample_weight)
            self.weights_, self.bias_ = np.asarray(model.coef_, dtype=float), np.asarray(model.intercept_, dtype=float)
            return self
        from scipy.optimize import minimize
        logp = log_probabilities(predictions)
        n, k = logp.shape[:2]
        sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        theta = minimize(_pool_objective, np.concatenate([np.full(m, 1.0 / m), np.zeros(k)]),
                         args=(logp, np.eye(k)[np.asarray(y)], sw), jac=True, method="L-BFGS-B",
                         bounds=[(0.0, None)] * m + [(None, None)] * k).x
        self.weights_, self.bias_ = theta[:m], theta[m:]
        return self

    def predict(self, predictions: list[np.ndarray]) -> np.ndarray:
        if self.task == "regression":
            return np.column_stack(predictions) @ self.weights_ + self.bias_
        from scipy.special import softmax
        theta = np.concatenate([self.weights_, self.bias_])
        return softmax(_softmax_logits(log_probabilities(predictions), theta), axis=1)

    def restricted(self, keep: list[int]) -> Stacker:
        """This stacker over the members at positions ``keep`` only: the same predictions when every other member's
        weight is 0 (the final model then loads and runs only the members it uses)."""
        out = Stacker(self.task, self.n_classes)
        out.weights_, out.bias_ = self.weights_[list(keep)], self.bias_
        return out

    def influence(self) -> tuple[float, ...]:
        """Each member's share of the second layer's (non-negative) weights (sums to 1; equal shares when every
        weight is 0): how much the stack leans on it, shown where an ensemble shows its weights."""
        total = self.weights_.sum()
        shares = self.weights_ / total if total > 0 else np.full(len(self.weights_), 1.0 / len(self.weights_))
        return tuple(float(s) for s in shares)

    def describe(self) -> str:
        return "non-negative linear regression" if self.task == "regression" else "log-linear pool"


class StackedEnsemble(MemberThreads):
    """The final model of a stack: each member's prediction (the average of its models: its fold models, with its
    refit on every row when there is one, as in ``BaggedEnsemble``) goes through the fitted ``stacker``."""

    def __init__(self, members: list[list], stacker: Stacker, task: str, n_classes: int,
                 threshold: float | None = None, families: list[str] | None = None) -> None:
        self.members = members
        self.stacker = stacker
        self.task = task
        self.n_classes = n_classes
        self.threshold = threshold  # binary decision threshold tuned on the stack's out-of-fold predictions
        self.families = families

    def _stacked(self, X) -> np.ndarray:
        return self.stacker.predict([member_prediction(models, X, self.task, self.n_classes)
                                     for models in self.members])

    def predict_proba(self, X) -> np.ndarray:
        if self.task == "regression":
            raise AttributeError("predict_proba is not available for regression")
        return self._stacked(X)

    def predict(self, X) -> np.ndarray:
        return decide(self._stacked(X), self.task, self.threshold)


@dataclass(frozen=True)
class StackReport:
    """What the leaderboard's final row and ``fit_info_`` say of a stacked final model: its members
    (configuration ids, in the stacker's input order), the second layer, and the two out-of-fold losses the
    choice compared (the stack's and the Caruana ensemble's, over the same ``folds`` outer folds)."""

    stacker: str
    members: tuple[str, ...]
    loss: float
    caruana_loss: float
    folds: int

    def as_dict(self) -> dict:
        return {"stacker": self.stacker, "members": list(self.members), "loss": self.loss,
                "caruana_loss": self.caruana_loss, "folds": self.folds}


__all__ = ["Stacker", "StackedEnsemble", "StackReport", "log_probabilities"]
