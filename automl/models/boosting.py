"""Early-stopping families (``Family.boosting``: LightGBM, CatBoost, XGBoost): what a trial hands their fit and
what it reads back.

Such a family early-stops its rounds (the parameter ``Family.iterations``) on the validation rows the trial gives
it, stops boosting at the trial's deadline, and reports the rounds chosen, which a refit on every row reuses.
``BoostedModel`` is the shared base of the optional libraries' models (``catboost_family``, ``xgboost_family``):
they import their library only when fitted, so a table of families costs no import of an absent package.
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

PATIENCE = 50  # rounds without improvement on the validation rows before boosting stops
MAX_ROUNDS = 2000  # the rounds a fit may take at most (early stopping or a refit's rounds choose fewer)
CURVE_POINTS = 12  # points kept of a validation curve


class TrialTimeout(Exception):
    """The trial's own deadline passed."""


@dataclass(frozen=True)
class BoostingFit:
    """What an early-stopping fit receives: ``eval_set`` ((X, y) to early-stop on) and its weights, and ``end``
    (monotonic seconds) at which boosting stops: ``soft`` keeps the rounds done, else the fit raises
    ``TrialTimeout``."""

    eval_set: tuple | None = None
    eval_weight: np.ndarray | None = None
    end: float | None = None
    soft: bool = False
    categories: dict | None = None  # the rows are coded (``coded_rows``): category column -> its categories

    def stop_now(self, iteration: int) -> bool:
        """After round ``iteration`` (0-based): True stops boosting past ``end`` with a soft deadline and a round
        done; a hard deadline (or none done) raises ``TrialTimeout``."""
        if self.end is None or time.monotonic() <= self.end:
            return False
        if self.soft and iteration > 0:
            return True
        raise TrialTimeout("trial deadline reached while boosting")


@dataclass(frozen=True)
class Rounds:
    """The rounds early stopping chose and a coarse validation curve (``[round, value]`` of the library's metric)."""

    rounds: int
    curve: list | None = None


@dataclass(frozen=True)
class ValidationRows:
    """The rows a ``BoostedModel`` early-stops on, prepared for its library (``y``: 0..K-1 for classification)."""

    X: object
    y: np.ndarray
    weight: np.ndarray | None = None


def coarse_curve(values) -> list | None:
    """At most ``CURVE_POINTS`` evenly spaced ``[round, value]`` points of a per-round validation curve."""
    values = np.asarray(values, dtype=float)
    if not len(values):
        return None
    points = np.unique(np.linspace(0, len(values) - 1, min(len(values), CURVE_POINTS)).astype(int))
    return [[int(i) + 1, float(values[i])] for i in points]


class Boosting(ABC):
    """How a trial drives one library's early stopping: the ``fit`` keyword arguments for a ``BoostingFit``, and
    the rounds it chose (None when it did not early-stop)."""

    @abstractmethod
    def fit_kwargs(self, model, fit: BoostingFit) -> dict: ...

    @abstractmethod
    def rounds(self, model) -> Rounds | None: ...

    def coded(self, X: pd.DataFrame) -> dict | None:
        """The categories of the cleaned table ``X``'s category columns (column -> categories) when this library
        fits on ``X``'s rows coded as numbers (``coded_rows``); None (the default): it fits on ``X.iloc[rows]``."""
        return None

    def fitted(self, model, fit: BoostingFit) -> None:
        """After a fit on coded rows (``fit.categories``): make ``model`` read cleaned tables (category columns) at
        predict time, as if it had been fitted on them. The default has nothing to do."""


def coded_rows(X: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """Rows ``rows`` of the cleaned table ``X`` (float64 and category columns) as one float64 matrix (category codes,
    missing as NaN, column-major: the layout LightGBM converts a table to), built straight from ``X``'s columns: a
    training fold costs this one copy instead of ``X.iloc[rows]`` and then the library's own conversion of it."""
    out = np.empty((len(rows), X.shape[1]), dtype=np.float64, order="F")
    for j, column in enumerate(X.columns):
        values = X[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            codes = values.cat.codes.to_numpy()[rows]  # (one column at a time: the temporaries stay small)
            out[:, j] = np.where(codes < 0, np.nan, codes)
        else:
            out[:, j] = values.to_numpy()[rows]
    return pd.DataFrame(out, columns=X.columns, copy=False)


def final_estimator(model):
    """The model at the end of a pipeline (``model`` itself when it is none)."""
    return model.steps[-1][1] if hasattr(model, "steps") else model


class OwnBoosting(Boosting):
    """For a ``BoostedModel`` (alone or ending an ``EarlyStoppingPipeline``, which passes its validation rows
    through the pipeline's transforms): it takes the ``BoostingFit`` itself and keeps its ``rounds_``."""

    def fit_kwargs(self, model, fit: BoostingFit) -> dict:
        return {"boosting": fit}

    def rounds(self, model) -> Rounds | None:
        return getattr(final_estimator(model), "rounds_", None)


class BoostedModel(BaseEstimator):
    """A boosting library's model on the cleaned table (float and category columns, NaN anywhere, categories
    unseen at fit time). ``params``: the library's own parameters; ``n_estimators``: the most rounds; ``n_jobs``:
    the threads of its fit and predictions (the predictions do not depend on it). Subclasses fit ``model_`` in
    ``_fit``, prepare a table for it in ``_prepared`` and pass ``n_jobs`` to its predictions in ``_predict_kwargs``;
    classes are the training rows' codes."""

    def __init__(self, task: str = "binary", params: dict | None = None, n_estimators: int = MAX_ROUNDS,
                 class_weight: str = "none", seed: int = 0, n_jobs: int = 1) -> None:
        self.task = task
        self.params = params
        self.n_estimators = n_estimators
        self.class_weight = class_weight
        self.seed = seed
        self.n_jobs = n_jobs

    def __setstate__(self, state: dict) -> None:
        state.setdefault("n_jobs", 1)  # (a model saved before ``n_jobs`` predicted on one thread)
        super().__setstate__(state)

    def fit(self, X: pd.DataFrame, y, sample_weight=None, boosting: BoostingFit | None = None):
        boosting = boosting or BoostingFit()
        y = np.asarray(y)
        self.categories_ = {c: X[c].cat.categories for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)}
        if self.task != "regression":
            self.classes_ = np.unique(y)
            y = np.searchsorted(self.classes_, y)
            if self.class_weight == "balanced":
                from sklearn.utils.class_weight import compute_sample_weight
                balanced = compute_sample_weight("balanced", y)
                sample_weight = balanced if sample_weight is None else balanced * np.asarray(sample_weight)
        self.rounds_ = self._fit(self._prepared(X), y, sample_weight, self._validation(boosting), boosting)
        return self

    def _validation(self, boosting: BoostingFit) -> ValidationRows | None:
        if boosting.eval_set is None:
            return None
        X, y = boosting.eval_set
        y, weight = np.asarray(y), boosting.eval_weight
        if self.task != "regression":  # rows of a class the training rows lack cannot be scored
            known = np.isin(y, self.classes_)
            X, y, weight = X[known], np.searchsorted(self.classes_, y[known]), None if weight is None else weight[known]
        return ValidationRows(self._prepared(X), y, weight) if len(y) else None

    def _fit(self, X, y, sample_weight, validation: ValidationRows | None, boosting: BoostingFit) -> Rounds | None:
        """Fit ``model_`` on prepared rows (``y``: 0..K-1 for classification), early-stopping on ``validation``
        when given; returns the rounds chosen then."""
        raise NotImplementedError

    def _prepared(self, X: pd.DataFrame):
        raise NotImplementedError

    def _predict_kwargs(self) -> dict:
        """The library's keyword arguments for predicting on ``n_jobs`` threads."""
        return {}

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        proba = np.asarray(self.model_.predict_proba(self._prepared(X), **self._predict_kwargs()), dtype=float)
        return proba / proba.sum(axis=1, keepdims=True)  # (a library's float32 rows sum to 1 only roughly)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if self.task == "regression":
            return np.asarray(self.model_.predict(self._prepared(X), **self._predict_kwargs()), dtype=float).ravel()
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
