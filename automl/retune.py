"""Continuous tuning in production (``automl retune``): a challenger searched on new data replaces the saved
model (the champion) only if it scores better on rows of the new data that neither trained on.

The new data is split once (seeded, stratified): a quarter is held out (the latest quarter when the model was
fitted with a time column, whole groups when with a groups column). The challenger is fitted on the rest
with the held-out rows as its validation set (the user-valid scheme: every trial, the ensemble and the decision
threshold are chosen on them); the champion, trained on the old data, predicts the same rows. Both are
scored by the same code and metric; the challenger must be strictly better. A winning challenger is saved as
fitted (not refitted on every row): the model saved is the model that was compared. The challenger's search
starts from the champion's own best configurations (origin ``previous model``), then the knowledge base's.

Cron-safe: nothing is written to the model directory before the decision, and the replacement is the atomic
save of ``automl.persistence`` (one directory swap); a retune interrupted (Ctrl-C, kill) before that swap leaves
the champion as it was, after it the challenger, whole.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .data import class_codes, class_labels, drop_missing_target, encode_target
from .deadline import Deadline
from .drift import DriftReport, model_columns, model_drift, model_profile
from .exceptions import InputError
from .leaderboard import FINAL
from .search.messages import Status
from .metrics import Metric, get_metric
from .search.validation import Kind, SplitOptions, Validation, group_codes, make_splits, time_order
from .table_source import TableSource

log = logging.getLogger("automl")

HELD_OUT_SHARE = 0.25  # of the new rows: the comparison's rows, never trained on by either model
FIRST_CONFIGS = 5  # of the champion's best configurations tried first
ORIGIN = "previous model"


@dataclass(frozen=True)
class RetuneResult:
    replaced: bool
    metric: str
    champion_score: float
    challenger_score: float
    held_out: str  # how the held-out rows were chosen (a protocol: holdout0.25, time-holdout0.25, ...)
    n_train_rows: int
    n_held_out_rows: int
    n_trials: int
    model_dir: Path  # where the model in use now is (the champion's directory when it was kept)
    drift: DriftReport | None
    drift_note: str | None  # why there is no drift report

    def to_dict(self) -> dict:
        return {"replaced": self.replaced, "metric": self.metric, "champion_score": self.champion_score,
                "challenger_score": self.challenger_score, "held_out": self.held_out, "n_train_rows": self.n_train_rows,
                "n_held_out_rows": self.n_held_out_rows, "n_trials": self.n_trials, "model_dir": str(self.model_dir),
                "drift": self.drift.to_dict() if self.drift is not None else None, "drift_note": self.drift_note}


def previous_configs(champion, n: int = FIRST_CONFIGS) -> list[dict]:
    """The champion's ``n`` best distinct configurations (its leaderboard's order) as warm-start suggestions."""
    board = champion.leaderboard_
    trials = board["status"].eq(Status.OK)
    if "kind" in board:  # (not the final model's row: an ensemble is not a configuration to search)
        trials &= board["kind"].ne(FINAL)
    out, seen = [], set()
    for _, row in board[trials].iterrows():
        if row["config_id"] in seen:
            continue
        seen.add(row["config_id"])
        out.append({"config": json.loads(row["config"]), "origin": ORIGIN,
                    "explanation": f"the previous model's #{len(out) + 1}: {champion.metric_} {row['score']:.5g} "
                                   f"on its own data"})
        if len(out) == n:
            break
    return out


def score_on(model, X: pd.DataFrame, y: pd.Series, metric: Metric) -> float:
    """``model``'s ``metric`` on raw rows ``X`` and labels ``y`` (``evaluate``: its predictions as its users get
    them); NaN where the metric is undefined on these rows."""
    value = model.evaluate(X, y).score(metric.name)
    return float("nan") if value is None else float(value)


def held_out_split(y: np.ndarray, task: str, X: pd.DataFrame, groups: pd.Series | None, time_column: str | None,
                   seed: int) -> tuple[Validation, np.ndarray, np.ndarray]:
    """``(scheme, train rows, held-out rows)`` of the new data, in the champion's fit's spirit: the latest rows
    when it was fitted with a time column, whole groups with a groups column, else a stratified random quarter."""
    options = None
    if time_column is not None and time_column in X.columns:
        validation = Validation(Kind.TIME, share=HELD_OUT_SHARE, time_column=time_column)
        options = SplitOptions(times=time_order(X[time_column], time_column), time_column=time_column)
    elif groups is not None:
        validation = Validation(Kind.GROUP, share=HELD_OUT_SHARE, groups_column=str(groups.name))
        options = SplitOptions(groups=group_codes(groups, str(groups.name)), groups_column=str(groups.name))
    else:
        validation = Validation(Kind.HOLDOUT, share=HELD_OUT_SHARE)
    train, held = make_splits(y, task, validation, seed, options)[0]
    return validation, train, held


def _better(metric: Metric, challenger: float, champion: float) -> bool:
    if not np.isfinite(challenger):
        return False
    if not np.isfinite(champion):
        return True
    return metric.to_loss(challenger) < metric.to_loss(champion) - 1e-12 * max(1.0, abs(champion))


def retune(champion, model_dir: str | Path, table: pd.DataFrame, *, target: str | None = None,
           out: str | Path | None = None, time_budget: float = 60.0, deadline: Deadline | None = None,
           seed: int | None = None, max_trials: int | None = None, n_jobs: int = 1,
           knowledge_base: str | None = None, callback=None) -> RetuneResult:
    """Retune ``champion`` (loaded from ``model_dir``) on the new ``table``; save the challenger into ``out`` (default
    ``model_dir``) only if it wins. Ctrl-C before the save raises ``KeyboardInterrupt`` with nothing saved."""
    try:
        result, challenger = _contest(champion, model_dir, table, target=target, out=out, time_budget=time_budget,
                                      deadline=deadline or Deadline(float(time_budget)), seed=seed,
                                      max_trials=max_trials, n_jobs=n_jobs, knowledge_base=knowledge_base,
                                      callback=callback)
    except KeyboardInterrupt:
        log.warning("retune interrupted: the model in %s is unchanged", model_dir)
        raise
    if result.replaced:
        challenger.fit_info_["retune"] = {"replaced_run": getattr(champion, "run_id_", None),
                                          **{k: v for k, v in result.to_dict().items() if k != "model_dir"}}
        challenger.save(result.model_dir)
    return result


def _contest(champion, model_dir, table: pd.DataFrame, *, target, out, time_budget: float, deadline: Deadline,
             seed, max_trials, n_jobs: int, knowledge_base, callback):
    """The drift, the challenger's search and both scores: ``(RetuneResult, challenger)``; nothing is saved."""
    from .estimator import AutoML
    options = (getattr(champion, "fit_info_", None) or {}).get("options") or {}
    target = target or options.get("target")
    if target is None:
        raise InputError("--target is required: the model does not record the column it predicts")
    X, y = model_columns(champion, table, target)
    if y is None:
        raise InputError(f"the new data has no target column {target!r}; retune needs labelled rows")
    if options.get("weight_column"):
        log.warning("retune does not use the weight column %r: every new row weighs the same",
                    options["weight_column"])
    groups = table[options["groups"]].reset_index(drop=True) if options.get("groups") in table.columns else None
    X, y, _ = drop_missing_target(X, y)
    groups = None if groups is None else groups.loc[X.index].reset_index(drop=True)
    X, y = X.reset_index(drop=True), y.reset_index(drop=True)
    task, metric = champion.task_, get_metric(champion.metric_, champion.task_)
    if task != "regression":
        codes = class_codes(y, champion.classes_)
        unknown = sorted({str(v) for v, code in zip(class_labels(y).tolist(), codes) if code < 0})
        if unknown:
            raise InputError(f"the new data has class(es) the model never saw ({', '.join(unknown[:5])}): the two "
                             f"models would not predict the same classes; fit a new model")
    new = encode_target(y, task)  # bad input: one class, not numeric, ...
    drift, drift_note = None, None
    if model_profile(champion) is None:
        drift_note = "the model has no profile of its training data (saved by an older version): no drift figures"
        log.warning(drift_note)
    else:
        drift = model_drift(champion, table, target)
    seed = int(champion.seed if seed is None else seed)
    validation, train, held = held_out_split(new.y, task, X, groups, options.get("time_column"), seed)
    champion_score = score_on(champion, X.iloc[held], y.iloc[held], metric)
    challenger = AutoML(task=task, metric=champion.metric_, time_budget=float(time_budget), n_jobs=n_jobs, seed=seed,
                        warm_start=True, knowledge_base=knowledge_base, strategy="warm", max_trials=max_trials,
                        callback=callback, include=options.get("include"), exclude=options.get("exclude"),
                        time_column=None, drop_columns=options.get("drop_columns"),
                        keep_columns=options.get("keep_columns"), rare_classes=options.get("rare_classes", "drop"))
    challenger.fit(X.iloc[train], y.iloc[train], X_val=X.iloc[held], y_val=y.iloc[held], deadline=deadline,
                   first_configs=previous_configs(champion), source=TableSource(target=target))
    if challenger.fit_info_.get("interrupted"):  # (the search keeps its best so far; retune does not)
        raise KeyboardInterrupt
    challenger_score = score_on(challenger, X.iloc[held], y.iloc[held], metric)
    replaced = _better(metric, challenger_score, champion_score)
    result = RetuneResult(replaced=replaced, metric=metric.name, champion_score=champion_score,
                          challenger_score=challenger_score, held_out=validation.protocol, n_train_rows=len(train),
                          n_held_out_rows=len(held),
                          n_trials=len(challenger.trials_), model_dir=Path(out or model_dir) if replaced
                          else Path(model_dir), drift=drift, drift_note=drift_note)
    return result, challenger
