"""Whether a stack (``automl.stacking``) replaces the Caruana ensemble: both are scored on rows they were not
fitted on. Over the out-of-fold rows of the kept trials (the rows and predictions the ensemble selection uses),
``STACK_FOLDS`` outer folds hold back each part in turn: the stacker is fitted on the other parts' first-layer
predictions and predicts the held-back part, and the greedy selection (over every candidate, as deployed) picks its
weights on the other parts and its blend is scored on the held-back part. The stack is used only when its loss is
lower by more than ``STACK_MARGIN``. Three folds: the nested selections cost about twice the full one (five cost
four times, which short budgets cannot pay for on multiclass log loss)."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold

from ..ensembling import greedy_selection
from ..metrics import Metric
from ..stacking import Stacker
from .history import Trial
from .trial import score_predictions

log = logging.getLogger("automl")

STACK_MARGIN = 0.002  # the stack must beat the Caruana ensemble's out-of-fold loss by this share of it
MIN_STACK_MEMBERS = 2  # with one member a stack is only a recalibration of it: not tried
MAX_STACK_MEMBERS = 10  # the stacker's inputs: each family's best, then the best others, at most this many
STACK_FOLDS = 3  # outer folds over the out-of-fold rows (whole groups together under grouped validation)


@dataclass(frozen=True)
class StackChoice:
    """A stack scored out-of-fold: ``members`` (trial ids, the stacker's input order), the ``stacker`` fitted on
    every out-of-fold row (the one deployed), its outer-fold predictions ``oof`` and their ``loss``, and the loss
    of the Caruana ensemble's selection under the same outer folds (``caruana_loss``)."""

    members: tuple[int, ...]
    stacker: Stacker
    oof: np.ndarray
    loss: float
    caruana_loss: float
    folds: int

    @property
    def wins(self) -> bool:
        return self.loss < self.caruana_loss - STACK_MARGIN * max(abs(self.caruana_loss), 1e-12)


@dataclass(frozen=True)
class OofRows:
    """The out-of-fold rows the choice scores on: targets, sample weights (None: unweighted), the task's metric."""

    y: np.ndarray
    sample_weight: np.ndarray | None
    metric: Metric
    task: str
    n_classes: int

    def loss(self, prediction: np.ndarray, at: np.ndarray | None = None) -> float:
        """The metric's loss of ``prediction`` on the rows at positions ``at`` (None: every row)."""
        y, sw = self.y, self.sample_weight
        if at is not None:
            y, sw = y[at], None if sw is None else sw[at]
        return self.metric.to_loss(score_predictions(self.metric, y, prediction, self.task, sw))


def stack_members(candidates: list[int], by_id: dict[int, Trial]) -> list[int]:
    """The stacker's inputs among ``candidates`` (trial ids, best loss first): each family's best, then the others
    by loss, at most ``MAX_STACK_MEMBERS`` (diverse members are what a second layer can combine)."""
    firsts, seen = [], set()
    for i in candidates:
        if by_id[i].family not in seen:
            seen.add(by_id[i].family)
            firsts.append(i)
    rest = [i for i in candidates if i not in firsts]
    return sorted((firsts + rest)[:MAX_STACK_MEMBERS], key=candidates.index)


def outer_folds(rows: OofRows, seed: int, groups: np.ndarray | None = None) -> list[np.ndarray]:
    """Positions (into the out-of-fold rows) of each of ``STACK_FOLDS`` seeded outer folds' held-back part: whole
    ``groups`` together, stratified for classification. Empty when the rows allow no two folds."""
    n = len(rows.y)
    positions = np.arange(n)
    if groups is not None:
        k = min(STACK_FOLDS, len(np.unique(groups)))
        parts = GroupKFold(n_splits=k).split(positions, groups=groups) if k >= 2 else []
    elif rows.task != "regression":
        k = min(STACK_FOLDS, int(np.bincount(rows.y)[np.unique(rows.y)].min()))
        parts = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(positions, rows.y) if k >= 2 else []
    else:
        k = min(STACK_FOLDS, n)
        parts = KFold(n_splits=k, shuffle=True, random_state=seed).split(positions) if k >= 2 else []
    return [held for _, held in parts]


def _out_of_fold(fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray], like: np.ndarray,
                 folds: list[np.ndarray]) -> np.ndarray:
    """Predictions for every position, each from ``fit_predict(train, held)`` fitted on the other folds."""
    out = np.zeros_like(like, dtype=float)
    everything = np.arange(len(like))
    for held in folds:
        out[held] = fit_predict(np.setdiff1d(everything, held), held)
    return out


def caruana_out_of_fold(preds: list[np.ndarray], rows: OofRows, folds: list[np.ndarray],
                        seconds: float | None) -> np.ndarray:
    """The greedy selection's blend for each held-back fold, its weights chosen on the other folds only
    (``seconds``: each selection's time limit, None: none)."""
    def fit_predict(train, held):
        weights, _ = greedy_selection([p[train] for p in preds], lambda q: rows.loss(q, train), seconds=seconds)
        return sum(w * p[held] for w, p in zip(weights, preds))
    return _out_of_fold(fit_predict, preds[0], folds)


def stacker_out_of_fold(preds: list[np.ndarray], rows: OofRows, folds: list[np.ndarray]) -> np.ndarray:
    """The stacker's prediction for each held-back fold, fitted on the other folds' first-layer predictions."""
    sw = rows.sample_weight

    def fit_predict(train, held):
        stacker = Stacker(rows.task, rows.n_classes).fit([p[train] for p in preds], rows.y[train],
                                                        None if sw is None else sw[train])
        return stacker.predict([p[held] for p in preds])
    return _out_of_fold(fit_predict, preds[0], folds)


def choose_stack(candidates: dict[int, np.ndarray], members: list[int], rows: OofRows, folds: list[np.ndarray], *,
                 selection_seconds: float, time_left: Callable[[], float]) -> StackChoice | None:
    """The stack over ``members`` scored under ``folds``, with the loss of the Caruana selection over every one of
    ``candidates`` (trial id -> out-of-fold predictions) under the same folds; None when the time left
    (``time_left()``: seconds for final steps) cannot pay for it (estimated from one stacker fit and
    ``selection_seconds``, the full selection's) or a fit or a score fails (never raises: the search keeps its
    Caruana ensemble)."""
    nested = (len(folds) - 1) * selection_seconds  # (each nested selection runs on (k - 1) / k of the rows)
    if time_left() <= nested:
        log.debug("stacking skipped: %.2f s left, the nested selections take about %.2f s", time_left(), nested)
        return None
    preds = [candidates[i] for i in members]
    started = time.monotonic()
    try:
        stacker = Stacker(rows.task, rows.n_classes).fit(preds, rows.y, rows.sample_weight)
        estimate = nested + len(folds) * (time.monotonic() - started)
        if estimate > time_left():
            log.debug("stacking skipped: estimated %.2f s, %.2f s left", estimate, time_left())
            return None
        limit = None if np.isinf(time_left()) else max(selection_seconds, 0.05)
        caruana_loss = rows.loss(caruana_out_of_fold(list(candidates.values()), rows, folds, seconds=limit))
        oof = stacker_out_of_fold(preds, rows, folds)
        loss = rows.loss(oof)
    except Exception as exc:  # a failed stack keeps the Caruana ensemble (e.g. a metric undefined on a fold's rows)
        log.debug("stacking skipped: %s: %s", type(exc).__name__, exc)
        return None
    used = [j for j, w in enumerate(stacker.weights_) if w > 0] or [0]  # (members at weight 0 change nothing)
    return StackChoice(tuple(members[j] for j in used), stacker.restricted(used), oof, loss, caruana_loss,
                       len(folds))


__all__ = ["StackChoice", "OofRows", "choose_stack", "stack_members", "outer_folds", "caruana_out_of_fold",
           "stacker_out_of_fold", "STACK_MARGIN", "MIN_STACK_MEMBERS"]
