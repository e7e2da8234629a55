"""Stacking (issue #30): a second layer over the kept trials' out-of-fold predictions replaces the Caruana ensemble
only when it wins on rows neither was fitted on; the stacked model predicts, saves and loads, and a fit with it stays
inside its budget. Real PMLB tables, real trials (``run_trial``, in worker processes), the real builder."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss
from sklearn.model_selection import KFold, StratifiedKFold

from automl import AutoMLClassifier
from automl.data import TableEncoder, Target, encode_target
from automl.deadline import Deadline
from automl.ensembling import BaggedEnsemble, greedy_selection
from automl.leaderboard import final_model, leaderboard
from automl.metrics import Metric, get_metric
from automl.models import REGISTRY
from automl.persistence import load_model, save_model
from automl.search import SearchProblem, optimize
from automl.search.budget import CostModel
from automl.search.final_model import FinalModelBuilder, KeptModels
from automl.search.history import History, Trial
from automl.search.messages import TrialRequest
from automl.search.stack_choice import OofRows, choose_stack, outer_folds
from automl.search.runner import LocalRunner
from automl.search.trial_memory import UNLIMITED, MemoryPlan, TableWidths
from automl.search.validation import Validation, choose_protocol, choose_validation, make_splits
from automl.stacking import StackedEnsemble, Stacker
from knowledge_base.canonical import config_id
from tests.conftest import PMLB
from tests.search.conftest import run_requests

DIVERSE = ("lightgbm", "linear", "knn", "extra_trees")
DATASET = "mfeat_fourier"  # multiclass (10 classes, log loss): the pool of these four beats their Caruana ensemble


def _table(pmlb_dir, name: str, n: int, n_test: int = 0):
    """``n`` shuffled rows of a PMLB table, cleaned as the search gets them: (X, Target, test X, test codes)."""
    frame = pd.read_csv(pmlb_dir / f"{name}.tsv.gz", sep="\t").sample(frac=1.0, random_state=0)
    train, test = frame.iloc[:n].reset_index(drop=True), frame.iloc[n:n + n_test].reset_index(drop=True)
    encoder = TableEncoder()
    X = encoder.fit_transform(train.drop(columns=["target"]))
    target = encode_target(train["target"], None)
    codes = np.searchsorted(target.classes, test["target"].to_numpy()) if target.task != "regression" else None
    return X, target, encoder.transform(test.drop(columns=["target"])), codes


@dataclass(frozen=True)
class DefaultTrials:
    """Real trials (``run_trial``) of some families' defaults on one cleaned table, kept as the search keeps them:
    what a final-model builder reads (only a refit would change them: builders that never refit may share them)."""

    X: pd.DataFrame
    target: Target
    metric: Metric
    validation: Validation
    splits: list
    history: History
    by_id: dict[int, Trial]
    kept: dict[int, KeptModels]
    families: tuple[str, ...]


def _default_trials(tmp_path, X, target, families, metric=None) -> DefaultTrials:
    """``families``' defaults run as trials on ``X``, their fold models saved in ``tmp_path``."""
    metric = get_metric(metric, target.task)
    validation = choose_validation(choose_protocol(len(target.y)))
    splits = make_splits(target.y, target.task, validation, 0)
    data = {"X": X, "y": target.y, "task": target.task, "metric": metric, "splits": splits, "seed": 0}
    requests = [TrialRequest(trial_id=i, config=REGISTRY.get(key).default_config(target.task), fidelity=1.0,
                             seconds=120, keep_models_dir=str(tmp_path)) for i, key in enumerate(families)]
    runner = LocalRunner(data, min(2, len(families)), str(tmp_path))  # (two at a time, as a search's two workers)
    try:
        results = run_requests(runner, requests, 120)
    finally:
        runner.close()
    history, by_id, kept = History(), {}, {}
    for request, key in zip(requests, families):
        i, config, result = request.trial_id, request.config, results.get(request.trial_id)
        assert result is not None and result.status == "ok", result
        trial = Trial(i, config, config_id(config), key, 1.0, "default", status=result.status, score=result.score,
                      loss=result.loss, details=result.details)
        history.add(trial)
        by_id[i], kept[i] = trial, KeptModels(result.oof, result.models_path)
    return DefaultTrials(X, target, metric, validation, splits, history, by_id, kept, tuple(families))


def _builder_over(trials: DefaultTrials, compact=False) -> FinalModelBuilder:
    """The final-model builder over ``trials``, with its own problem, deadline and cost model (tests change them)."""
    X, target, splits = trials.X, trials.target, trials.splits
    problem = SearchProblem(X, target.y, target.task, trials.metric, seed=0, compact=compact)
    fams = [REGISTRY.get(k) for k in trials.families]
    deadline = Deadline(120)
    cost = CostModel(deadline, fams, trials.history, len(splits), deterministic=False, refit_enabled=False,
                     best_kept=lambda: None, all_rows=len(target.y))
    n_classes = int(target.y.max()) + 1 if target.task != "regression" else 0
    memory = MemoryPlan(fams, TableWidths.of(X), train_rows=float(len(splits[0][0])), valid_rows=float(len(splits[0][1])),
                        all_rows=float(len(target.y)), limit=UNLIMITED, fixed=0, deterministic=False)
    return FinalModelBuilder(problem, splits, trials.validation, trials.kept, trials.by_id, trials.history, fams,
                             deadline, cost, n_classes, memory)


def _builder(tmp_path, X, target, families, metric=None, compact=False) -> FinalModelBuilder:
    """The final-model builder over real trials of ``families``' defaults, kept as the search keeps them."""
    return _builder_over(_default_trials(tmp_path, X, target, families, metric), compact)


def run_diverse_trials(tmp_path) -> tuple[DefaultTrials, pd.DataFrame, np.ndarray]:
    """The ``DIVERSE`` families' default trials on 450 rows of ``DATASET`` (multiclass, log loss: the stack wins), and
    150 test rows with their class codes; run once per session (the ``diverse_trials`` fixture, conftest.py)."""
    if not (PMLB / f"{DATASET}.tsv.gz").exists():
        pytest.skip(f"PMLB datasets not found at {PMLB}")
    X, target, X_test, y_test = _table(PMLB, DATASET, 450, n_test=150)
    return _default_trials(tmp_path, X, target, DIVERSE), X_test, y_test


@pytest.fixture
def stacked_builder(diverse_trials):
    """A multiclass table (log loss) on which several diverse families are kept and the stack wins: a fresh builder
    over the session's shared trials."""
    trials, X_test, y_test = diverse_trials
    return _builder_over(trials), X_test, y_test


def test_the_stack_is_chosen_on_held_back_rows(stacked_builder):
    builder, _, _ = stacked_builder
    # no time left to bound the selections by (as the hand computation below has none): with a finite deadline a
    # nested selection stops at its share of the seconds, earlier on a slower run, and the two differ
    builder.cost.final_step_seconds = lambda: math.inf
    selection = builder.select()
    stack = selection.stack
    assert stack is not None and len(stack.members) >= 2  # (the members at weight 0 are left out)
    # recomputed by hand: each of three stratified folds of the out-of-fold rows predicted by a stacker fitted on
    # the other folds' rows only, and by the Caruana weights (over every kept trial) chosen on the other folds only
    rows = np.concatenate([va for _, va in builder.splits])
    y, labels = builder.p.y[rows], range(builder.n_classes)
    every = [builder.kept[i].oof[rows] for i in sorted(builder.kept, key=lambda i: builder.by_id[i].loss)]
    oof, caruana = np.zeros((len(rows), builder.n_classes)), np.zeros((len(rows), builder.n_classes))
    for train, held in StratifiedKFold(n_splits=3, shuffle=True, random_state=0).split(rows, y):
        oof[held] = Stacker("multiclass", builder.n_classes).fit([p[train] for p in every], y[train]).predict(
            [p[held] for p in every])
        weights, _ = greedy_selection([p[train] for p in every], lambda q: log_loss(y[train], q, labels=labels))
        caruana[held] = sum(w * p[held] for w, p in zip(weights, every))
    assert stack.loss == pytest.approx(log_loss(y, oof, labels=labels), rel=1e-6)
    assert stack.caruana_loss == pytest.approx(log_loss(y, caruana, labels=labels), rel=1e-6)
    assert selection.loss == pytest.approx(stack.loss, rel=1e-9)  # the reported loss is the out-of-fold one
    in_sample = stack.stacker.predict([builder.kept[i].oof[rows] for i in stack.members])  # (deployed: every row)
    assert log_loss(y, in_sample, labels=labels) < stack.loss  # what a score on the fitted rows would say
    assert stack.loss < stack.caruana_loss and abs(sum(selection.weights) - 1.0) < 1e-9


def test_a_stacked_final_model_predicts_saves_and_loads(stacked_builder, tmp_path):
    builder, X_test, y_test = stacked_builder
    builder.selection = None
    final = builder.assemble()
    assert isinstance(final.model, StackedEnsemble) and final.stack is not None
    proba = final.model.predict_proba(X_test)
    assert proba.shape == (len(X_test), builder.n_classes) and np.allclose(proba.sum(axis=1), 1.0)
    assert (final.model.predict(X_test) == y_test).mean() > 0.5  # (chance: 0.25)
    save_model(final.model, tmp_path / "m", {"note": "stack"})
    loaded, _ = load_model(tmp_path / "m")
    assert np.allclose(loaded.predict_proba(X_test), proba)
    trials = [{"config_id": t.config_id, "family": t.family, "fidelity": 1.0, "score": t.score, "loss": t.loss,
               "status": "ok", "config": t.config} for t in builder.history.trials]
    head = final_model(final.ensemble, trials, final.best_config, final.best_score, final.best_loss, final.stack)
    row = leaderboard(trials, head).iloc[0]
    assert row["family"] == "stack" and row["pipeline"].startswith("stack of ")
    assert row["pipeline"].endswith("-> log-linear pool")
    assert head.as_dict()["stack"]["caruana_loss"] == final.stack.caruana_loss
    assert set(final.stack.members) <= {t.config_id for t in builder.history.trials}
    assert len(final.model.members) == len(final.stack.members) == len(final.ensemble)


def test_a_single_kept_member_gives_the_caruana_ensemble(pmlb_dir, tmp_path):
    X, target, _, _ = _table(pmlb_dir, DATASET, 300)
    builder = _builder(tmp_path, X, target, ("linear",))
    selection = builder.select()
    assert selection.stack is None
    final = builder.assemble()
    assert isinstance(final.model, BaggedEnsemble) and final.stack is None
    assert final.ensemble == [(builder.by_id[0].config_id, 1.0)]


def test_stacking_off_keeps_the_caruana_ensemble(stacked_builder):
    builder, _, _ = stacked_builder
    off = CostModel(builder.deadline, builder.families, builder.history, len(builder.splits), deterministic=False,
                    refit_enabled=False, best_kept=lambda: None, all_rows=len(builder.p.y), stacking=False)
    assert not off.stacking and off.final_reserve < builder.cost.final_reserve  # (no time kept for it either)
    on = builder.cost
    builder.cost = off
    try:
        assert builder.select().stack is None
    finally:
        builder.cost = on
    deterministic = CostModel(builder.deadline, builder.families, builder.history, 5, deterministic=True,
                              refit_enabled=False, best_kept=lambda: None, all_rows=len(builder.p.y))
    assert not deterministic.stacking  # (max_trials: the recorded Caruana bag, unless asked for)


def test_threshold_and_compact_work_with_a_stack(pmlb_dir, tmp_path):
    X, target, X_test, _ = _table(pmlb_dir, "phoneme", 600, n_test=100)
    # (with the random forest: on phoneme the stack of these four wins; with the extra trees it does not)
    builder = _builder(tmp_path, X, target, ("lightgbm", "linear", "knn", "random_forest"), metric="accuracy",
                       compact=True)
    selection = builder.select()
    assert selection.stack is not None and selection.threshold is not None  # (accuracy: a threshold metric)
    # the threshold is tuned on the stack's out-of-fold probabilities, and the model applies it
    assert selection.loss <= selection.stack.loss
    final = builder.assemble()
    assert final.compaction is not None  # compact compares the best single member with the stack
    assert final.compaction.ensemble_score == pytest.approx(builder.p.metric.to_score(selection.loss))
    assert isinstance(final.model, StackedEnsemble if final.compaction.kept == "ensemble" else BaggedEnsemble)
    builder.p.compact = False
    final = builder.assemble()
    assert isinstance(final.model, StackedEnsemble) and final.model.threshold == final.threshold == selection.threshold
    proba = final.model.predict_proba(X_test)
    assert np.array_equal(final.model.predict(X_test), (proba[:, 1] >= final.threshold).astype(int))


def test_a_short_fit_with_stacking_stays_inside_its_budget(pmlb_dir):
    X, target, _, _ = _table(pmlb_dir, DATASET, 800)
    budget = 5.0
    start = time.monotonic()
    model = AutoMLClassifier(time_budget=budget, seed=0, n_jobs=2, write_back=False).fit(X, target.y)
    elapsed = time.monotonic() - start
    assert elapsed < budget + 1.5, elapsed  # loose: a busy machine
    info = model.fit_info_["final_model"]
    assert "stack" in info and (info["stack"] is None or info["family"] == "stack")
    assert np.allclose(model.predict_proba(X.iloc[:20]).sum(axis=1), 1.0)


def test_the_regression_stack_is_non_negative_and_scored_out_of_fold(pmlb_dir, tmp_path):
    X, target, _, _ = _table(pmlb_dir, "581_fri_c3_500_25", 400)
    builder = _builder(tmp_path, X, target, ("lightgbm", "linear", "knn"))
    rows = np.concatenate([va for _, va in builder.splits])
    candidates = {i: builder.kept[i].oof[rows] for i in sorted(builder.kept, key=lambda i: builder.by_id[i].loss)}
    oof_rows = OofRows(builder.p.y[rows], None, builder.p.metric, "regression", 0)
    folds = outer_folds(oof_rows, seed=0)
    choice = choose_stack(candidates, list(candidates), oof_rows, folds, selection_seconds=0.0,
                          time_left=lambda: float("inf"))
    assert (choice.stacker.weights_ >= 0).all() and len(choice.members) >= 1
    y, preds = builder.p.y[rows], list(candidates.values())
    oof = np.zeros(len(rows))
    for train, held in KFold(n_splits=3, shuffle=True, random_state=0).split(rows):
        oof[held] = Stacker("regression", 0).fit([p[train] for p in preds], y[train]).predict([p[held] for p in preds])
    assert choice.loss == pytest.approx(float(np.sqrt(np.mean((oof - y) ** 2))), rel=1e-9)  # (rmse)


def test_outer_folds_keep_whole_groups_together():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 12, size=300)
    rows = OofRows(rng.integers(0, 2, size=300), None, get_metric(None, "binary"), "binary", 2)
    folds = outer_folds(rows, seed=0, groups=groups)
    assert len(folds) == 3 and sorted(np.concatenate(folds)) == list(range(300))
    assert all(not set(groups[a]) & set(groups[b]) for i, a in enumerate(folds) for b in folds[i + 1:])


def test_a_search_asked_to_stack_returns_the_stack_it_chose(pmlb_dir):
    X, target, X_test, y_test = _table(pmlb_dir, DATASET, 450, n_test=150)
    problem = SearchProblem(X, target.y, target.task, get_metric(None, target.task), seed=0, families=DIVERSE,
                            stacking=True)  # (max_trials alone would not stack: its recorded Caruana bag stays)
    result = optimize(problem, Deadline(300), strategy="bo", max_trials=len(DIVERSE))
    assert result.stack is not None and isinstance(result.model, StackedEnsemble)
    assert result.best_loss == pytest.approx(result.stack.loss) and result.stack.loss < result.stack.caruana_loss
    assert [cid for cid, _ in result.ensemble] == list(result.stack.members)
    assert abs(sum(w for _, w in result.ensemble) - 1.0) < 1e-9
    proba = result.model.predict_proba(X_test)
    assert np.allclose(proba.sum(axis=1), 1.0) and (proba.argmax(axis=1) == y_test).mean() > 0.5


def test_a_fit_that_stacks_reports_it_and_saves_it(pmlb_dir, tmp_path):
    X, target, X_test, _ = _table(pmlb_dir, DATASET, 450, n_test=100)
    # stacking=True: max_trials alone leaves it off
    model = AutoMLClassifier(time_budget=300, max_trials=len(DIVERSE), include=DIVERSE, strategy="bo", seed=0,
                             write_back=False, stacking=True).fit(X, target.y)
    head = model.leaderboard_.iloc[0]
    assert head["kind"] == "final" and head["family"] == "stack" and head["pipeline"].startswith("stack of ")
    stack = model.fit_info_["final_model"]["stack"]
    assert stack["members"] == [cid for cid, _ in model.ensemble_] and stack["loss"] < stack["caruana_loss"]
    assert model.manifest()["fit"]["final_model"]["family"] == "stack"
    model.save(tmp_path / "m")
    loaded = AutoMLClassifier.load(tmp_path / "m")
    assert np.allclose(loaded.predict_proba(X_test), model.predict_proba(X_test))
    assert np.allclose(model.predict_proba(X_test).sum(axis=1), 1.0)
    off = AutoMLClassifier(time_budget=300, max_trials=len(DIVERSE), include=DIVERSE, strategy="bo", seed=0,
                           write_back=False, stacking=False).fit(X, target.y)
    assert off.leaderboard_.iloc[0]["family"] != "stack" and off.fit_info_["final_model"].get("stack") is None


def test_the_stacking_parameter_is_true_false_or_none(pmlb_dir):
    from automl.exceptions import InputError
    X, target, _, _ = _table(pmlb_dir, DATASET, 200, n_test=50)
    with pytest.raises(InputError, match="'stacking' parameter must be True, False or None"):
        AutoMLClassifier(time_budget=5, stacking="yes").fit(X, target.y)
