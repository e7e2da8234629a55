"""One trial: fit a configuration on every training fold (at a fidelity), score the validation rows.

Runs inside a worker process. Returns plain data; it also keeps the out-of-fold predictions (for
the ensemble) and saves the fold models to disk (for the final model, the bag of fold models, which
a refit on every row may join: ``refit``) when the trial may enter the ensemble (its loss beats
``keep_below``).
"""
from __future__ import annotations

import time
import traceback
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from ..metrics import Metric
from ..models import REGISTRY
from ..models.boosting import BoostingFit, TrialTimeout
from .validation import subsample


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
            eval_weight: np.ndarray | None = None, soft_deadline: bool = False, iterations: int | None = None):
    """Build and fit one pipeline; a boosting family (``Family.boosting``) early-stops on ``eval_set`` and stops
    boosting at ``end`` (``soft_deadline``: keeping the rounds done, else ``TrialTimeout``).

    Sample weights go to every family whose estimator accepts them (k-NN does not: it fits unweighted;
    validation scores are still weighted). ``iterations`` fixes the family's early-stopped parameter
    (the boosting rounds) for a refit without a validation set.
    """
    family = REGISTRY.get(config["family"])
    model = family.build(family.complete(config, task), task, len(y), n_classes, seed)
    if iterations and family.iterations:
        prefix = f"{model.steps[-1][0]}__" if hasattr(model, "steps") else ""
        model.set_params(**{prefix + family.iterations: max(1, int(iterations))})
    kwargs = _weight_kwargs(model, sample_weight)
    if family.boosting is not None:
        kwargs.update(family.boosting.fit_kwargs(model, BoostingFit(eval_set, eval_weight, end, soft_deadline)))
    model.fit(X, y, **kwargs)
    return model


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


def run_trial(request: dict, data: dict) -> dict:
    """Fit ``request["config"]`` on every training fold at ``request["fidelity"]`` and score it.

    ``request``: trial_id, config, fidelity, seconds, keep_models_dir, and optionally ``keep_below`` (save
    the fold models only when the loss is below it: bounded disk) and ``race`` (the incumbent's per-fold
    losses: the trial stops after a fold when clearly worse, see ``racing``).
    ``data``: X, y, task, metric, splits, seed, sample_weight (optional), split (the user's scheme, optional).
    Returns plain data: status, score, loss, error, fit_seconds, fold_losses, and (unless raced out) the
    out-of-fold predictions (``oof``) and the saved fold models (``models_path``, when ``keep_models_dir``);
    a boosting family adds ``rounds`` (per fold) and ``curve`` (first fold's validation curve).
    """
    if request.get("refit"):
        return refit(request, data)
    from .racing import race_out
    start = time.monotonic()
    end = start + float(request["seconds"])
    X, y, task, metric = data["X"], data["y"], data["task"], data["metric"]
    w = data.get("sample_weight")
    n_classes = int(y.max()) + 1 if task != "regression" else 0
    config, fidelity = request["config"], float(request["fidelity"])
    seed = int(data["seed"])
    shape = (len(y), n_classes) if task != "regression" else (len(y),)
    oof = np.full(shape, np.nan)
    models = []
    valid_rows = []
    fold_losses: list[float] = []
    rounds: list[int] = []
    curve = None
    raced_out = truncated = False
    n_folds = len(data["splits"])
    try:
        boosting = REGISTRY.get(config["family"]).boosting
        for fold, (tr, va) in enumerate(data["splits"]):
            if time.monotonic() > end:
                raise TrialTimeout(f"trial deadline reached after {fold} fold(s)")
            tr = subsample(tr, fidelity, seed + fold, y if task != "regression" else None, data.get("split"))
            Xtr, ytr, Xva, yva = X.iloc[tr], y[tr], X.iloc[va], y[va]
            # a boosting family gets a fair share of the trial's time per fold and keeps the rounds done by its end
            # (a slightly under-trained model instead of a lost trial); other families stop at the trial's end
            soft = boosting is not None
            fold_end = start + (fold + 1) / n_folds * 0.85 * (end - start) if soft else end  # (+ predicting)
            model = fit_one(config, Xtr, ytr, task, n_classes, seed + fold, eval_set=(Xva, yva), end=fold_end,
                            sample_weight=None if w is None else w[tr], eval_weight=None if w is None else w[va],
                            soft_deadline=soft)
            truncated = truncated or (soft and time.monotonic() > fold_end)
            oof[va] = predict_one(model, Xva, task, n_classes)
            models.append(model)
            valid_rows.append(va)
            fold_losses.append(float(metric.to_loss(score_predictions(metric, yva, oof[va], task,
                                                                      None if w is None else w[va]))))
            summary = boosting.rounds(model) if boosting is not None else None
            if summary is not None:
                rounds.append(summary.rounds)
                curve = curve or summary.curve
            if race_out(fold_losses, request.get("race")):
                raced_out = True
                break
        rows = np.concatenate(valid_rows)
        score = score_predictions(metric, y[rows], oof[rows], task, None if w is None else w[rows])
        loss = metric.to_loss(score)
        if not np.isfinite(loss):
            raise ValueError(f"metric is not finite ({score})")
        result = {"status": "ok", "score": float(score), "loss": float(loss), "error": None,
                  "fold_losses": fold_losses}
        if raced_out:
            result["raced_out"] = len(fold_losses)
        else:  # any fidelity: models on a share of the rows still predict their validation rows honestly
            result["oof"] = oof
            keep_below = request.get("keep_below")
            if request.get("keep_models_dir") and (keep_below is None or loss < keep_below):
                path = Path(request["keep_models_dir"]) / f"trial-{request['trial_id']}.joblib"
                joblib.dump(models, path)
                result["models_path"] = str(path)
        if rounds:
            result["rounds"], result["curve"] = rounds, curve
        if truncated:
            result["truncated"] = True
    except TrialTimeout as exc:
        result = {"status": "timeout", "score": None, "loss": None, "error": str(exc)}
    except MemoryError:
        result = {"status": "failed", "score": None, "loss": None, "error": "out of memory (trial memory limit)"}
    except Exception as exc:  # a trial never kills the search: the error becomes a status
        tb = traceback.format_exc(limit=3)
        result = {"status": "failed", "score": None, "loss": None, "error": f"{type(exc).__name__}: {exc}",
                  "traceback": tb}
    result["fit_seconds"] = time.monotonic() - start
    return result


def refit_iterations(rounds: list[int] | None) -> int | None:
    """Boosting rounds for a refit on every row: 1.1 x the mean early-stopped rounds of the trial's folds
    (more rows, a few more rounds); None for a family without early stopping."""
    return int(np.mean(rounds) * 1.1) + 1 if rounds else None


def refit(request: dict, data: dict) -> dict:
    """Fit ``request["config"]`` once on every row (a boosting family with ``request["iterations"]`` rounds, keeping
    the rounds done if the time runs out) and save it to ``keep_models_dir``; used for the final model
    (it replaces the holdout model, or joins the fold models). Returns status, models_path, fit_seconds,
    error."""
    start = time.monotonic()
    end = start + float(request["seconds"])
    X, y, task = data["X"], data["y"], data["task"]
    n_classes = int(y.max()) + 1 if task != "regression" else 0
    try:
        model = fit_one(request["config"], X, y, task, n_classes, int(data["seed"]), end=end,
                        sample_weight=data.get("sample_weight"), soft_deadline=True,
                        iterations=request.get("iterations"))
        if time.monotonic() > end + 0.5:
            raise TrialTimeout("refit deadline reached")
        path = Path(request["keep_models_dir"]) / f"refit-{request['trial_id']}.joblib"
        joblib.dump([model], path)
        result = {"status": "ok", "models_path": str(path), "error": None}
    except TrialTimeout as exc:
        result = {"status": "timeout", "error": str(exc)}
    except Exception as exc:  # the holdout / fold models are used instead
        result = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    result["fit_seconds"] = time.monotonic() - start
    return result
