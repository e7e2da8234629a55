"""CatBoost (optional: ``pip install automl-meta[boost]``): symmetric trees, category columns as its native
categorical features (ordered target statistics), early stopping on the validation fold."""
from __future__ import annotations

import pandas as pd

from ..space import Categorical, Condition, Float, Int
from .boosting import (PATIENCE, BoostedModel, BoostingFit, OwnBoosting, Rounds, TrialTimeout, ValidationRows,
                       coarse_curve)
from .preprocessing import assemble
from .registry import CLASSIFICATION, TEXT_STEPS, Family

PACKAGE = "catboost"
MISSING = "__missing__"  # a missing category is one more category (CatBoost reads no NaN in a categorical feature)
BERNOULLI = Condition(parent="bootstrap_type", values=("bernoulli",))
BAYESIAN = Condition(parent="bootstrap_type", values=("bayesian",))

PARAMS = (
    Float("learning_rate", 0.01, 0.3, 0.08, log=True),
    Int("depth", 3, 10, 6),
    Float("l2_leaf_reg", 0.5, 30.0, 3.0, log=True),
    Categorical("bootstrap_type", ("bernoulli", "bayesian"), "bernoulli"),
    Float("subsample", 0.5, 1.0, 0.8, condition=BERNOULLI),  # share of rows per tree
    Float("bagging_temperature", 0.0, 5.0, 1.0, condition=BAYESIAN),  # 0: equal weights, larger: bolder ones
    Categorical("class_weight", ("none", "balanced"), "none", condition=CLASSIFICATION),
)


class CatBoostModel(BoostedModel):
    """CatBoost on the cleaned table, quiet and writing no files; ``n_jobs`` threads (one in a trial, its share: see
    ``Family``; its predictions too, which otherwise take every core)."""

    def _fit(self, X, y, sample_weight, validation: ValidationRows | None, boosting: BoostingFit) -> Rounds | None:
        from catboost import CatBoostClassifier, CatBoostRegressor, Pool
        cats = list(self.categories_)
        kwargs = dict(self.params or {}, iterations=self.n_estimators, random_seed=self.seed, thread_count=self.n_jobs,
                      allow_writing_files=False, logging_level="Silent")
        if validation is not None:
            kwargs.update(early_stopping_rounds=PATIENCE, use_best_model=True)
        self.model_ = (CatBoostRegressor if self.task == "regression" else CatBoostClassifier)(**kwargs)
        valid = None if validation is None else Pool(validation.X, validation.y, cat_features=cats,
                                                      weight=validation.weight)
        deadline = _Deadline(boosting) if boosting.end is not None else None
        self.model_.fit(Pool(X, y, cat_features=cats, weight=sample_weight), eval_set=valid,
                        callbacks=None if deadline is None else [deadline])
        if deadline is not None and deadline.timeout is not None:
            raise deadline.timeout
        if valid is None:
            return None
        curves = self.model_.get_evals_result().get("validation", {})
        curve = coarse_curve(next(iter(curves.values()))) if curves else None
        return Rounds(int(self.model_.tree_count_), curve)

    def _predict_kwargs(self) -> dict:
        return {"thread_count": self.n_jobs}

    def _prepared(self, X: pd.DataFrame) -> pd.DataFrame:
        if not self.categories_:
            return X
        X = X.copy()
        for c in self.categories_:
            X[c] = X[c].astype(object).where(X[c].notna(), MISSING)
        return X


class _Deadline:
    """CatBoost's per-round callback: False stops boosting; a hard deadline's ``TrialTimeout`` is kept for the fit to
    raise (CatBoost runs the callback inside its own loop)."""

    def __init__(self, boosting: BoostingFit) -> None:
        self.boosting = boosting
        self.timeout: TrialTimeout | None = None

    def after_iteration(self, info) -> bool:
        try:
            return not self.boosting.stop_now(info.iteration - 1)
        except TrialTimeout as exc:
            self.timeout = exc
            return False


def build(config: dict, task: str, n_rows: int, n_classes: int, seed: int):
    params = dict(learning_rate=config["learning_rate"], depth=config["depth"], l2_leaf_reg=config["l2_leaf_reg"],
                  bootstrap_type=config["bootstrap_type"].capitalize())
    if config["bootstrap_type"] == "bernoulli":
        params["subsample"] = config["subsample"]
    else:
        params["bagging_temperature"] = config["bagging_temperature"]
    model = CatBoostModel(task, params, class_weight=config.get("class_weight", "none"), seed=seed)
    return assemble(config, task, seed, model)  # (free-text columns become features first: the text step)


FAMILY = Family("catboost", ("binary", "multiclass", "regression"), PARAMS, build, cost=4.5, iterations="n_estimators",
                boosting=OwnBoosting(), memory_per_cell=64.0, steps=TEXT_STEPS, predict_threads="n_jobs",
                # seconds (one thread, PMLB phoneme and wine_quality_white: 4-5 x LightGBM's default): early
                # stopping takes ~1/learning_rate rounds; a symmetric tree's time grows steeply with its depth
                cost_exponents=(("learning_rate", -0.9), ("depth", 2.5)),
                defaults=({"family": "catboost", "learning_rate": 0.1, "depth": 7, "l2_leaf_reg": 5.0},
                          {"family": "catboost", "learning_rate": 0.15, "depth": 4, "bootstrap_type": "bayesian"}))
