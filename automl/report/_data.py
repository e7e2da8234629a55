"""Figure data: pure functions from trials, predictions and tables to plain dicts and DataFrames.

Nothing here draws or trains. Every function tolerates what older models and models without a
search history lack (missing keys, missing times, no trials at all): it returns empty data, and
the renderers and the HTML say so instead of failing.
"""
from __future__ import annotations

import json
import math
import time
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd

# The search's origins (automl/search/history.py: kb | portfolio | default | surrogate | random | promoted | early),
# in legend order, with the label and colour every figure uses.
ORIGINS: dict[str, tuple[str, str]] = {
    "kb": ("knowledge base", "#1b9e77"),
    "portfolio": ("portfolio", "#7570b3"),
    "default": ("portfolio", "#7570b3"),
    "surrogate": ("surrogate", "#d95f02"),
    "random": ("random", "#e7298a"),
    "promoted": ("promoted (higher fidelity)", "#66a61e"),
    "early": ("early (in the driver, while the workers start)", "#e6ab02"),
}
UNKNOWN_ORIGIN = ("other", "#777777")

TRIAL_COLUMNS = ["trial_id", "config_id", "family", "fidelity", "origin", "status", "score", "loss",
                 "fit_seconds", "error", "started", "ended", "time"]


def origin_label(origin: Any) -> str:
    return ORIGINS.get(str(origin), UNKNOWN_ORIGIN)[0] if origin is not None else UNKNOWN_ORIGIN[0]


def origin_colour(origin: Any) -> str:
    return ORIGINS.get(str(origin), UNKNOWN_ORIGIN)[1] if origin is not None else UNKNOWN_ORIGIN[1]


def _num(value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) else math.nan


# --------------------------------------------------------------------------- trials
def trials_frame(trials: Iterable[Any] | None) -> pd.DataFrame:
    """One row per trial with the columns in ``TRIAL_COLUMNS``, whatever version wrote the trials.

    ``time`` is the trial's end in seconds since the search began (``ended``); when the trials carry
    no times (older models) it is the running sum of ``fit_seconds`` in submission order, and
    ``frame.attrs["time_axis"]`` says which.
    """
    rows = []
    for i, t in enumerate(trials or []):
        if not isinstance(t, dict):
            t = dict(vars(t)) if hasattr(t, "__dict__") else {}
        config = t.get("config") if isinstance(t.get("config"), dict) else {}
        rows.append({
            "trial_id": t.get("trial_id", i),
            "config_id": t.get("config_id"),
            "family": t.get("family") or config.get("family") or "unknown",
            "fidelity": _num(t.get("fidelity", 1.0)),
            "origin": t.get("origin") or "unknown",
            "status": t.get("status") or "ok",
            "score": _num(t.get("score")),
            "loss": _num(t.get("loss")),
            "fit_seconds": _num(t.get("fit_seconds")),
            "error": t.get("error"),
            "started": _num(t.get("started")),
            "ended": _num(t.get("ended")),
        })
    frame = pd.DataFrame(rows, columns=TRIAL_COLUMNS[:-1])
    frame["fidelity"] = frame["fidelity"].fillna(1.0)
    has_times = len(frame) > 0 and frame["ended"].notna().all() and (frame["ended"] > 0).any()
    if has_times:
        frame["time"] = frame["ended"]
        frame.attrs["time_axis"] = "seconds since the search began"
    else:
        frame["time"] = frame["fit_seconds"].fillna(0.0).cumsum()
        frame.attrs["time_axis"] = "cumulative trial seconds"
    return frame


def _ok(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[(frame["status"] == "ok") & frame["score"].notna()]


def _loss_of(frame: pd.DataFrame, greater_is_better: bool | None) -> pd.Series:
    """The trials' loss (lower is better); derived from the score when an older model lacks it."""
    loss = frame["loss"]
    if loss.notna().all():
        return loss
    sign = -1.0 if greater_is_better or greater_is_better is None else 1.0
    return loss.fillna(frame["score"] * sign)


def anytime_curve(trials: Iterable[Any] | None, greater_is_better: bool | None = None) -> dict:
    """Best validation score against time, and every trial as a point.

    Returns ``{"points": [...], "failed": [...], "best": [{"time", "score", "config_id", "family"}...],
    "full_fidelity", "time_axis", "time_to_best", "final_best", "n_trials"}``. The running best counts
    only trials at the highest fidelity (lower fidelities score on less data and are not comparable);
    points carry their fidelity so the figure can show it.
    """
    frame = trials_frame(trials)
    out: dict[str, Any] = {"points": [], "failed": [], "best": [], "full_fidelity": None,
                           "time_axis": frame.attrs.get("time_axis"), "time_to_best": None, "final_best": None,
                           "n_trials": int(len(frame))}
    if frame.empty:
        return out
    ok = _ok(frame).sort_values("time", kind="stable")
    bad = frame[frame["status"] != "ok"]
    out["failed"] = [{"time": float(r.time), "status": str(r.status), "family": str(r.family),
                      "origin": str(r.origin)} for r in bad.itertuples()]
    out["points"] = [{"time": float(r.time), "score": float(r.score), "fidelity": float(r.fidelity),
                      "origin": str(r.origin), "family": str(r.family), "config_id": r.config_id}
                     for r in ok.itertuples()]
    if ok.empty:
        return out
    full = float(ok["fidelity"].max())
    out["full_fidelity"] = full
    top = ok[np.isclose(ok["fidelity"], full)].copy()
    top["loss_"] = _loss_of(top, greater_is_better)
    best_loss = math.inf
    for r in top.itertuples():
        if r.loss_ < best_loss - 1e-12:
            best_loss = r.loss_
            out["best"].append({"time": float(r.time), "score": float(r.score), "config_id": r.config_id,
                                "family": str(r.family), "origin": str(r.origin)})
    out["time_to_best"] = out["best"][-1]["time"]
    out["final_best"] = out["best"][-1]["score"]
    return out


def family_scores(trials: Iterable[Any] | None, greater_is_better: bool | None = None) -> pd.DataFrame:
    """Per model family: trials, finished, failed, best and median score at the highest fidelity, seconds.

    Sorted best family first; empty (with the columns) when there are no trials.
    """
    columns = ["family", "n_trials", "n_ok", "n_failed", "best_score", "median_score", "n_full_fidelity",
               "fit_seconds"]
    frame = trials_frame(trials)
    if frame.empty:
        return pd.DataFrame(columns=columns)
    ok = _ok(frame)
    full = float(ok["fidelity"].max()) if len(ok) else 1.0
    top = ok[np.isclose(ok["fidelity"], full)].copy()
    top["_loss"] = _loss_of(top, greater_is_better)
    rows = []
    for family, group in frame.groupby("family", sort=True):
        g_top = top[top["family"] == family]
        best_row = g_top.loc[g_top["_loss"].idxmin()] if len(g_top) else None
        rows.append({
            "family": family,
            "n_trials": int(len(group)),
            "n_ok": int((group["status"] == "ok").sum()),
            "n_failed": int((group["status"] != "ok").sum()),
            "best_score": float(best_row["score"]) if best_row is not None else math.nan,
            "median_score": float(g_top["score"].median()) if len(g_top) else math.nan,
            "n_full_fidelity": int(len(g_top)),
            "fit_seconds": float(group["fit_seconds"].fillna(0).sum()),
            "_best_loss": float(best_row["_loss"]) if best_row is not None else math.inf,
        })
    out = pd.DataFrame(rows).sort_values(["_best_loss", "family"], kind="stable").drop(columns="_best_loss")
    out.attrs["full_fidelity"] = full
    return out.reset_index(drop=True)[columns]


def family_score_points(trials: Iterable[Any] | None) -> pd.DataFrame:
    """Every finished trial's (family, score, fidelity, origin): the strip plot behind ``family_scores``."""
    frame = _ok(trials_frame(trials))
    return frame[["family", "score", "fidelity", "origin"]].reset_index(drop=True)


def ensemble_members(ensemble: Sequence[Any] | None, trials: Iterable[Any] | None,
                     best_config: dict | None = None) -> pd.DataFrame:
    """The final model's members: config_id, weight, family, validation score at the highest fidelity."""
    frame = trials_frame(trials)
    ok = _ok(frame)
    rows = []
    for member in ensemble or []:
        if isinstance(member, dict):
            cid, weight = member.get("config_id"), member.get("weight")
        else:
            cid, weight = (list(member) + [None, None])[:2]
        match = ok[ok["config_id"] == cid]
        if len(match):
            match = match[match["fidelity"] == match["fidelity"].max()]
        family = (match["family"].iloc[0] if len(match) else
                  (best_config or {}).get("family") if len(ensemble or []) == 1 else None)
        rows.append({"config_id": cid, "weight": _num(weight), "family": family or "unknown",
                     "score": float(match["score"].iloc[0]) if len(match) else math.nan})
    return pd.DataFrame(rows, columns=["config_id", "weight", "family", "score"])


def leaderboard_frame(leaderboard: pd.DataFrame | list | None, ensemble: Sequence[Any] | None = None,
                      limit: int = 25) -> pd.DataFrame:
    """The leaderboard's first ``limit`` rows with an ``ensemble_weight`` column (0 for non-members)."""
    if leaderboard is None:
        return pd.DataFrame()
    board = leaderboard.copy() if isinstance(leaderboard, pd.DataFrame) else pd.DataFrame(list(leaderboard))
    if board.empty:
        return board
    weights: dict[str, float] = {}
    for member in ensemble or []:
        cid, w = (member.get("config_id"), member.get("weight")) if isinstance(member, dict) else tuple(member)[:2]
        weights[str(cid)] = weights.get(str(cid), 0.0) + _num(w)
    if "config_id" in board.columns:
        board["ensemble_weight"] = board["config_id"].map(lambda c: weights.get(str(c), 0.0))
        # a member is one (config, full fidelity) trial: only mark its best row
        if "fidelity" in board.columns:
            full = pd.to_numeric(board["fidelity"], errors="coerce").max()
            board.loc[pd.to_numeric(board["fidelity"], errors="coerce") != full, "ensemble_weight"] = 0.0
    if board.index.name != "rank":
        board.index = pd.RangeIndex(1, len(board) + 1, name="rank")
    return board.head(limit)


def config_summary(config: Any, width: int = 90) -> str:
    """A short one-line view of a configuration's hyperparameters (without the family)."""
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except ValueError:
            return config[:width]
    if not isinstance(config, dict):
        return ""
    parts = []
    for key in sorted(k for k in config if k != "family"):
        value = config[key]
        if isinstance(value, float):
            value = f"{value:.3g}"
        parts.append(f"{key}={value}")
    text = ", ".join(parts)
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def neighbours_frame(neighbours: Sequence[Any] | None) -> pd.DataFrame:
    """The past datasets the warm start came from, nearest first, as flat columns (no meta-feature vectors)."""
    preferred = ["name", "fingerprint", "task", "n_rows", "n_features", "distance", "source"]
    rows = []
    for n in neighbours or []:
        if not isinstance(n, dict):
            n = dict(vars(n)) if hasattr(n, "__dict__") else {"name": str(n)}
        flat = {k: v for k, v in n.items() if not isinstance(v, (dict, list, tuple))}
        dataset = n.get("dataset")  # a nested record, if the store returns one
        if isinstance(dataset, dict):
            for k, v in dataset.items():
                if not isinstance(v, (dict, list, tuple)):
                    flat.setdefault(k, v)
        rows.append(flat)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    cols = [c for c in preferred if c in frame.columns] + [c for c in frame.columns if c not in preferred]
    frame = frame[cols]
    if "distance" in frame.columns:
        frame = frame.sort_values("distance", kind="stable", na_position="last")
    return frame.reset_index(drop=True)


def warm_start_trials(trials: Iterable[Any] | None, suggestions: Sequence[dict] | None) -> pd.DataFrame:
    """The warm-start configurations, where each came from, and how each scored in this fit."""
    frame = trials_frame(trials)
    rows = []
    for s in suggestions or []:
        config = s.get("config") or {}
        try:
            from knowledge_base.canonical import config_id
            cid = config_id(config)
        except Exception:  # an older or foreign configuration: match by family only
            cid = None
        match = frame[(frame["config_id"] == cid) & (frame["status"] == "ok")] if cid else frame.iloc[0:0]
        best = match.loc[match["fidelity"].idxmax()] if len(match) else None
        rows.append({"family": config.get("family", "unknown"), "config_id": cid,
                     "origin": origin_label(s.get("origin", "kb")), "explanation": s.get("explanation") or "",
                     "score": float(best["score"]) if best is not None else math.nan,
                     "fidelity": float(best["fidelity"]) if best is not None else math.nan})
    return pd.DataFrame(rows, columns=["family", "config_id", "origin", "explanation", "score", "fidelity"])


# --------------------------------------------------------------------------- predictions
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


# --------------------------------------------------------------------------- knowledge base
SIZE_BUCKETS = [(0, 1_000, "< 1k rows"), (1_000, 10_000, "1k-10k rows"), (10_000, 100_000, "10k-100k rows"),
                (100_000, math.inf, ">= 100k rows")]


def size_bucket(n_rows: Any) -> str:
    n = _num(n_rows)
    if math.isnan(n):
        return "unknown size"
    for low, high, label in SIZE_BUCKETS:
        if low <= n < high:
            return label
    return "unknown size"


def kb_overview(datasets: pd.DataFrame) -> pd.DataFrame:
    """Datasets counted by task (rows) and size bucket (columns), with totals."""
    order = [b[2] for b in SIZE_BUCKETS] + ["unknown size"]
    if datasets is None or datasets.empty:
        return pd.DataFrame(columns=order + ["total"])
    datasets = datasets.reset_index(drop=True)
    frame = pd.DataFrame({"task": datasets.get("task", pd.Series(["unknown"] * len(datasets))).fillna("unknown"),
                          "size": datasets.get("n_rows", pd.Series([None] * len(datasets))).map(size_bucket)})
    table = pd.crosstab(frame["task"], frame["size"])
    table = table.reindex(columns=[c for c in order if c in table.columns])
    table["total"] = table.sum(axis=1)
    table.index.name = "task"
    table.columns.name = None
    return table


def _robust_scaler(names: Sequence[str], matrix: np.ndarray):
    """The meta-feature package's robust scaling (the one the store's distances use), so the map agrees
    with the neighbours."""
    from metafeatures import RobustScaler
    return RobustScaler.fit(list(names), matrix)


def metafeature_map(datasets: pd.DataFrame, feature_names: Sequence[str], new: dict | None = None,
                    neighbours: Sequence[str] | None = None) -> dict:
    """A 2-D PCA map of the meta-feature space: one point per dataset, plus a new dataset when given.

    ``datasets``: one row per dataset with ``fingerprint``, ``task``, ``n_rows`` (optional ``name``) and the
    meta-feature columns ``feature_names``. ``new``: the new dataset's meta-features; ``neighbours``:
    fingerprints to highlight. Returns points, the new point, explained variance and the loadings' top
    meta-features per axis. Fewer than 3 datasets or usable meta-features give an empty map with a reason.
    """
    out: dict[str, Any] = {"points": [], "new": None, "explained": [], "axes": [[], []], "reason": None,
                           "neighbours": list(neighbours or [])}
    names = [f for f in feature_names if f in (datasets.columns if datasets is not None else [])]
    if datasets is None or len(datasets) < 3 or len(names) < 2:
        out["reason"] = (f"a map needs at least 3 datasets with meta-features; the knowledge base has "
                         f"{0 if datasets is None else len(datasets)}")
        return out
    values = datasets[names].apply(pd.to_numeric, errors="coerce").replace([np.inf, -np.inf], np.nan)
    scaler = _robust_scaler(names, values.to_numpy(dtype=float))
    Z = scaler.transform(values.to_numpy(dtype=float))
    varying = Z.std(axis=0) > 1e-12
    if varying.sum() < 2:
        out["reason"] = "fewer than two meta-features vary between the datasets"
        return out
    centre = Z.mean(axis=0)
    _, s, vt = np.linalg.svd(Z - centre, full_matrices=False)
    comps = vt[:2]
    comps = comps * np.where(comps[np.arange(2), np.abs(comps).argmax(axis=1)] < 0, -1.0, 1.0)[:, None]
    coords = (Z - centre) @ comps.T
    var = s ** 2
    out["explained"] = (var[:2] / var.sum()).tolist() if var.sum() > 0 else [0.0, 0.0]
    cols = list(names)
    out["axes"] = [[cols[j] for j in np.argsort(-np.abs(comps[a]))[:3]] for a in range(2)]
    neigh = set(out["neighbours"])
    records = datasets.reset_index(drop=True).reindex(columns=["fingerprint", "name", "task", "n_rows"])
    for i, rec in enumerate(records.astype(object).where(records.notna(), None).to_dict("records")):
        fp = rec.get("fingerprint")
        out["points"].append({"x": float(coords[i, 0]), "y": float(coords[i, 1]), "fingerprint": fp,
                              "name": rec.get("name"), "task": rec.get("task") or "unknown",
                              "n_rows": rec.get("n_rows"), "neighbour": fp in neigh})
    if new is not None:
        z = scaler.vector({c: _num(new.get(c)) for c in names})
        xy = (z - centre) @ comps.T
        out["new"] = {"x": float(xy[0]), "y": float(xy[1])}
    return out


def winning_families(evaluations: pd.DataFrame, datasets: pd.DataFrame | None = None) -> pd.DataFrame:
    """The best family on each past dataset (finished evaluations at the highest fidelity, per metric).

    Returns one row per (dataset, metric): fingerprint, metric, family, score, task, size.
    """
    columns = ["fingerprint", "metric", "family", "score", "task", "size"]
    needed = {"fingerprint", "family", "loss"}
    if evaluations is None or evaluations.empty or not needed <= set(evaluations.columns):
        return pd.DataFrame(columns=columns)
    ev = evaluations.copy()
    if "status" in ev.columns:
        ev = ev[ev["status"].fillna("ok") == "ok"]
    ev["loss"] = pd.to_numeric(ev["loss"], errors="coerce")
    ev = ev[ev["loss"].notna()]
    if "metric" not in ev.columns:
        ev["metric"] = "unknown"
    if "fidelity" in ev.columns:
        ev["fidelity"] = pd.to_numeric(ev["fidelity"], errors="coerce").fillna(1.0)
        top = ev.groupby(["fingerprint", "metric"])["fidelity"].transform("max")
        ev = ev[np.isclose(ev["fidelity"], top)]
    if ev.empty:
        return pd.DataFrame(columns=columns)
    best = ev.loc[ev.groupby(["fingerprint", "metric"])["loss"].idxmin()]
    out = pd.DataFrame({"fingerprint": best["fingerprint"].to_numpy(), "metric": best["metric"].to_numpy(),
                        "family": best["family"].fillna("unknown").to_numpy(),
                        "score": pd.to_numeric(best["score"], errors="coerce").to_numpy()
                        if "score" in best.columns else np.nan})
    if datasets is not None and not datasets.empty and "fingerprint" in datasets.columns:
        info = datasets.drop_duplicates("fingerprint").set_index("fingerprint")
        out["task"] = out["fingerprint"].map(info["task"]) if "task" in info.columns else "unknown"
        out["size"] = out["fingerprint"].map(info["n_rows"]).map(size_bucket) if "n_rows" in info.columns \
            else "unknown size"
    else:
        out["task"], out["size"] = "unknown", "unknown size"
    out["task"] = out["task"].fillna("unknown")
    return out[columns].sort_values(["task", "fingerprint", "metric"], kind="stable").reset_index(drop=True)


def wins_table(wins: pd.DataFrame, by: str = "task") -> pd.DataFrame:
    """How many past datasets each family won, by ``task`` or ``size`` (families as rows)."""
    if wins is None or wins.empty:
        return pd.DataFrame()
    # one winner per dataset: when a dataset has several metrics, count each metric's winner once
    table = pd.crosstab(wins["family"], wins[by])
    if by == "size":
        order = [b[2] for b in SIZE_BUCKETS] + ["unknown size"]
        table = table.reindex(columns=[c for c in order if c in table.columns])
    table["total"] = table.sum(axis=1)
    table = table.sort_values("total", ascending=False, kind="stable")
    table.index.name = "family"
    table.columns.name = None
    return table
