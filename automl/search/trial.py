"""One trial: fit a configuration on every training fold (at a fidelity), score the validation rows.

Runs inside a worker process: reads a ``TrialRequest``, answers with a ``TrialResult``. It keeps the out-of-fold
predictions (for the ensemble) and saves the fold models to disk (for the final model, the bag of fold models,
which a refit on every row may join: ``refit``) when the trial may enter the ensemble (its loss beats
``keep_below``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from ..metrics import Metric
from ..models import REGISTRY
from ..models.boosting import BoostingFit, TrialTimeout, coded_rows
from .messages import Status, TrialDetails, TrialRequest, TrialResult
from .racing import race_out
from .trial_memory import PeakMeter
from .validation import subsample

BOOSTING_FOLD_SHARE = 0.85  # of a fold's fair share of the trial's time, a boosting fit gets this (+ predicting)
REFIT_ROUNDS_FACTOR = 1.1  # a refit on every row boosts this times the folds' mean early-stopped rounds
REFIT_LATE_SECONDS = 0.5  # a refit finishing later than this past its deadline counts as timed out


def _as_full_proba(model, proba: np.ndarray, n_classes: int) -> np.ndarray:
    classes = np.asarray(getattr(model, "classes_", np.arange(proba.shape[1])), dtype=int)
    if proba.shape[1] == n_classes and np.array_equal(classes, np.arange(n_classes)):
        return proba
    full = np.zeros((proba.shape[0], n_classes))
    full[:, classes] = proba
    return full


def fit_takes(model, name: str) -> bool:
    """Whether the final estimator of ``model`` (a pipeline or a bare estimator) takes ``name`` in ``fit``."""
    import inspect
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    return name in inspect.signature(final.fit).parameters


def _weight_kwargs(model, sample_weight) -> dict:
    if sample_weight is None or not fit_takes(model, "sample_weight"):
        return {}
    if hasattr(model, "steps"):
        return {f"{model.steps[-1][0]}__sample_weight": sample_weight}
    return {"sample_weight": sample_weight}


def fit_one(config: dict, X: pd.DataFrame, y: np.ndarray, task: str, n_classes: int, seed: int,
            eval_set: tuple | None = None, end: float | None = None, sample_weight: np.ndarray | None = None,
            eval_weight: np.ndarray | None = None, soft_deadline: bool = False, iterations: int | None = None,
            categories: dict | None = None):
    """Build and fit one pipeline; a boosting family (``Family.boosting``) early-stops on ``eval_set`` and stops
    boosting at ``end`` (``soft_deadline``: keeping the rounds done, else ``TrialTimeout``).

    Sample weights go to every family whose estimator accepts them (k-NN does not: it fits unweighted;
    validation scores are still weighted). ``iterations`` fixes the family's early-stopped parameter
    (the boosting rounds) for a refit without a validation set. ``categories``: ``X`` and ``eval_set`` are coded
    rows (``fold_rows``); the fitted model reads cleaned tables all the same.
    """
    family = REGISTRY.get(config["family"])
    model = family.build(family.complete(config, task), task, len(y), n_classes, seed)
    if iterations and family.iterations:
        prefix = f"{model.steps[-1][0]}__" if hasattr(model, "steps") else ""
        model.set_params(**{prefix + family.iterations: max(1, int(iterations))})
    kwargs = _weight_kwargs(model, sample_weight)
    fit = BoostingFit(eval_set, eval_weight, end, soft_deadline, categories)
    if family.boosting is not None:
        kwargs.update(family.boosting.fit_kwargs(model, fit))
    model.fit(X, y, **kwargs)
    if family.boosting is not None:
        family.boosting.fitted(model, fit)
    return model


def fold_rows(config: dict, X: pd.DataFrame, rows: np.ndarray | None, eval_rows: np.ndarray | None = None):
    """``(training rows, validation rows or None, categories)`` of the cleaned table ``X`` as ``fit_one`` takes them
    for ``config``'s family: coded rows where the family fits on them (``Boosting.coded``; ``categories`` then set),
    else ``X.iloc[...]`` (``categories`` None). Each is the fold's one copy of those rows; ``rows`` None: every row
    (``X`` itself when it is not coded)."""
    boosting = REGISTRY.get(config["family"]).boosting
    categories = boosting.coded(X) if boosting is not None else None
    if categories is None:
        return X if rows is None else X.iloc[rows], None if eval_rows is None else X.iloc[eval_rows], None
    return (coded_rows(X, np.arange(len(X)) if rows is None else rows),
            None if eval_rows is None else coded_rows(X, eval_rows), categories)


def predict_one(model, X: pd.DataFrame, task: str, n_classes: int) -> np.ndarray:
    if task == "regression":
        return np.asarray(model.predict(X), dtype=float)
    return _as_full_proba(model, np.asarray(model.predict_proba(X), dtype=float), n_classes)


def score_predictions(metric: Metric, y: np.ndarray, pred: np.ndarray, task: str,
                      sample_weight: np.ndarray | None = None) -> float:
    """Metric score of probabilities (classification) or values (regression), weighted when given."""
    if task != "regression" and not metric.needs_proba:
        return metric.score(y, pred.argmax(axis=1), sample_weight=sample_weight)
    return metric.score(y, pred, sample_weight=sample_weight)


@dataclass
class _Folds:
    """What a trial gathers fold by fold (out-of-fold predictions, fold models, losses, a boosting family's rounds)."""

    oof: np.ndarray
    models: list = field(default_factory=list)
    valid_rows: list = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    rounds: list[int] = field(default_factory=list)
    curve: tuple | None = None
    truncated: bool = False
    raced_out: bool = False
    predict_seconds: float = 0.0  # the fold models predicting their validation rows
    fit_rows: list[int] = field(default_factory=list)


def run_trial(request: TrialRequest, data: dict) -> TrialResult:
    """Fit ``request.config`` on every training fold at ``request.fidelity`` and score it (with ``request.refit``:
    ``refit``). ``request.keep_below``: save the fold models only when the loss is below it (bounded disk);
    ``request.race``: the incumbent's per-fold losses (the trial stops after a fold when clearly worse, see
    ``racing``). ``data``: X, y, task, metric, splits, seed, sample_weight (optional), split (the user's scheme,
    optional). A trial never raises: its errors become a failed or timed-out result."""
    if request.refit:
        return refit(request, data)
    start = time.monotonic()
    try:
        return _evaluate(request, data, start)
    except TrialTimeout as exc:
        return TrialResult.failed(str(exc), time.monotonic() - start, Status.TIMEOUT)
    except MemoryError:
        return TrialResult.failed("out of memory (trial memory limit)", time.monotonic() - start)
    except Exception as exc:  # a trial never kills the search: the error becomes a status
        return TrialResult.failed(f"{type(exc).__name__}: {exc}", time.monotonic() - start)


def run_measured(request: TrialRequest, data: dict) -> TrialResult:
    """``run_trial`` in a worker process that runs one job at a time, with the job's peak memory
    (``TrialDetails.peak_bytes``: the search's memory plan learns from it)."""
    with PeakMeter() as meter:
        result = run_trial(request, data)
    return replace(result, details=replace(result.details, peak_bytes=meter.peak_bytes))


def _evaluate(request: TrialRequest, data: dict, start: float) -> TrialResult:
    """``run_trial``'s work: the folds, the score on every validation row, the kept models."""
    X, y, task, metric = data["X"], data["y"], data["task"], data["metric"]
    w = data.get("sample_weight")
    n_classes = int(y.max()) + 1 if task != "regression" else 0
    folds = _Folds(oof=np.full((len(y), n_classes) if task != "regression" else (len(y),), np.nan))
    end = start + float(request.seconds)
    n_folds = len(data["splits"])
    boosting = REGISTRY.get(request.config["family"]).boosting
    # a boosting family gets a fair share of the trial's time per fold and keeps the rounds done by its end
    # (a slightly under-trained model instead of a lost trial); other families stop at the trial's end, and so does
    # every family in a deterministic trial (its score may not depend on the machine's speed)
    soft = boosting is not None and not request.deterministic
    for fold, (tr, va) in enumerate(data["splits"]):
        if time.monotonic() > end:
            raise TrialTimeout(f"trial deadline reached after {fold} fold(s)")
        fold_end = start + (fold + 1) / n_folds * BOOSTING_FOLD_SHARE * (end - start) if soft else end
        _run_fold(request, data, fold, tr, va, folds, fold_end, boosting, soft, n_classes)
        if race_out(folds.losses, request.race):
            folds.raced_out = True
            break
    rows = np.concatenate(folds.valid_rows)
    score = score_predictions(metric, y[rows], folds.oof[rows], task, None if w is None else w[rows])
    loss = metric.to_loss(score)
    if not np.isfinite(loss):
        raise ValueError(f"metric is not finite ({score})")
    details = TrialDetails(fold_losses=tuple(folds.losses), raced_out=len(folds.losses) if folds.raced_out else None,
                           rounds=tuple(folds.rounds) or None, curve=folds.curve if folds.rounds else None,
                           truncated=folds.truncated, predict_seconds_per_row=folds.predict_seconds / len(rows),
                           fit_rows=int(np.mean(folds.fit_rows)))
    oof = models_path = None
    if not folds.raced_out:  # any fidelity: models on a share of the rows still predict their validation rows honestly
        oof = folds.oof
        if request.keep_models_dir and (request.keep_below is None or loss < request.keep_below):
            path = Path(request.keep_models_dir) / f"trial-{request.trial_id}.joblib"
            joblib.dump(folds.models, path)
            models_path = str(path)
    return TrialResult(status=Status.OK, score=float(score), loss=float(loss), details=details, oof=oof,
                       models_path=models_path, fit_seconds=time.monotonic() - start)


def _run_fold(request: TrialRequest, data: dict, fold: int, tr: np.ndarray, va: np.ndarray, folds: _Folds,
              fold_end: float, boosting, soft: bool, n_classes: int) -> None:
    """Fit fold ``fold`` (its training rows ``tr`` subsampled to the request's fidelity), predict its validation
    rows ``va`` and add what it gave to ``folds``; ``boosting``: the family's ``Family.boosting`` (None: none);
    ``soft``: the fit keeps the rounds done at ``fold_end`` (else it times out there)."""
    X, y, task, metric, seed = data["X"], data["y"], data["task"], data["metric"], int(data["seed"])
    w = data.get("sample_weight")
    tr = subsample(tr, float(request.fidelity), seed + fold, y if task != "regression" else None, data.get("split"))
    Xtr, Xev, categories = fold_rows(request.config, X, tr, va)
    yva = y[va]
    model = fit_one(request.config, Xtr, y[tr], task, n_classes, seed + fold, eval_set=(Xev, yva), end=fold_end,
                    sample_weight=None if w is None else w[tr], eval_weight=None if w is None else w[va],
                    soft_deadline=soft, categories=categories)
    del Xtr
    Xva = Xev if categories is None else X.iloc[va]  # (the fitted model reads tables, not coded rows)
    del Xev
    folds.truncated = folds.truncated or (soft and time.monotonic() > fold_end)
    started = time.process_time()  # (CPU seconds of this process: other processes' load does not inflate them)
    folds.oof[va] = predict_one(model, Xva, task, n_classes)
    folds.predict_seconds += time.process_time() - started
    folds.fit_rows.append(len(tr))
    folds.models.append(model)
    folds.valid_rows.append(va)
    folds.losses.append(float(metric.to_loss(score_predictions(metric, yva, folds.oof[va], task,
                                                               None if w is None else w[va]))))
    summary = boosting.rounds(model) if boosting is not None else None
    if summary is not None:
        folds.rounds.append(summary.rounds)
        folds.curve = folds.curve or (None if summary.curve is None else tuple(map(tuple, summary.curve)))


def refit_iterations(rounds: tuple[int, ...] | None) -> int | None:
    """Boosting rounds for a refit on every row: ``REFIT_ROUNDS_FACTOR`` x the mean early-stopped rounds of the
    trial's folds (more rows, a few more rounds); None for a family without early stopping."""
    return int(np.mean(rounds) * REFIT_ROUNDS_FACTOR) + 1 if rounds else None


def refit(request: TrialRequest, data: dict) -> TrialResult:
    """Fit ``request.config`` once on every row (a boosting family with ``request.iterations`` rounds, keeping the
    rounds done if the time runs out, unless ``request.deterministic``: then it times out) and save it to
    ``request.keep_models_dir``; used for the final model (it replaces the holdout model, or joins the fold
    models). Its result holds the status, ``models_path`` and error."""
    start = time.monotonic()
    end = start + float(request.seconds)
    X, y, task = data["X"], data["y"], data["task"]
    n_classes = int(y.max()) + 1 if task != "regression" else 0
    try:
        Xfit, _, categories = fold_rows(request.config, X, None)
        model = fit_one(request.config, Xfit, y, task, n_classes, int(data["seed"]), end=end, categories=categories,
                        sample_weight=data.get("sample_weight"), soft_deadline=not request.deterministic,
                        iterations=request.iterations)
        del Xfit
        if time.monotonic() > end + REFIT_LATE_SECONDS:
            raise TrialTimeout("refit deadline reached")
        path = Path(request.keep_models_dir) / f"refit-{request.trial_id}.joblib"
        joblib.dump([model], path)
    except TrialTimeout as exc:
        return TrialResult.failed(str(exc), time.monotonic() - start, Status.TIMEOUT)
    except Exception as exc:  # the holdout / fold models are used instead
        return TrialResult.failed(f"{type(exc).__name__}: {exc}", time.monotonic() - start)
    return TrialResult(status=Status.OK, models_path=str(path), fit_seconds=time.monotonic() - start)
