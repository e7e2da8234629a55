"""The steps of ``fit``, in the order the data flows through them (``docs/architecture.md``): the table checked
and prepared -> its meta-features and the knowledge base's warm start -> the search on the validation scheme
-> the final model -> the fit's record -> the write-back. :func:`fit` runs them for the estimators; each step
sets the learned attributes (ending in ``_``) it produces on the estimator it is given.
"""
from __future__ import annotations

import dataclasses
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from . import data as data_mod
from . import leaderboard as board_mod
from . import rare_classes as rare_mod
from .deadline import Deadline
from .exceptions import InputError
from .metrics import Metric, get_metric
from .params import allowed_families, check_params, check_sample_weight, row_values
from .prepare import PreparedTable, prepare
from .search import budget as budget_mod
from .search.messages import FINISHED
from .table_source import HandedOver
from .timing import PhaseClock
from .versions import library_versions
from .warm_start import WarmStart, warm_start_for_fit
from .write_back import write_back

if TYPE_CHECKING:
    from .estimator import AutoMLBase
    from .search import SearchProblem, SearchResult
    from .search.validation import SplitOptions
    from .table_source import TableSource
    from .trial_budget import TrialBudget

log = logging.getLogger("automl")


@dataclass(frozen=True)
class SearchRun:
    """The search's result and what the fit decided around it, for the fit's record."""

    result: "SearchResult"
    strategy: str  # the strategy run ("bo" for "warm" without the warm start)
    n_jobs: int  # worker processes, ``n_jobs`` resolved
    n_features: int  # columns of the cleaned training table


def fit(est: "AutoMLBase", X, y, *, task: str | None, deadline: Deadline | None = None, resume=None,
        sample_weight=None, X_val=None, y_val=None, groups=None, first_configs: Sequence[dict] = (),
        source: "TableSource | None" = None, startup_clock: PhaseClock | None = None) -> "AutoMLBase":
    """Fit ``est`` on ``(X, y)`` (the estimators' ``fit`` documents the arguments); returns ``est``."""
    check_params(est)
    started_at = datetime.now(timezone.utc)
    deadline = deadline or Deadline(float(est.time_budget))
    clock = startup_clock or PhaseClock()
    from .search.runner import warm_up
    warm_up()  # the worker processes' imports overlap with validation, meta-features and retrieval
    name = target_name(y)
    table = prepare_table(est, X, y, task, sample_weight=sample_weight, groups=groups, validated=X_val is not None)
    metric = get_metric(est.metric, est.task_)
    est.metric_ = metric.name
    clock.lap("encode")
    est.families_, est.excluded_steps_ = allowed_families(est.include, est.exclude)
    retrieve = bool(est.warm_start and est.strategy == "warm")
    warm = warm_start_for_fit(table, name, describe=bool(est.write_back) or retrieve, retrieve=retrieve,
                              open_store=est._open_kb, metric=est.metric_, families=est.families_, clock=clock,
                              budget=trial_budget(est, len(table.y), user_rows=X_val is not None))
    suggestions = [*first_configs, *warm.search_suggestions()]  # (the search drops excluded steps)
    est.profile_ = training_profile(table, warm)
    problem = dataclasses.replace(search_problem(est, table, metric, X_val, y_val), cost_prior=warm.cost_prior)
    table = table.without_rows()  # the search owns the rows now (and swaps them for its mapped file): no copy stays
    run = run_search(est, problem, table, suggestions, warm.search_prior(), resume=resume, deadline=deadline,
                     clock=clock)
    kept_previous = adopt_result(est, run.result, table, metric, resume=resume, warm=warm, suggestions=suggestions)
    est.fit_info_ = fit_record(est, run, table, warm, started_at=started_at, deadline=deadline, clock=clock,
                               resume=resume, kept_previous=kept_previous, source=source)
    est.n_evaluations_written_ = write_back(est, warm, started_at) if est.write_back else 0
    return est


def trial_budget(est: "AutoMLBase", n_rows: int, *, user_rows: bool) -> "TrialBudget | None":
    """What one trial of this fit may take (``automl.trial_budget``), by its time budget; None in ``max_trials``
    mode, where every trial runs whatever it costs."""
    if est.max_trials is not None:
        return None
    from .trial_budget import TrialBudget
    return TrialBudget.for_fit(float(est.time_budget), n_rows, user_rows=user_rows)


def target_name(y) -> str | None:
    """The target's name for the table's lineage: a Series' (or one-column frame's) name, None for an
    unnamed array (fits of unnamed targets with the same columns and task then share a lineage)."""
    if isinstance(y, pd.DataFrame):
        return str(y.columns[0]) if y.shape[1] == 1 else None
    name = y.name if isinstance(y, pd.Series) else None
    return None if name is None else str(name)


def prepare_table(est: "AutoMLBase", X, y, task: str | None, *, sample_weight, groups,
                  validated: bool) -> PreparedTable:
    """The training rows checked and prepared (``automl.prepare``: ``validated`` when the user gives validation
    rows). Sets what the input and its preparation tell: ``n_features_in_`` (and ``feature_names_in_``),
    ``task_``, ``classes_``, ``encoder_``, ``rare_classes_``, ``leakage_``, ``n_rows_dropped_``. ``X`` handed over
    (``HandedOver``) is taken out of its holder: the table it returns then holds the only reference to the rows."""
    X = est._as_frame(X.take() if isinstance(X, HandedOver) else X, fitting=True)
    y = est._target_series(y)
    if len(y) != len(X):
        raise InputError(f"X has {len(X)} rows but y has {len(y)}; they must match")
    est._check_task_kind(y)
    from .search.validation import requested_kind
    kind = requested_kind(validated, groups is not None, est.time_column is not None)
    if groups is not None:
        groups = pd.Series(row_values(groups, len(y), "groups"), name=getattr(groups, "name", None))
    table = prepare(X, y, task, sample_weight=check_sample_weight(sample_weight, len(y)), groups=groups,
                    rare_classes=est.rare_classes, kind=kind, drop_columns=est.drop_columns,
                    keep_columns=est.keep_columns, seed=int(est.seed), describe=False)
    est.n_rows_dropped_, est.task_ = table.n_rows_dropped, table.task
    if est.task_ not in est._estimator_type_tasks:
        raise InputError(f"{type(est).__name__} cannot fit a {est.task_} task")
    est.rare_classes_, est.leakage_ = table.rare, list(table.leakage)
    if table.model_classes is not None:
        est.classes_ = table.model_classes  # every class name, also those set aside
    est.encoder_ = table.encoder
    return table


def training_profile(table: PreparedTable, warm: WarmStart):
    """The training data's profile for drift detection (``automl.profile``); None, with a warning, if it
    fails (it never stops a fit)."""
    from .profile import compute_profile
    try:
        return compute_profile(table.raw, table.encoder, table.X, table.y, table.task, metafeatures=warm.metafeatures,
                               fingerprint=warm.fingerprint)
    except Exception as exc:  # a summary of the data must never cost the model
        log.warning("the training data's profile failed (%s); drift cannot be measured for this model", exc)
        return None


# ---------------------------------------------------------------------------------------------- the search
def run_search(est: "AutoMLBase", problem: "SearchProblem", table: PreparedTable, suggestions: list[dict],
               prior: list[dict], *, resume, deadline: Deadline, clock: PhaseClock) -> SearchRun:
    """The warm-started search of ``problem`` (``search_problem``; ``table``: its target and weights), within the
    search's share of ``deadline``; a resumed search replays the trials of ``resume``."""
    from .search import optimize  # the search imports heavy modules; keep fit's import cheap
    clock.lap("imports")
    executor_factory = None
    if est.cluster is not None:  # trials on a Dask cluster; only this driver writes to the knowledge base
        from .search.dask_runner import dask_executor_factory
        executor_factory = dask_executor_factory(est.cluster)  # InputError without Dask
    n_features = int(problem.X.shape[1])  # (the search swaps ``problem.X`` for the workers' shared, mapped copy)
    search_deadline = budget_mod.search_deadline(deadline, float(est.time_budget))
    strategy = est.strategy if (est.warm_start or est.strategy != "warm") else "bo"
    previous = resumed_trials(est, resume, len(table.y), problem.split)
    result = optimize(problem, search_deadline, strategy=strategy, suggestions=suggestions, prior=prior,
                      max_trials=est.max_trials, callback=est.callback, history=previous,
                      executor_factory=executor_factory)
    for phase in result.startup:
        clock.add(phase)
    return SearchRun(result, strategy, problem.n_jobs, n_features)


def search_problem(est: "AutoMLBase", table: PreparedTable, metric: Metric, X_val, y_val) -> "SearchProblem":
    """The search's table and the user's scheme. The user's validation rows (``X_val``) are appended after the
    training rows (unweighted), encoded by the encoder fitted on the training rows."""
    from .search import SearchProblem
    from .search.runner import resolve_n_jobs
    from .search.trial_memory import parse_memory_limit
    from .search.validation import SplitOptions
    split = split_options(est, table, X_val, y_val)
    X, y, weights = table.X, table.y, table.sample_weight
    if X_val is not None:
        Xv, yv = user_validation_rows(est, table, X_val, y_val)
        split = SplitOptions(n_valid=len(yv))
        X, y = pd.concat([X, Xv], ignore_index=True), np.concatenate([y, yv])
        weights = None if weights is None else np.concatenate([weights, np.ones(len(yv))])
    return SearchProblem(X=X, y=y, task=est.task_, metric=metric, seed=int(est.seed),
                         n_jobs=resolve_n_jobs(est.n_jobs), families=est.families_,
                         exclude_steps=est.excluded_steps_, sample_weight=weights, split=split, compact=bool(est.compact),
                         stacking=None if est.stacking is None else bool(est.stacking),
                         infer_limit=None if est.infer_limit is None else float(est.infer_limit),
                         memory_limit=parse_memory_limit(est.memory_limit))


def split_options(est: "AutoMLBase", table: PreparedTable, X_val, y_val) -> "SplitOptions | None":
    """The user's scheme from ``groups`` and ``time_column`` (a group code / ordering key per row); None: the
    search chooses by the data's size. At most one scheme is given."""
    from .search.validation import SplitOptions, check_one_scheme, group_codes, time_order
    if (X_val is None) != (y_val is None):
        raise InputError("X_val and y_val go together: pass both or neither")
    groups = table.groups
    check_one_scheme(X_val is not None, groups is not None, est.time_column is not None)
    times = None
    if est.time_column is not None:
        if est.time_column not in table.raw.columns:
            raise InputError(f"time column {est.time_column!r} is not a column of the data")
        times = time_order(table.raw[est.time_column], est.time_column)
    name = None if groups is None or groups.name is None else str(groups.name)  # (None: an array of groups)
    split = SplitOptions(groups=None if groups is None else group_codes(groups, name or "groups"), times=times,
                         groups_column=name, time_column=est.time_column)
    return split if split.kind is not None else None


def user_validation_rows(est: "AutoMLBase", table: PreparedTable, X_val, y_val) -> tuple[pd.DataFrame, np.ndarray]:
    """``(cleaned rows, target codes)`` of the user's validation rows with a target (never shaping the encoder)."""
    Xv = est._as_frame(X_val, fitting=False).reset_index(drop=True)
    yv = est._target_series(y_val)
    if len(yv) != len(Xv):
        raise InputError(f"X_val has {len(Xv)} rows but y_val has {len(yv)}; they must match")
    try:
        Xv, yv, _ = data_mod.drop_missing_target(Xv, yv)
        Xcv = table.encoder.transform(Xv)
    except InputError as exc:
        raise InputError(f"validation data: {exc}") from None
    return Xcv, data_mod.encode_target_as(yv, table.target)


def resumed_trials(est: "AutoMLBase", resume, n_rows: int, split: "SplitOptions | None") -> list:
    """The trials of the fitted model ``resume`` a search continues (none without one): same task, metric and
    validation scheme, else bad input."""
    if resume is None:
        return []
    check_is_fitted(resume, "model_")
    if resume.task_ != est.task_ or resume.metric_ != est.metric_:
        raise InputError(f"cannot resume a {resume.task_}/{resume.metric_} search as "
                         f"{est.task_}/{est.metric_}; use the same task and metric")
    check_same_scheme(resume, n_rows, split)
    return [t for t in resume.trials_ if t.get("status") in FINISHED]


def check_same_scheme(resume: "AutoMLBase", n_rows: int, split) -> None:
    """A resumed search keeps its validation scheme: scores under another are not comparable."""
    from .search.validation import choose_protocol, choose_validation
    now = choose_validation(choose_protocol(n_rows), split).as_dict()
    earlier = (getattr(resume, "fit_info_", None) or {}).get("validation") or {"protocol": resume.validation_}
    changed = [k for k in earlier if k in now and earlier[k] != now[k]]
    if changed:
        raise InputError(f"cannot resume a search validated by {earlier.get('protocol')} "
                         f"({', '.join(f'{k}={earlier[k]}' for k in changed)}) with {now['protocol']} "
                         f"({', '.join(f'{k}={now[k]}' for k in changed)}): the scores would not be comparable")


# ---------------------------------------------------------------------------------------------- the final model
def adopt_result(est: "AutoMLBase", result: "SearchResult", table: PreparedTable, metric: Metric, *, resume,
                 warm: WarmStart, suggestions: list[dict]) -> bool:
    """The search's final model and findings as the estimator's attributes (``model_``, ``trials_``,
    ``leaderboard_``, ...); returns True when the model resumed from was kept instead."""
    classes = table.model_classes
    est.model_ = result.model if classes is None else rare_mod.wrap(result.model, table.classes, classes, table.rare)
    est.trials_ = [trial_dict(t) for t in result.trials]
    est.resumed_from_ = getattr(resume, "run_id_", None)
    est.best_config_ = dict(result.best_config)
    est.best_score_ = float(result.best_score)
    est.ensemble_ = list(result.ensemble or [])
    est.validation_ = result.protocol
    est.class_distribution_ = class_distribution(table.y, table.classes, table.sample_weight)
    est.decision_threshold_ = float(result.threshold) if result.threshold is not None else None
    # (a fallback's score is on a holdout of its own, not on the search's splits: the resumed model wins)
    kept_previous = keep_better_resumed(est, resume, float("nan") if result.fallback else result.best_loss,
                                        metric, n_rows=len(table.y), fingerprint=warm.fingerprint,
                                        weighted=table.sample_weight is not None)
    est.final_model_ = board_mod.final_model(est.ensemble_, est.trials_, est.best_config_, est.best_score_,
                                             metric.to_loss(est.best_score_), None if kept_previous else result.stack)
    est.leaderboard_ = board_mod.leaderboard(est.trials_, est.final_model_)
    est.leaderboard_.attrs["class_distribution"] = est.class_distribution_
    est.neighbours_ = [plain(n) for n in warm.neighbours]
    est.warm_start_configs_ = suggestions
    est.run_id_ = uuid.uuid4().hex
    return kept_previous


def keep_better_resumed(est: "AutoMLBase", resume, new_loss: float, metric: Metric, *, n_rows: int,
                        fingerprint: str | None, weighted: bool) -> bool:
    """A resumed search never returns a model worse on its own validation than the one it resumed from: the
    splits depend only on the rows, the task, the validation scheme and the seed, so when those match and
    the new final model's validation loss is worse, the resumed model is kept (returns True), as long as its
    families are still allowed."""
    if resume is None:
        return False
    info = getattr(resume, "fit_info_", None) or {}
    prints = (info.get("data_fingerprint"), fingerprint)
    family = {t.get("config_id"): t.get("family") for t in resume.trials_}
    allowed = est.families_ is None or all(family.get(cid) in est.families_ for cid, _ in resume.ensemble_)
    same_splits = (resume.validation_ == est.validation_ and int(resume.seed) == int(est.seed)
                   and info.get("n_rows") == n_rows and (None in prints or prints[0] == prints[1])
                   and bool(info.get("sample_weight")) == weighted)
    old_loss = metric.to_loss(float(resume.best_score_))
    if not (same_splits and allowed and np.isfinite(old_loss)) or not (old_loss < new_loss - 1e-12 or
                                                                       not np.isfinite(new_loss)):
        return False
    log.warning("the resumed search's final model (validation %s %.5g) is worse than the model it resumed from "
                "(%.5g); that model is kept", est.metric_, metric.to_score(new_loss), resume.best_score_)
    est.model_, est.best_config_, est.best_score_ = resume.model_, dict(resume.best_config_), resume.best_score_
    est.ensemble_, est.decision_threshold_ = list(resume.ensemble_), resume.decision_threshold_
    return True


# ---------------------------------------------------------------------------------------------- the record
def fit_record(est: "AutoMLBase", run: SearchRun, table: PreparedTable, warm: WarmStart, *, started_at: datetime,
               deadline: Deadline, clock: PhaseClock, resume, kept_previous: bool,
               source: "TableSource | None") -> dict:
    """``fit_info_``: how the fit ran, as plain data (the manifest's ``fit``, the knowledge-base run's settings)."""
    result = run.result
    scheme = result.validation
    return {
        "started_at": started_at.isoformat(),
        "fit_seconds": round(deadline.elapsed(), 3),
        "time_budget": float(est.time_budget),
        "n_rows": int(len(table.y)),
        "n_features": run.n_features,
        "strategy": run.strategy,
        "seed": int(est.seed),
        "n_jobs": run.n_jobs,
        "sample_weight": table.sample_weight is not None,
        "class_distribution": est.class_distribution_,
        "decision_threshold": est.decision_threshold_,
        "validation": scheme.as_dict() if scheme is not None else {"protocol": est.validation_},
        "options": recorded_options(est, source),
        "versions": library_versions(),
        "warm_start_note": warm.note,
        "interrupted": bool((result.timings or {}).get("interrupted")),
        "leakage": [f.as_dict() for f in est.leakage_],
        "final_model": est.final_model_.as_dict(),
        "rare_classes": est.rare_classes_.as_dict() if est.rare_classes_ else None,
        "fallback": None if kept_previous else plain(result.fallback),
        "compact": resume.fit_info_.get("compact") if kept_previous else plain(result.compaction),
        "kept_previous_model": kept_previous,
        "data_fingerprint": warm.fingerprint,
        "timings": {"startup": clock.as_dict()},
    }


def recorded_options(est: "AutoMLBase", source: "TableSource | None") -> dict:
    """Every constructor option as plain data (callbacks left out, cluster objects by their type's name), plus
    where the table came from (``source``: target, weight and groups columns, validation file), for the
    manifest, the knowledge-base run and ``automl fit --resume``."""
    options = {}
    for key, value in est.get_params().items():
        if key == "callback":
            continue
        if key == "cluster" and value is not None and not isinstance(value, str):
            value = type(value).__name__
        if key == "metric" and value is not None and not isinstance(value, str):
            value = getattr(value, "name", None) or est.metric_
        options[key] = plain(list(value) if isinstance(value, tuple) else value)
    if source is not None:
        options.update(source.as_options())
    return options


def class_distribution(y: np.ndarray, classes, weights: np.ndarray | None = None) -> list[dict] | None:
    """Rows (and weight, when there are sample weights) per class, in class order; None for regression."""
    if classes is None:
        return None
    codes = np.asarray(y, dtype=int)
    counts = np.bincount(codes, minlength=len(classes))
    out = []
    for i, label in enumerate(classes):
        row = {"class": plain(label), "count": int(counts[i]), "share": round(float(counts[i]) / max(1, len(codes)), 6)}
        if weights is not None:
            row["weight"] = float(np.sum(weights[codes == i]))
        out.append(row)
    return out


def trial_dict(trial: Any) -> dict:
    """A trial of the search's history as a plain dict (``trials_``)."""
    if dataclasses.is_dataclass(trial):
        return dataclasses.asdict(trial)
    if isinstance(trial, dict):
        return dict(trial)
    return dict(vars(trial))


def plain(value):
    """JSON-friendly copy of numpy scalars, dataclasses and tuples."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


__all__ = ["SearchRun", "fit", "target_name", "prepare_table", "training_profile", "run_search", "search_problem",
           "split_options", "user_validation_rows", "resumed_trials", "check_same_scheme", "adopt_result",
           "keep_better_resumed", "fit_record", "recorded_options", "class_distribution", "trial_dict", "plain"]
