"""XGBoost (optional: ``pip install automl-meta[boost]``): histogram trees grown depth-wise, category columns as its
native categorical splits, early stopping on the validation fold."""
from __future__ import annotations

import pandas as pd

from ..space import Categorical, Float, Int
from .boosting import PATIENCE, BoostedModel, BoostingFit, OwnBoosting, Rounds, ValidationRows, coarse_curve
from .preprocessing import assemble
from .registry import CLASSIFICATION, TEXT_STEPS, Family

PACKAGE = "xgboost"

PARAMS = (
    Float("learning_rate", 0.01, 0.3, 0.1, log=True),
    Int("max_depth", 2, 10, 6),
    Float("min_child_weight", 0.5, 20.0, 1.0, log=True),
    Float("subsample", 0.5, 1.0, 1.0),
    Float("colsample_bytree", 0.3, 1.0, 1.0),
    Float("reg_lambda", 1e-3, 10.0, 1.0, log=True),
    Float("reg_alpha", 1e-3, 10.0, 1e-3, log=True),
    Categorical("class_weight", ("none", "balanced"), "none", condition=CLASSIFICATION),
)


class XGBoostModel(BoostedModel):
    """XGBoost on the cleaned table, quiet; ``n_jobs`` threads (one in a trial, its share: see ``Family``). Category
    columns reach it with the training rows' categories (unseen ones as missing): its categorical splits read category
    codes."""

    def _fit(self, X, y, sample_weight, validation: ValidationRows | None, boosting: BoostingFit) -> Rounds | None:
        from xgboost import XGBClassifier, XGBRegressor
        kwargs = dict(self.params or {}, n_estimators=self.n_estimators, tree_method="hist", enable_categorical=True,
                      n_jobs=self.n_jobs, random_state=self.seed, verbosity=0)
        if validation is not None:
            kwargs["early_stopping_rounds"] = PATIENCE
        if boosting.end is not None:
            kwargs["callbacks"] = [_deadline_callback(boosting)]
        self.model_ = (XGBRegressor if self.task == "regression" else XGBClassifier)(**kwargs)
        fit_kwargs = {}
        if validation is not None:
            fit_kwargs = {"eval_set": [(validation.X, validation.y)], "verbose": False}
            if validation.weight is not None:
                fit_kwargs["sample_weight_eval_set"] = [validation.weight]
        self.model_.fit(X, y, sample_weight=sample_weight, **fit_kwargs)
        self.model_.set_params(callbacks=None)  # the saved model keeps no reference to the trial's deadline
        if validation is None:
            return None
        curves = self.model_.evals_result().get("validation_0", {})
        curve = coarse_curve(next(iter(curves.values()))) if curves else None
        return Rounds(int(self.model_.best_iteration) + 1, curve)

    def _predict_kwargs(self) -> dict:
        if self.model_.n_jobs != self.n_jobs:  # (XGBoost predicts with its booster's thread count)
            self.model_.set_params(n_jobs=self.n_jobs)
        return {}

    def _prepared(self, X: pd.DataFrame) -> pd.DataFrame:
        changed = {c: pd.Categorical(X[c], categories=cats) for c, cats in self.categories_.items()
                   if not X[c].cat.categories.equals(cats)}
        return X.assign(**changed) if changed else X


def _deadline_callback(boosting: BoostingFit):
    from xgboost.callback import TrainingCallback

    class Deadline(TrainingCallback):
        def after_iteration(self, model, epoch, evals_log) -> bool:  # True stops boosting
            return boosting.stop_now(epoch)

    return Deadline()


def build(config: dict, task: str, n_rows: int, n_classes: int, seed: int):
    params = {k: config[k] for k in ("learning_rate", "max_depth", "min_child_weight", "subsample",
                                     "colsample_bytree", "reg_lambda", "reg_alpha")}
    model = XGBoostModel(task, params, class_weight=config.get("class_weight", "none"), seed=seed)
    return assemble(config, task, seed, model)  # (free-text columns become features first: the text step)


FAMILY = Family("xgboost", ("binary", "multiclass", "regression"), PARAMS, build, cost=1.5, iterations="n_estimators",
                boosting=OwnBoosting(), memory_per_cell=24.0, steps=TEXT_STEPS, predict_threads="n_jobs",
                # seconds (one thread, PMLB phoneme and wine_quality_white: 1.5 x LightGBM's default): early stopping
                # takes ~1/learning_rate rounds; deeper trees cost more per round but stop sooner
                cost_exponents=(("learning_rate", -0.5), ("max_depth", 0.3)),
                defaults=({"family": "xgboost", "learning_rate": 0.05, "max_depth": 4, "subsample": 0.8,
                           "colsample_bytree": 0.8},
                          {"family": "xgboost", "learning_rate": 0.03, "max_depth": 8, "min_child_weight": 3.0,
                           "colsample_bytree": 0.5, "reg_lambda": 5.0}))
