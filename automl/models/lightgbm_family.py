"""LightGBM, the workhorse: native categorical handling, early stopping on the validation fold; free-text columns
become features by the ``text`` step, its only pipeline slot."""
from __future__ import annotations

import inspect

import lightgbm as lgb
import numpy as np
import pandas as pd

from ..space import Categorical, Float, Int
from .boosting import MAX_ROUNDS, PATIENCE, Boosting, BoostingFit, Rounds, coarse_curve, final_estimator
from .preprocessing import assemble
from .registry import CLASSIFICATION, TEXT_STEPS, Family

PARAMS = (
    Float("learning_rate", 0.01, 0.3, 0.08, log=True),
    Int("num_leaves", 4, 256, 31, log=True),
    Int("min_child_samples", 2, 100, 20, log=True),
    Float("subsample", 0.5, 1.0, 1.0),
    Float("colsample_bytree", 0.3, 1.0, 1.0),
    Float("reg_lambda", 1e-3, 10.0, 1e-3, log=True),
    Float("reg_alpha", 1e-3, 10.0, 1e-3, log=True),
    Int("max_bin", 31, 255, 255, log=True),
    Categorical("class_weight", ("none", "balanced"), "none", condition=CLASSIFICATION),
)


def build(config: dict, task: str, n_rows: int, n_classes: int, seed: int):
    kwargs = dict(
        n_estimators=MAX_ROUNDS, learning_rate=config["learning_rate"], num_leaves=config["num_leaves"],
        min_child_samples=min(config["min_child_samples"], max(2, n_rows // 10)),
        subsample=config["subsample"], subsample_freq=1 if config["subsample"] < 1.0 else 0,
        colsample_bytree=config["colsample_bytree"], reg_lambda=config["reg_lambda"],
        reg_alpha=config["reg_alpha"], max_bin=config["max_bin"], random_state=seed, n_jobs=1, verbose=-1,
    )
    if task == "regression":
        return assemble(config, task, seed, lgb.LGBMRegressor(**kwargs))
    weight = None if config["class_weight"] == "none" else "balanced"
    return assemble(config, task, seed, lgb.LGBMClassifier(class_weight=weight, **kwargs))


class LightGBMBoosting(Boosting):
    """LightGBM's callbacks: early stopping on the validation rows, and stopping at the deadline. It fits on coded
    rows (``coded_rows``: the float64 matrix it would convert a table to, built without the table's copy first)
    with the same feature names and categorical columns, so the fitted model is the one a table gives."""

    def coded(self, X: pd.DataFrame) -> dict | None:
        kinds = [(isinstance(t, pd.CategoricalDtype) and not t.ordered) or t == np.float64 for t in X.dtypes]
        if not all(kinds):  # (a text column goes through the text step as a table)
            return None
        return {c: list(X[c].cat.categories) for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)}

    def fitted(self, model, fit: BoostingFit) -> None:
        if fit.categories is not None:  # LightGBM's record of a table's categories, as a fit on the table keeps it
            final_estimator(model).booster_.pandas_categorical = list(fit.categories.values())

    def fit_kwargs(self, model, fit: BoostingFit) -> dict:
        kwargs: dict = {"callbacks": [_deadline_callback(fit)] if fit.end is not None else []}
        if fit.categories is not None:  # (a table's unordered category columns, as LightGBM finds them in one)
            kwargs["categorical_feature"] = list(fit.categories)
        if fit.eval_set is not None:
            kwargs["callbacks"].append(lgb.early_stopping(PATIENCE, verbose=False))
            # ``eval_X`` / ``eval_y`` where the installed version takes them (4.7 and later deprecate ``eval_set``)
            if "eval_X" in inspect.signature(final_estimator(model).fit).parameters:
                kwargs.update(eval_X=(fit.eval_set[0],), eval_y=(fit.eval_set[1],))
            else:
                kwargs["eval_set"] = [fit.eval_set]
            if fit.eval_weight is not None:
                kwargs["eval_sample_weight"] = [fit.eval_weight]
        return kwargs

    def rounds(self, model) -> Rounds | None:
        """Rounds chosen by early stopping and a coarse validation curve (LightGBM's own metric)."""
        model = final_estimator(model)
        if not hasattr(model, "booster_"):
            return None
        rounds = int(getattr(model, "best_iteration_", 0) or model.booster_.current_iteration())
        results = getattr(model, "evals_result_", None) or {}
        metrics = next(iter(results.values()), {})
        return Rounds(rounds, coarse_curve(next(iter(metrics.values()))) if metrics else None)


def _deadline_callback(fit: BoostingFit):
    """Stop boosting at ``fit.end``: a trial times out; a soft deadline keeps the rounds done so far, and with
    validation rows the model predicts with the best of them on those rows (as XGBoost's and CatBoost's early
    stopping do): the rounds past it overfit, on noisy data below a constant predictor."""
    best: list = []  # [iteration, value, evaluation results] of the best round so far on the first metric

    def callback(env):
        results = env.evaluation_result_list or []
        if results:
            value, higher_is_better = results[0][2], results[0][3]
            if not best or (value > best[1] if higher_is_better else value < best[1]):
                best[:] = [env.iteration, value, list(results)]
        if fit.stop_now(env.iteration):
            iteration, kept = (best[0], best[2]) if best else (env.iteration, results)
            raise lgb.callback.EarlyStopException(iteration, kept)
    callback.order = 100
    return callback


FAMILY = Family("lightgbm", ("binary", "multiclass", "regression"), PARAMS, build, cost=1.0, iterations="n_estimators",
                boosting=LightGBMBoosting(), memory_per_cell=12.0, steps=TEXT_STEPS, predict_threads="n_jobs",
                # seconds: early stopping takes ~1/learning_rate rounds; bagging and coarser bins are cheaper
                cost_exponents=(("learning_rate", -0.46), ("subsample", 0.44), ("max_bin", 0.13),
                                ("min_child_samples", -0.13)),
                defaults=({"family": "lightgbm", "learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 10,
                           "colsample_bytree": 0.7, "subsample": 0.8},
                          {"family": "lightgbm", "learning_rate": 0.03, "num_leaves": 63, "min_child_samples": 5,
                           "colsample_bytree": 0.5, "reg_lambda": 1.0}))
