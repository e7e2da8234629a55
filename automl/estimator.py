"""The scikit-learn facing estimators; ``fit`` is the whole flow of the product.

table -> validation -> meta-features -> knowledge-base retrieval -> warm-started search ->
ensemble -> (persistence on ``save``) -> write-back to the knowledge base.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import numbers
import time
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from metafeatures import TASKS

from . import data as data_mod
from . import leaderboard as board_mod
from . import rare_classes as rare_mod
from .deadline import Deadline
from .exceptions import AutoMLError, InputError, plain_repr
from .kb_records import evaluation_record
from .metrics import get_metric
from .prepare import PreparedTable, prepare
from .search import budget as budget_mod
from .timing import PhaseClock
from .versions import library_versions

if TYPE_CHECKING:
    from knowledge_base import KnowledgeBase

    from .evaluation import Evaluation

log = logging.getLogger("automl")

STRATEGIES = ("warm", "bo", "hyperband", "random")


def _check_params(est: "AutoMLBase") -> None:
    """Parameter checks from a table, at the start of fit (never ``assert`` on user input)."""
    def real(name, value, low, strict=True, allow_none=False):
        if value is None and allow_none:
            return
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or \
                (value <= low if strict else value < low):
            bound = f"> {low}" if strict else f">= {low}"
            raise InputError(f"the {name!r} parameter of {type(est).__name__} must be a number {bound}; "
                             f"got {plain_repr(value)}")

    def integer(name, value, low, allow_none=False):
        if value is None and allow_none:
            return
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise InputError(f"the {name!r} parameter of {type(est).__name__} must be an integer >= {low}; "
                             f"got {plain_repr(value)}")

    real("time_budget", est.time_budget, 0)
    integer("n_jobs", est.n_jobs, -1)
    if est.n_jobs == 0:
        raise InputError(f"the 'n_jobs' parameter of {type(est).__name__} must be -1 or >= 1; got 0")
    integer("seed", est.seed, 0)
    integer("max_trials", est.max_trials, 1, allow_none=True)
    if est.strategy not in STRATEGIES:
        raise InputError(f"the 'strategy' parameter must be one of {', '.join(STRATEGIES)}; "
                         f"got {plain_repr(est.strategy)}")
    if est.rare_classes not in rare_mod.MODES:
        raise InputError(f"the 'rare_classes' parameter must be one of {', '.join(rare_mod.MODES)}; "
                         f"got {plain_repr(est.rare_classes)}")
    for name in ("warm_start", "compact"):
        if not isinstance(getattr(est, name), (bool, np.bool_)):
            raise InputError(f"the {name!r} parameter must be True or False; got {plain_repr(getattr(est, name))}")
    if est.time_column is not None and not isinstance(est.time_column, str):
        raise InputError(f"the 'time_column' parameter must be a column name or None; "
                         f"got {plain_repr(est.time_column)}")


def _allowed_families(include, exclude) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """Model families the search may use (None: all) and the pipeline steps it may not choose. ``include`` and
    ``exclude`` name families and steps: an excluded step leaves its slot's other choices; included steps keep
    only themselves in their slots. Unknown names are bad input listing the valid ones."""
    if include is None and exclude is None:
        return None, ()
    from .models import REGISTRY
    from .models.steps import NONE, STEPS
    valid, steps = REGISTRY.keys(), STEPS.keys()

    def names(value, option):
        items = [value] if isinstance(value, str) else list(value)
        items = [str(v).strip() for v in items if str(v).strip()]
        unknown = [v for v in items if v not in valid and v not in steps]
        if unknown:
            raise InputError(f"unknown model family {unknown[0]!r} (nor a pipeline step) in {option}; valid families: "
                             f"{', '.join(valid)}; steps: {', '.join(steps)}")
        return items

    included = names(include, "include") if include is not None else []
    excluded = names(exclude, "exclude") if exclude is not None else []
    allowed = [f for f in included if f in valid] or list(valid)
    allowed = [f for f in allowed if f not in excluded]
    kept = {STEPS.get(k).slot: k for k in included if k in steps}
    dropped = [k for k in excluded if k in steps]
    dropped += [k for k in steps if STEPS.get(k).slot in kept and k not in included]
    dropped += [f"{slot}:{NONE}" for slot in kept]  # (``none``, the identity, is no step of its own)
    if not allowed:
        raise InputError("include/exclude leave no model family to search")
    named = any(v in valid for v in [*included, *excluded])  # only steps named: every family stays allowed
    return (tuple(allowed) if named else None), tuple(sorted(set(dropped)))


def _target_name(y) -> str | None:
    """The target's name for the table's lineage: a Series' (or one-column frame's) name, None for an
    unnamed array (fits of unnamed targets with the same columns and task then share a lineage)."""
    if isinstance(y, pd.DataFrame):
        return str(y.columns[0]) if y.shape[1] == 1 else None
    name = y.name if isinstance(y, pd.Series) else None
    return None if name is None else str(name)


def class_distribution(y: np.ndarray, classes, weights: np.ndarray | None = None) -> list[dict] | None:
    """Rows (and weight, when there are sample weights) per class, in class order; None for regression."""
    if classes is None:
        return None
    codes = np.asarray(y, dtype=int)
    counts = np.bincount(codes, minlength=len(classes))
    out = []
    for i, label in enumerate(classes):
        row = {"class": _plain(label), "count": int(counts[i]), "share": round(float(counts[i]) / max(1, len(codes)), 6)}
        if weights is not None:
            row["weight"] = float(np.sum(weights[codes == i]))
        out.append(row)
    return out


def _check_sample_weight(sample_weight, n: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    try:
        raw = np.asarray(sample_weight, dtype=float)
    except (TypeError, ValueError):
        raise InputError("sample_weight must be numbers") from None
    if raw.ndim > 1 and raw.shape[1:] != (1,) * (raw.ndim - 1):
        raise InputError("sample_weight must be one-dimensional")
    w = raw.reshape(-1)
    if w.shape[0] != n:
        raise InputError(f"sample_weight has {w.shape[0]} values but there are {n} rows")
    if not np.all(np.isfinite(w)) or (w < 0).any():
        raise InputError("sample_weight must be finite and non-negative")
    if not (w > 0).any():
        raise InputError("sample_weight is zero for every row")
    return w


def _trial_dict(trial: Any) -> dict:
    if dataclasses.is_dataclass(trial):
        return dataclasses.asdict(trial)
    if isinstance(trial, dict):
        return dict(trial)
    return dict(vars(trial))


class AutoMLBase(BaseEstimator):
    """Shared machinery; use AutoMLClassifier, AutoMLRegressor or AutoML."""

    _estimator_type_tasks: tuple[str, ...] = TASKS

    def __init__(self, *, time_budget: float = 60.0, metric: str | None = None, n_jobs: int = 1,
                 seed: int = 0, warm_start: bool = True, knowledge_base: str | KnowledgeBase | None = None,
                 strategy: str = "warm", max_trials: int | None = None, write_back: bool = True,
                 callback: Callable[[dict], None] | None = None, include: tuple[str, ...] | None = None,
                 exclude: tuple[str, ...] | None = None, cluster: str | object | None = None,
                 time_column: str | None = None, drop_columns: tuple[str, ...] | str | None = None,
                 keep_columns: tuple[str, ...] | str | None = None, rare_classes: str = "drop",
                 compact: bool = False) -> None:
        self.time_budget = time_budget
        self.metric = metric
        self.n_jobs = n_jobs
        self.seed = seed
        self.warm_start = warm_start
        self.knowledge_base = knowledge_base
        self.strategy = strategy
        self.max_trials = max_trials
        self.write_back = write_back
        self.callback = callback
        self.include = include
        self.exclude = exclude
        self.cluster = cluster
        self.time_column = time_column
        self.drop_columns = drop_columns
        self.keep_columns = keep_columns
        self.rare_classes = rare_classes
        self.compact = compact

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.non_deterministic = self.max_trials is None
        return tags

    # ------------------------------------------------------------------ input conversion
    def _as_frame(self, X, *, fitting: bool) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            if X.shape[0] == 0:
                raise InputError("no rows in the feature table (0 samples)")
            if X.shape[1] == 0:
                raise InputError("no columns in the feature table (0 features)")
            frame = X
            if fitting:
                names = [str(c) for c in X.columns]
                if all(isinstance(c, str) for c in X.columns):
                    self.feature_names_in_ = np.asarray(names, dtype=object)
                elif hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
                self.n_features_in_ = X.shape[1]
                self._positional_ = not all(isinstance(c, str) for c in X.columns)
            elif not getattr(self, "_positional_", False) and not all(isinstance(c, str) for c in X.columns):
                return self._positional_frame(X.to_numpy(), fitting=False)
            return frame.rename(columns=str) if not all(isinstance(c, str) for c in X.columns) else frame
        return self._positional_frame(X, fitting=fitting)

    def _positional_frame(self, X, *, fitting: bool) -> pd.DataFrame:
        arr = check_array(X, dtype=None, ensure_all_finite=False, accept_sparse=False)
        if arr.dtype.kind == "c":
            raise InputError("complex numbers are not supported as features")
        if arr.dtype == object:
            for value in arr.ravel():
                if value is not None and not isinstance(value, (str, numbers.Number, bool, np.generic)):
                    raise TypeError(f"argument must be a string or a number: every feature value must be; got a "
                                    f"{type(value).__name__}")
        if fitting:
            self.n_features_in_ = arr.shape[1]
            self._positional_ = True
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            columns = [str(i) for i in range(arr.shape[1])]
        else:
            if arr.shape[1] != self.n_features_in_:
                raise ValueError(f"X has {arr.shape[1]} features, but {type(self).__name__} is expecting "
                                 f"{self.n_features_in_} features as input")
            if not self._positional_:
                warnings.warn(f"X does not have valid feature names, but {type(self).__name__} was fitted with "
                              f"feature names", UserWarning)
            columns = self.encoder_.input_columns_
        frame = pd.DataFrame(arr, columns=columns)
        if arr.dtype == object:
            frame = frame.infer_objects()
        return frame

    def _target_series(self, y) -> pd.Series:
        if y is None:
            raise InputError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        if isinstance(y, pd.DataFrame):
            if y.shape[1] != 1:
                raise InputError("y must be one column")
            y = y.iloc[:, 0]
        if isinstance(y, pd.Series):
            return y.reset_index(drop=True).rename(y.name if y.name is not None else "target")
        arr = np.asarray(y)
        if arr.ndim == 2 and arr.shape[1] == 1:
            warnings.warn("A column-vector y was passed when a 1d array was expected. Please change the shape "
                          "of y to (n_samples, ), for example using ravel().", DataConversionWarning)
            arr = arr.ravel()
        arr = column_or_1d(arr, warn=False) if arr.ndim != 1 else arr
        return pd.Series(arr, name="target")

    # ------------------------------------------------------------------ fit
    def fit(self, X, y, sample_weight=None, X_val=None, y_val=None, groups=None):
        """Search for the best pipeline within ``time_budget`` seconds; returns self.

        ``sample_weight`` weighs rows in training (every family that accepts weights; k-NN fits
        unweighted), in validation scores, ensembling and threshold tuning.
        ``X_val, y_val``: every trial is scored on these rows instead of internal CV/holdout (they are
        unweighted and never train the final model nor shape the encoder); ``groups`` (one value per row):
        grouped folds, no group on both sides. ``time_column`` (a parameter) gives forward-chaining folds.
        """
        return self._fit(X, y, task=self._requested_task(), deadline=None, sample_weight=sample_weight,
                         X_val=X_val, y_val=y_val, groups=groups)

    def _requested_task(self) -> str | None:
        return None

    def _fit(self, X, y, *, task: str | None, deadline: Deadline | None, resume=None, sample_weight=None,
             X_val=None, y_val=None, groups=None, first_configs=()):
        _check_params(self)
        started_at = datetime.now(timezone.utc)
        deadline = deadline or Deadline(float(self.time_budget))
        clock = self.__dict__.pop("_startup_clock", None) or PhaseClock()  # (the CLI's holds its imports, loading)
        from .search.runner import resolve_n_jobs, warm_up
        warm_up()  # the worker processes' imports overlap with validation, meta-features and retrieval
        X = self._as_frame(X, fitting=True)
        target_name = _target_name(y)
        y = self._target_series(y)
        if len(y) != len(X):
            raise InputError(f"X has {len(X)} rows but y has {len(y)}; they must match")
        self._check_task_kind(y)
        from .search.validation import requested_kind
        kind = requested_kind(X_val is not None, groups is not None, self.time_column is not None)
        if groups is not None:
            groups = pd.Series(_row_values(groups, len(y), "groups"), name=getattr(groups, "name", None))
        table = prepare(X, y, task, sample_weight=_check_sample_weight(sample_weight, len(y)), groups=groups,
                        rare_classes=self.rare_classes, kind=kind, drop_columns=self.drop_columns,
                        keep_columns=self.keep_columns, seed=int(self.seed), describe=False)
        self.n_rows_dropped_, self.task_ = table.n_rows_dropped, table.task
        if self.task_ not in self._estimator_type_tasks:
            raise InputError(f"{type(self).__name__} cannot fit a {self.task_} task")
        self.rare_classes_, self.leakage_, classes = table.rare, list(table.leakage), table.model_classes
        if classes is not None:
            self.classes_ = classes  # every class name, also those set aside
        metric = get_metric(self.metric, self.task_)
        self.metric_ = metric.name
        self.encoder_, Xc = table.encoder, table.X
        X, target, weights, groups = table.raw, table.target, table.sample_weight, table.groups
        clock.lap("encode")

        self.families_, self.excluded_steps_ = _allowed_families(self.include, self.exclude)
        warm = self._warm_start_material(table, target_name, clock)
        warm["suggestions"] = [*first_configs, *warm["suggestions"]]
        if self.excluded_steps_:  # a suggestion the knowledge base holds may use a step excluded now
            from .models.steps import uses_any
            warm["suggestions"] = [s for s in warm["suggestions"]
                                   if not uses_any(s.get("config") or {}, self.excluded_steps_)]
        self.profile_ = _training_profile(X, self.encoder_, Xc, target.y, self.task_, warm)
        from .search import SearchProblem, optimize  # the search imports heavy modules; keep fit's import cheap
        clock.lap("imports")
        n_jobs = resolve_n_jobs(self.n_jobs)
        executor_factory = None
        if self.cluster is not None:  # trials on a Dask cluster; only this driver writes to the knowledge base
            from .search.dask_runner import dask_executor_factory
            executor_factory = dask_executor_factory(self.cluster)  # InputError without Dask
        Xs, ys, ws, split = self._validation_split(X, Xc, target, weights, groups, X_val, y_val)
        problem = SearchProblem(X=Xs, y=ys, task=self.task_, metric=metric, seed=int(self.seed),
                                n_jobs=n_jobs, families=self.families_, exclude_steps=self.excluded_steps_,
                                sample_weight=ws, split=split,
                                compact=bool(self.compact))
        n_features = int(Xc.shape[1])
        del Xc, Xs  # the search owns the cleaned table now (it swaps it for the workers' shared, mapped copy)
        search_deadline = budget_mod.search_deadline(deadline, float(self.time_budget))
        strategy = self.strategy if (self.warm_start or self.strategy != "warm") else "bo"
        previous = []
        if resume is not None:
            check_is_fitted(resume, "model_")
            if resume.task_ != self.task_ or resume.metric_ != self.metric_:
                raise InputError(f"cannot resume a {resume.task_}/{resume.metric_} search as "
                                 f"{self.task_}/{self.metric_}; use the same task and metric")
            _check_same_scheme(resume, len(target.y), split)
            previous = [t for t in resume.trials_ if t.get("status") in ("ok", "failed", "timeout")]
        result = optimize(problem, search_deadline, strategy=strategy, suggestions=warm["suggestions"],
                          prior=warm["prior"], max_trials=self.max_trials, callback=self.callback, history=previous,
                          executor_factory=executor_factory)
        for phase in result.startup:
            clock.add(phase)
        self.model_ = result.model if classes is None else rare_mod.wrap(result.model, target.classes, classes)
        self.trials_ = [_trial_dict(t) for t in result.trials]
        self.resumed_from_ = getattr(resume, "run_id_", None)
        self.best_config_ = dict(result.best_config)
        self.best_score_ = float(result.best_score)
        self.ensemble_ = list(result.ensemble or [])
        self.validation_ = result.protocol
        scheme = result.validation
        self.class_distribution_ = class_distribution(target.y, target.classes, weights)
        timings = result.timings or {}
        threshold = result.threshold
        self.decision_threshold_ = float(threshold) if threshold is not None else None
        # (a fallback's score is on a holdout of its own, not on the search's splits: the resumed model wins)
        kept_previous = self._keep_better_resumed(resume, float("nan") if result.fallback else result.best_loss,
                                                  metric, n_rows=len(target.y), fingerprint=warm["fingerprint"],
                                                  weighted=weights is not None)
        self.final_model_ = board_mod.final_model(self.ensemble_, self.trials_, self.best_config_, self.best_score_,
                                                  metric.to_loss(self.best_score_))
        self.leaderboard_ = board_mod.leaderboard(self.trials_, self.final_model_)
        self.leaderboard_.attrs["class_distribution"] = self.class_distribution_
        self.neighbours_ = warm["neighbours"]
        self.warm_start_configs_ = warm["suggestions"]
        self.run_id_ = uuid.uuid4().hex
        self.fit_info_ = {
            "started_at": started_at.isoformat(),
            "fit_seconds": round(deadline.elapsed(), 3),
            "time_budget": float(self.time_budget),
            "n_rows": int(len(target.y)),
            "n_features": n_features,
            "strategy": strategy,
            "seed": int(self.seed),
            "n_jobs": n_jobs,
            "sample_weight": weights is not None,
            "class_distribution": self.class_distribution_,
            "decision_threshold": self.decision_threshold_,
            "validation": scheme.as_dict() if scheme is not None else {"protocol": self.validation_},
            "options": self._options(),
            "versions": library_versions(),
            "warm_start_note": warm["note"],
            "interrupted": bool(timings.get("interrupted")),
            "leakage": [f.as_dict() for f in self.leakage_],
            "final_model": self.final_model_.as_dict(),
            "rare_classes": self.rare_classes_.as_dict() if self.rare_classes_ else None,
            "fallback": None if kept_previous else _plain(result.fallback),
            "compact": resume.fit_info_.get("compact") if kept_previous else _plain(result.compaction),
            "kept_previous_model": kept_previous,
            "data_fingerprint": warm["fingerprint"],
            "timings": {"startup": clock.as_dict()},
        }
        self.n_evaluations_written_ = self._write_back(warm, started_at) if self.write_back else 0
        return self

    def _keep_better_resumed(self, resume, new_loss: float, metric, *, n_rows: int, fingerprint: str | None,
                             weighted: bool) -> bool:
        """A resumed search never returns a model worse on its own validation than the one it resumed from: the
        splits depend only on the rows, the task, the validation scheme and the seed, so when those match and
        the new final model's validation loss is worse, the resumed model is kept (returns True), as long as its
        families are still allowed."""
        if resume is None:
            return False
        info = getattr(resume, "fit_info_", None) or {}
        prints = (info.get("data_fingerprint"), fingerprint)
        family = {t.get("config_id"): t.get("family") for t in resume.trials_}
        allowed = self.families_ is None or all(family.get(cid) in self.families_ for cid, _ in resume.ensemble_)
        same_splits = (resume.validation_ == self.validation_ and int(resume.seed) == int(self.seed)
                       and info.get("n_rows") == n_rows and (None in prints or prints[0] == prints[1])
                       and bool(info.get("sample_weight")) == weighted)
        old_loss = metric.to_loss(float(resume.best_score_))
        if not (same_splits and allowed and np.isfinite(old_loss)) or not (old_loss < new_loss - 1e-12 or
                                                                           not np.isfinite(new_loss)):
            return False
        log.warning("the resumed search's final model (validation %s %.5g) is worse than the model it resumed from "
                    "(%.5g); that model is kept", self.metric_, metric.to_score(new_loss), resume.best_score_)
        self.model_, self.best_config_, self.best_score_ = resume.model_, dict(resume.best_config_), resume.best_score_
        self.ensemble_, self.decision_threshold_ = list(resume.ensemble_), resume.decision_threshold_
        return True

    def _options(self) -> dict:
        """Every constructor option as plain data (callbacks and cluster objects by name), plus what the
        caller attached in ``_fit_options`` (the CLI: target and weight column), for the manifest, the
        knowledge-base run and ``--resume``."""
        options = {}
        for key, value in self.get_params().items():
            if key == "callback":
                continue
            if key == "cluster" and value is not None and not isinstance(value, str):
                value = type(value).__name__
            if key == "metric" and value is not None and not isinstance(value, str):
                value = getattr(value, "name", None) or self.metric_
            options[key] = _plain(list(value) if isinstance(value, tuple) else value)
        options.update(getattr(self, "_fit_options", None) or {})
        return options

    def _validation_split(self, X, Xc, target, weights, groups, X_val, y_val):
        """The search table and the user's scheme: ``(X, y, sample_weight, SplitOptions or None)``. The user's
        validation rows (``X_val``) are appended after the training rows, encoded by the encoder fitted on
        the training rows; ``groups`` and ``time_column`` become a group code / ordering key per row."""
        from .search.validation import SplitOptions, check_one_scheme, group_codes, time_order
        if (X_val is None) != (y_val is None):
            raise InputError("X_val and y_val go together: pass both or neither")
        check_one_scheme(X_val is not None, groups is not None, self.time_column is not None)
        times = None
        if self.time_column is not None:
            if self.time_column not in X.columns:
                raise InputError(f"time column {self.time_column!r} is not a column of the data")
            times = time_order(X[self.time_column], self.time_column)
        name = None if groups is None or groups.name is None else str(groups.name)  # (None: an array of groups)
        split = SplitOptions(groups=None if groups is None else group_codes(groups, name or "groups"), times=times,
                             groups_column=name, time_column=self.time_column)
        if X_val is None:
            return Xc, target.y, weights, split if split.kind is not None else None
        Xv = self._as_frame(X_val, fitting=False).reset_index(drop=True)
        yv = self._target_series(y_val)
        if len(yv) != len(Xv):
            raise InputError(f"X_val has {len(Xv)} rows but y_val has {len(yv)}; they must match")
        try:
            Xv, yv, _ = data_mod.drop_missing_target(Xv, yv)
            Xcv = self.encoder_.transform(Xv)
        except InputError as exc:
            raise InputError(f"validation data: {exc}") from None
        split = SplitOptions(n_valid=len(yv))
        y_all = np.concatenate([target.y, data_mod.encode_target_as(yv, target)])
        ws = None if weights is None else np.concatenate([weights, np.ones(len(yv))])
        return pd.concat([Xc, Xcv], ignore_index=True), y_all, ws, split

    def _check_task_kind(self, y: pd.Series) -> None:
        """Hook for the classifier: refuse continuous targets the way scikit-learn does."""

    # ------------------------------------------------------------------ knowledge base
    def _open_kb(self):
        """``knowledge_base`` itself when it is a ``KnowledgeBase`` object, else the store at that path."""
        import knowledge_base as kb
        if isinstance(self.knowledge_base, kb.KnowledgeBase):
            return self.knowledge_base
        return kb.open_store(self.knowledge_base)

    def _warm_start_material(self, table: PreparedTable, target_name: str | None,
                             clock: PhaseClock | None = None) -> dict:
        """Fingerprint, lineage and meta-features of the prepared table, and what the search starts from
        (``automl.warm_start``; the hand-written portfolio when the store cannot be read)."""
        material = {"suggestions": [], "prior": [], "neighbours": [], "metafeatures": None,
                    "fingerprint": None, "lineage": None, "note": "knowledge base not used"}
        needs_kb = self.write_back or (self.warm_start and self.strategy == "warm")
        if not needs_kb:
            return material
        import knowledge_base as kb
        try:
            described = table.described()
            material["fingerprint"], material["metafeatures"] = described.fingerprint, described.metafeatures
            material["lineage"] = kb.lineage(table.encoder.column_kinds(), target_name, table.task)
        except Exception as exc:  # meta-features never stop a fit
            log.warning("meta-features failed (%s); fitting without the knowledge base", exc)
            return material
        finally:
            if clock is not None:
                clock.lap("metafeatures")
        if not (self.warm_start and self.strategy == "warm"):
            return material
        from .warm_start import warm_start
        try:
            start = warm_start(self._open_kb(), material["metafeatures"], self.task_, self.metric_,
                               families=self.families_, lineage=material["lineage"])
        except kb.KnowledgeBaseError as exc:
            material["note"] = f"knowledge base unavailable: {exc}"
            log.warning("knowledge base unavailable (%s); starting from the default portfolio", exc)
            return material
        finally:
            if clock is not None:
                clock.lap("knowledge_base")
        material["neighbours"] = [_plain(n) for n in start.neighbours]
        material["suggestions"] = start.search_suggestions()
        material["prior"] = start.search_prior()
        material["note"] = start.note
        return material

    def _write_back(self, warm: dict, started_at: datetime) -> int:
        if warm["metafeatures"] is None or not self.trials_:
            return 0
        if get_metric(self.metric, self.task_).is_perfect(self.best_score_):
            log.warning("nothing written to the knowledge base: the validation %s is perfect (%g), which points "
                        "to a leak of the target rather than evidence of what works", self.metric_, self.best_score_)
            return 0
        import knowledge_base as kb
        import metafeatures
        from .space import SPACE_VERSION
        versions = self.fit_info_["versions"]
        dataset = kb.records.DatasetRecord(
            fingerprint=warm["fingerprint"], name=None, source="local", task=self.task_,
            n_rows=self.fit_info_["n_rows"], n_features=self.fit_info_["n_features"],
            metafeatures=warm["metafeatures"], metafeatures_version=metafeatures.METAFEATURES_VERSION,
            lineage=warm["lineage"])
        # a replayed trial was written back by the run that made it
        evaluations = [evaluation_record(t, space_version=SPACE_VERSION, protocol=str(self.validation_ or "unknown"),
                                         metric=self.metric_, seed=self.seed)
                       for t in self.trials_ if not (t.get("extra") or {}).get("replayed")]
        run = kb.records.RunRecord(
            run_id=self.run_id_, kind="fit", started_at=started_at, finished_at=datetime.now(timezone.utc),
            budget_seconds=float(self.time_budget),
            settings={"metric": self.metric_, "task": self.task_, "strategy": self.fit_info_["strategy"],
                      "seed": int(self.seed), "max_trials": self.max_trials, "n_jobs": self.fit_info_["n_jobs"],
                      "families": list(self.families_) if self.families_ else None,
                      "options": self.fit_info_["options"], "resumed_from": self.resumed_from_,
                      "sample_weight": self.fit_info_["sample_weight"],
                      "class_distribution": self.class_distribution_,
                      "decision_threshold": self.decision_threshold_,
                      "validation": self.fit_info_["validation"]},
            versions=versions)
        try:
            return int(self._open_kb().record_run(run, dataset, evaluations))
        except kb.KnowledgeBaseError as exc:
            log.warning("could not write the evaluations back to the knowledge base: %s", exc)
            return 0

    # ------------------------------------------------------------------ predict
    def _transform(self, X) -> pd.DataFrame:
        check_is_fitted(self, "model_")
        frame = self._as_frame(X, fitting=False)
        Xc = self.encoder_.transform(frame, report_unparsed=True)
        Xc.index = pd.RangeIndex(len(Xc))
        return Xc

    def evaluate(self, X, y) -> "Evaluation":
        """Every metric of the task on labelled data (X, y), the rows scored, and a confusion matrix
        (classification) or a residual summary (regression); see :class:`automl.evaluation.Evaluation`.
        Rows without a target, and rows whose class the model never saw, are left out with a warning."""
        from .evaluation import evaluate_predictions, true_values
        check_is_fitted(self, "model_")
        frame = self._as_frame(X, fitting=False).reset_index(drop=True)
        y = self._target_series(y)
        if len(y) != len(frame):
            raise InputError(f"X has {len(frame)} rows but y has {len(y)}; they must match")
        frame, y, n_missing = data_mod.drop_missing_target(frame, y)
        classes = getattr(self, "classes_", None)
        truth, known = true_values(y, self.task_, classes)
        Xc = self.encoder_.transform(frame.loc[known], report_unparsed=True)
        Xc.index = pd.RangeIndex(len(Xc))
        prediction = np.asarray(self.model_.predict(Xc))
        proba = None
        if self.task_ == "regression":
            prediction = prediction.astype(float)
        else:
            prediction = prediction.astype(np.int64)
            proba = np.asarray(self.model_.predict_proba(Xc), dtype=float)
        return evaluate_predictions(self.task_, truth[known], prediction, proba, classes,
                                    get_metric(self.metric, self.task_),
                                    n_left_out=n_missing + int((~known).sum()))

    def _predict_raw(self, X) -> np.ndarray:
        Xc = self._transform(X)
        return np.asarray(self.model_.predict(Xc))

    # ------------------------------------------------------------------ figures and report
    def plot_anytime(self, ax=None):
        """Best validation score against time, trials coloured by origin."""
        from .report import plot_anytime
        return plot_anytime(self, ax=ax)

    def plot_families(self, ax=None):
        """Score by model family."""
        from .report import plot_families
        return plot_families(self, ax=ax)

    def plot_importance(self, X, y, ax=None, **kwargs):
        """Permutation importance of the final model on (X, y)."""
        from .report import plot_importance
        return plot_importance(self, X, y, ax=ax, **kwargs)

    def report(self, path, X=None, y=None, **kwargs):
        """Write the self-contained HTML fit report to ``path``."""
        from .report import write_fit_report
        return write_fit_report(self, path, X=X, y=y, **kwargs)

    # ------------------------------------------------------------------ persistence
    def manifest(self) -> dict:
        check_is_fitted(self, "model_")
        return {
            "estimator": type(self).__name__,
            "task": self.task_,
            "metric": self.metric_,
            "classes": [_plain(c) for c in self.classes_] if hasattr(self, "classes_") else None,
            "input_schema": self.encoder_.schema,
            "seed": int(self.seed),
            "time_budget": float(self.time_budget),
            "strategy": self.fit_info_["strategy"],
            "params": {k: _plain(v) for k, v in self.get_params().items() if k not in ("callback", "cluster")},
            "best_config": self.best_config_,
            "best_score": self.best_score_,
            "validation": self.validation_,
            "ensemble": [_plain(e) for e in self.ensemble_],
            "leaderboard": json.loads(self.leaderboard_.to_json(orient="records")),
            "fit": self.fit_info_,
            "kb_run_id": self.run_id_,
            "resumed_from": self.resumed_from_,
            "n_evaluations_written": self.n_evaluations_written_,
            "neighbours": self.neighbours_,
            "profile": self.profile_.to_dict() if getattr(self, "profile_", None) is not None else None,
        }

    def save(self, path: str | Path) -> Path:
        """Save the fitted model and its manifest into directory ``path`` (atomically)."""
        from .persistence import save_model
        manifest = self.manifest()
        callback, self.callback = self.callback, None  # callbacks are often closures: never pickle them
        try:
            return save_model(self, path, manifest)
        finally:
            self.callback = callback

    @classmethod
    def load(cls, path: str | Path) -> "AutoMLBase":
        from .exceptions import ModelLoadError
        from .persistence import load_model
        obj, _ = load_model(path)
        if not isinstance(obj, AutoMLBase):
            raise ModelLoadError(f"{str(path)!r} does not hold an AutoML model")
        if cls is not AutoML and not isinstance(obj, cls):
            raise ModelLoadError(f"{str(path)!r} holds a {type(obj).__name__}, not a {cls.__name__}")
        return obj


class AutoMLClassifier(ClassifierMixin, AutoMLBase):
    """Classification within a time budget: ``AutoMLClassifier(time_budget=60).fit(X, y)``."""

    _estimator_type_tasks = ("binary", "multiclass")

    def _check_task_kind(self, y: pd.Series) -> None:
        check_classification_targets(y.dropna().to_numpy())

    def _requested_task(self) -> str | None:
        return None  # binary or multiclass from the labels

    def predict(self, X) -> np.ndarray:
        codes = self._predict_raw(X).astype(int)
        return self.classes_[codes]

    def predict_proba(self, X) -> np.ndarray:
        Xc = self._transform(X)
        return np.asarray(self.model_.predict_proba(Xc), dtype=float)


class AutoMLRegressor(RegressorMixin, AutoMLBase):
    """Regression within a time budget: ``AutoMLRegressor(time_budget=60).fit(X, y)``."""

    _estimator_type_tasks = ("regression",)

    def _requested_task(self) -> str | None:
        return "regression"

    def predict(self, X) -> np.ndarray:
        return self._predict_raw(X).astype(float)


class AutoML(AutoMLBase):
    """Task-inferring front used by the CLI: ``AutoML(task=None)`` decides binary/multiclass/regression."""

    def __init__(self, *, task: str | None = None, time_budget: float = 60.0, metric: str | None = None,
                 n_jobs: int = 1, seed: int = 0, warm_start: bool = True,
                 knowledge_base: str | KnowledgeBase | None = None,
                 strategy: str = "warm", max_trials: int | None = None, write_back: bool = True,
                 callback: Callable[[dict], None] | None = None, include: tuple[str, ...] | None = None,
                 exclude: tuple[str, ...] | None = None, cluster: str | object | None = None,
                 time_column: str | None = None, drop_columns: tuple[str, ...] | str | None = None,
                 keep_columns: tuple[str, ...] | str | None = None, rare_classes: str = "drop",
                 compact: bool = False) -> None:
        super().__init__(time_budget=time_budget, metric=metric, n_jobs=n_jobs, seed=seed, warm_start=warm_start,
                         knowledge_base=knowledge_base, strategy=strategy, max_trials=max_trials,
                         write_back=write_back, callback=callback, include=include, exclude=exclude,
                         cluster=cluster, time_column=time_column, drop_columns=drop_columns,
                         keep_columns=keep_columns, rare_classes=rare_classes, compact=compact)
        self.task = task

    def _requested_task(self) -> str | None:
        if self.task is not None and self.task not in TASKS:
            raise InputError(f"unknown task {self.task!r}; choose one of {', '.join(TASKS)}")
        return self.task

    def fit(self, X, y, sample_weight=None, X_val=None, y_val=None, groups=None, *,
            deadline: Deadline | None = None, resume: "AutoMLBase | None" = None, first_configs=()):
        """``resume``: a fitted model of the same data whose search continues (its trials are replayed; the
        validation scheme must be the same). ``first_configs``: warm-start suggestions
        (``{"config", "origin", "explanation"}``) tried before the knowledge base's (``automl retune``: the
        previous model's best). ``X_val``, ``y_val``, ``groups``: as ``AutoMLBase.fit``."""
        return self._fit(X, y, task=self._requested_task(), deadline=deadline, resume=resume,
                         sample_weight=sample_weight, X_val=X_val, y_val=y_val, groups=groups,
                         first_configs=first_configs)

    def predict(self, X) -> np.ndarray:
        raw = self._predict_raw(X)
        if self.task_ == "regression":
            return raw.astype(float)
        return self.classes_[raw.astype(int)]

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        if self.task_ == "regression":
            raise InputError("predict_proba is only available for classification models")
        Xc = self._transform(X)
        return np.asarray(self.model_.predict_proba(Xc), dtype=float)

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy for classification, R^2 for regression (as scikit-learn's mixins)."""
        from sklearn.metrics import accuracy_score, r2_score
        pred = self.predict(X)
        if self.task_ == "regression":
            return float(r2_score(y, pred, sample_weight=sample_weight))
        return float(accuracy_score(y, pred, sample_weight=sample_weight))


def _row_values(values, n: int, name: str) -> np.ndarray:
    """One value per row (``groups``), as a 1-d array of ``n`` values."""
    arr = np.asarray(values.to_numpy() if isinstance(values, pd.Series) else values, dtype=object)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InputError(f"{name} must be one value per row ({n}); got shape {arr.shape}")
    return arr


def _check_same_scheme(resume: "AutoMLBase", n_rows: int, split) -> None:
    """A resumed search keeps its validation scheme: scores under another are not comparable."""
    from .search.validation import choose_protocol, choose_validation
    now = choose_validation(choose_protocol(n_rows), split).as_dict()
    earlier = (getattr(resume, "fit_info_", None) or {}).get("validation") or {"protocol": resume.validation_}
    changed = [k for k in earlier if k in now and earlier[k] != now[k]]
    if changed:
        raise InputError(f"cannot resume a search validated by {earlier.get('protocol')} "
                         f"({', '.join(f'{k}={earlier[k]}' for k in changed)}) with {now['protocol']} "
                         f"({', '.join(f'{k}={now[k]}' for k in changed)}): the scores would not be comparable")


def _training_profile(X, encoder, Xc, y, task: str, warm: dict):
    """The training data's profile for drift detection (``automl.profile``); None, with a warning, if it
    fails (it never stops a fit)."""
    from .profile import compute_profile
    try:
        return compute_profile(X, encoder, Xc, y, task, metafeatures=warm["metafeatures"],
                               fingerprint=warm["fingerprint"])
    except Exception as exc:  # a summary of the data must never cost the model
        log.warning("the training data's profile failed (%s); drift cannot be measured for this model", exc)
        return None


def _plain(value):
    """JSON-friendly copy of numpy scalars, dataclasses and tuples."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
