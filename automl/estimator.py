"""The scikit-learn facing estimators: parameters, input conversion, predict, evaluate, save and load.

``fit`` is the whole flow of the product, its steps in ``automl.fitting``: table -> validation ->
meta-features -> knowledge-base retrieval -> warm-started search -> ensemble -> write-back to the knowledge
base (persistence on ``save``).
"""
from __future__ import annotations

import json
import numbers
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from metafeatures import TASKS

from . import data as data_mod
from . import fitting as fitting_mod
from .deadline import Deadline
from .exceptions import InputError
from .fitting import plain
from .metrics import get_metric
from .params import STRATEGIES
from .table_source import TableSource
from .timing import PhaseClock

if TYPE_CHECKING:
    from knowledge_base import KnowledgeBase

    from .evaluation import Evaluation


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
                 compact: bool = False, stacking: bool | None = None,
                 infer_limit: float | None = None, memory_limit: float | str | None = None) -> None:
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
        self.stacking = stacking
        self.infer_limit = infer_limit
        self.memory_limit = memory_limit

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
        The steps are ``automl.fitting``'s.
        """
        return fitting_mod.fit(self, X, y, task=self._requested_task(), sample_weight=sample_weight, X_val=X_val,
                           y_val=y_val, groups=groups)

    def _requested_task(self) -> str | None:
        return None

    def _check_task_kind(self, y: pd.Series) -> None:
        """Hook for the classifier: refuse continuous targets the way scikit-learn does."""

    # ------------------------------------------------------------------ knowledge base
    def _open_kb(self):
        """``knowledge_base`` itself when it is a ``KnowledgeBase`` object, else the store at that path."""
        import knowledge_base as kb
        if isinstance(self.knowledge_base, kb.KnowledgeBase):
            return self.knowledge_base
        return kb.open_store(self.knowledge_base)

    # ------------------------------------------------------------------ predict
    def _predictor(self):
        """``model_``, predicting on the threads ``n_jobs`` allows (-1: every core this process may use) where a
        member's family can (``Family.predict_threads``); its predictions are the same on any number."""
        from .search.runner import resolve_n_jobs
        set_threads = getattr(self.model_, "set_threads", None)
        if set_threads is not None:
            set_threads(resolve_n_jobs(self.n_jobs))
        return self.model_

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
        prediction = np.asarray(self._predictor().predict(Xc))
        proba = None
        if self.task_ == "regression":
            prediction = prediction.astype(float)
        else:
            prediction = prediction.astype(np.int64)
            proba = np.asarray(self._predictor().predict_proba(Xc), dtype=float)
        return evaluate_predictions(self.task_, truth[known], prediction, proba, classes,
                                    get_metric(self.metric, self.task_),
                                    n_left_out=n_missing + int((~known).sum()))

    def _predict_raw(self, X) -> np.ndarray:
        Xc = self._transform(X)
        return np.asarray(self._predictor().predict(Xc))

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
            "classes": [plain(c) for c in self.classes_] if hasattr(self, "classes_") else None,
            "input_schema": self.encoder_.schema,
            "seed": int(self.seed),
            "time_budget": float(self.time_budget),
            "strategy": self.fit_info_["strategy"],
            "params": {k: plain(v) for k, v in self.get_params().items() if k not in ("callback", "cluster")},
            "best_config": self.best_config_,
            "best_score": self.best_score_,
            "validation": self.validation_,
            "ensemble": [plain(e) for e in self.ensemble_],
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
        return np.asarray(self._predictor().predict_proba(Xc), dtype=float)


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
                 compact: bool = False, stacking: bool | None = None,
                 infer_limit: float | None = None, memory_limit: float | str | None = None) -> None:
        super().__init__(time_budget=time_budget, metric=metric, n_jobs=n_jobs, seed=seed, warm_start=warm_start,
                         knowledge_base=knowledge_base, strategy=strategy, max_trials=max_trials,
                         write_back=write_back, callback=callback, include=include, exclude=exclude,
                         cluster=cluster, time_column=time_column, drop_columns=drop_columns,
                         keep_columns=keep_columns, rare_classes=rare_classes, compact=compact,
                         stacking=stacking, infer_limit=infer_limit, memory_limit=memory_limit)
        self.task = task

    def _requested_task(self) -> str | None:
        if self.task is not None and self.task not in TASKS:
            raise InputError(f"unknown task {self.task!r}; choose one of {', '.join(TASKS)}")
        return self.task

    def fit(self, X, y, sample_weight=None, X_val=None, y_val=None, groups=None, *,
            deadline: Deadline | None = None, resume: "AutoMLBase | None" = None, first_configs=(),
            source: TableSource | None = None, startup_clock: PhaseClock | None = None):
        """As ``AutoMLBase.fit`` (``X_val``, ``y_val``, ``groups``), and, keyword-only: ``deadline``: the fit's
        own (default: ``time_budget`` from now). ``resume``: a fitted model of the same data whose search
        continues (its trials are replayed; the validation scheme must be the same). ``first_configs``:
        warm-start suggestions (``{"config", "origin", "explanation"}``) tried before the knowledge base's
        (``automl retune``: the previous model's best). ``source``: where the table came from (target, weight and
        groups columns, validation file), recorded in ``fit_info_["options"]`` for ``automl fit --resume`` and
        ``automl retune``. ``startup_clock``: the start-up phases timed before the fit (the CLI's imports and
        loading); the fit adds its own, reported in ``fit_info_["timings"]["startup"]``. ``X`` may be a
        ``automl.table_source.HandedOver`` holding the table: the fit takes it and frees it once encoded."""
        return fitting_mod.fit(self, X, y, task=self._requested_task(), deadline=deadline, resume=resume,
                           sample_weight=sample_weight, X_val=X_val, y_val=y_val, groups=groups,
                           first_configs=first_configs, source=source, startup_clock=startup_clock)

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
        return np.asarray(self._predictor().predict_proba(Xc), dtype=float)

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy for classification, R^2 for regression (as scikit-learn's mixins)."""
        from sklearn.metrics import accuracy_score, r2_score
        pred = self.predict(X)
        if self.task_ == "regression":
            return float(r2_score(y, pred, sample_weight=sample_weight))
        return float(accuracy_score(y, pred, sample_weight=sample_weight))


__all__ = ["AutoMLBase", "AutoMLClassifier", "AutoMLRegressor", "AutoML", "STRATEGIES"]
