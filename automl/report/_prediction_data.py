"""Figure data about predictions on evaluation rows: label codes, confusion, calibration, residuals and
permutation importance. Pure functions; nothing here trains or draws."""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd


def encode_labels(y: Sequence[Any], classes: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Map labels to the model's class codes; returns (codes, known mask). Labels are matched as given,
    then as text (a CSV may read ``1`` where the model learned ``"1"``)."""
    y = pd.Series(list(y) if not isinstance(y, pd.Series) else y.to_list(), dtype=object)
    classes = list(classes)
    exact = {c: i for i, c in enumerate(classes)}
    codes = y.map(lambda v: exact.get(v, -1) if _hashable(v) else -1).to_numpy(dtype=int)
    if (codes < 0).any():
        as_text = {_label_text(c): i for i, c in enumerate(classes)}
        fallback = y.map(lambda v: as_text.get(_label_text(v), -1)).to_numpy(dtype=int)
        codes = np.where(codes < 0, fallback, codes)
    return codes, codes >= 0


def _hashable(v: Any) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True


def _label_text(v: Any) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def confusion_data(y_codes: Sequence[int], pred_codes: Sequence[int], labels: Sequence[Any]) -> dict:
    """Counts ``matrix[i][j]`` of true class i predicted as j, and the row-normalised rates."""
    k = len(labels)
    y_codes, pred_codes = np.asarray(y_codes, dtype=int), np.asarray(pred_codes, dtype=int)
    matrix = np.zeros((k, k), dtype=int)
    np.add.at(matrix, (y_codes, pred_codes), 1)
    totals = matrix.sum(axis=1, keepdims=True)
    rates = np.divide(matrix, totals, out=np.zeros_like(matrix, dtype=float), where=totals > 0)
    return {"labels": [_label_text(c) for c in labels], "matrix": matrix.tolist(), "rates": rates.tolist(),
            "accuracy": float(np.trace(matrix) / max(1, matrix.sum())), "n": int(matrix.sum())}


def calibration_data(y_codes: Sequence[int], proba: np.ndarray, n_bins: int = 10) -> dict:
    """Reliability curve: binary uses the positive class's probability; multiclass the top-label confidence.

    Returns ``{"kind", "bins": [{"mean_predicted", "observed", "count"}...], "brier"/"ece", "n"}``, empty bins
    left out.
    """
    y_codes = np.asarray(y_codes, dtype=int)
    proba = np.asarray(proba, dtype=float)
    if proba.ndim == 1:
        proba = np.column_stack([1 - proba, proba])
    if proba.shape[1] == 2:
        kind = "positive class"
        conf = proba[:, 1]
        hit = (y_codes == 1).astype(float)
    else:
        kind = "top-label confidence"
        conf = proba.max(axis=1)
        hit = (proba.argmax(axis=1) == y_codes).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    bins = []
    ece = 0.0
    for b in range(n_bins):
        mask = which == b
        if not mask.any():
            continue
        mp, obs = float(conf[mask].mean()), float(hit[mask].mean())
        bins.append({"mean_predicted": mp, "observed": obs, "count": int(mask.sum()),
                     "low": float(edges[b]), "high": float(edges[b + 1])})
        ece += mask.sum() / max(1, len(conf)) * abs(mp - obs)
    out = {"kind": kind, "bins": bins, "ece": float(ece), "n": int(len(conf))}
    if kind == "positive class":
        out["brier"] = float(np.mean((conf - hit) ** 2)) if len(conf) else math.nan
    return out


def residuals_data(y_true: Sequence[float], y_pred: Sequence[float], max_points: int = 5000,
                   seed: int = 0) -> dict:
    """Predicted against actual and residuals (actual - predicted), on at most ``max_points`` rows."""
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    keep = np.isfinite(y_true) & np.isfinite(y_pred)
    y_true, y_pred = y_true[keep], y_pred[keep]
    resid = y_true - y_pred
    out = {"n": int(len(y_true)),
           "rmse": float(np.sqrt(np.mean(resid ** 2))) if len(resid) else math.nan,
           "mae": float(np.mean(np.abs(resid))) if len(resid) else math.nan,
           "bias": float(np.mean(resid)) if len(resid) else math.nan}
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2)) if len(y_true) else 0.0
    out["r2"] = 1.0 - float(np.sum(resid ** 2)) / ss_tot if ss_tot > 0 else math.nan
    if len(y_true) > max_points:
        idx = np.sort(np.random.default_rng(seed).choice(len(y_true), max_points, replace=False))
        y_true, y_pred, resid = y_true[idx], y_pred[idx], resid[idx]
    out.update(actual=y_true.tolist(), predicted=y_pred.tolist(), residual=resid.tolist())
    return out


def permutation_importance(score_fn: Callable[[pd.DataFrame], float], X: pd.DataFrame,
                           columns: Sequence[str] | None = None, *, greater_is_better: bool = True,
                           n_repeats: int = 3, seed: int = 0, time_limit: float | None = 20.0) -> pd.DataFrame:
    """Drop in score when one raw input column is shuffled, mean and std over ``n_repeats`` shuffles.

    ``score_fn(X) -> score`` scores a (possibly shuffled) copy of ``X``. Rounds go over every column
    before the next repeat, so a ``time_limit`` that cuts the work short still leaves every column
    measured at least once whenever one round fits; columns never measured get NaN. Importance is in
    the metric's own units, positive when shuffling hurts. ``frame.attrs`` has the baseline score,
    repeats done and whether time ran out.
    """
    columns = list(columns if columns is not None else X.columns)
    rng = np.random.default_rng(seed)
    start = time.monotonic()
    baseline = float(score_fn(X))
    sign = 1.0 if greater_is_better else -1.0
    drops: dict[str, list[float]] = {c: [] for c in columns}
    out_of_time = False
    for _ in range(max(1, int(n_repeats))):
        for col in columns:
            if time_limit is not None and time.monotonic() - start > time_limit:
                out_of_time = True
                break
            shuffled = X.copy()
            shuffled[col] = X[col].to_numpy()[rng.permutation(len(X))]
            drops[col].append(sign * (baseline - float(score_fn(shuffled))))
        if out_of_time:
            break
    rows = [{"feature": c, "importance": float(np.mean(v)) if v else math.nan,
             "std": float(np.std(v)) if len(v) > 1 else (0.0 if v else math.nan), "repeats": len(v)}
            for c, v in drops.items()]
    frame = pd.DataFrame(rows, columns=["feature", "importance", "std", "repeats"])
    frame = frame.sort_values("importance", ascending=False, kind="stable", na_position="last")
    frame = frame.reset_index(drop=True)
    frame.attrs.update(baseline=baseline, out_of_time=out_of_time, seconds=time.monotonic() - start,
                       n_rows=int(len(X)))
    return frame
