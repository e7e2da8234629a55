"""Figure data about the search: its trials, the final model's members, the leaderboard and the warm start.

Pure functions from what a fitted model carries to plain dicts and DataFrames; whatever an older model
lacks (keys, times, trials) gives empty data, never an error.
"""
from __future__ import annotations

import json
import math
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from knowledge_base.records import finite_or_none

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


def number(value: Any) -> float:
    """``value`` as a finite float, NaN when it is missing, not a number or not finite."""
    v = finite_or_none(value)
    return math.nan if v is None else v


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
            "fidelity": number(t.get("fidelity", 1.0)),
            "origin": t.get("origin") or "unknown",
            "status": t.get("status") or "ok",
            "score": number(t.get("score")),
            "loss": number(t.get("loss")),
            "fit_seconds": number(t.get("fit_seconds")),
            "error": t.get("error"),
            "started": number(t.get("started")),
            "ended": number(t.get("ended")),
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
        rows.append({"config_id": cid, "weight": number(weight), "family": family or "unknown",
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
        weights[str(cid)] = weights.get(str(cid), 0.0) + number(w)
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
