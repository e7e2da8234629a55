"""optimize end to end on small data with tiny budgets: isolation, budget, determinism, warm start,
interrupt, resume, strategies, refit, fallback, threshold, sample weights. Behaviour only; speed is measured
by benchmarks/bench_search.py."""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from automl.deadline import Deadline
from automl.metrics import get_metric
from automl.models import REGISTRY
from automl.search import SearchProblem, optimize
from automl.search.messages import TrialRequest, TrialResult
from automl.search.runner import Executor
from automl.search.trial import run_trial
from knowledge_base.canonical import config_id
from tests.search.conftest import make_problem


def _check_model(result, problem: SearchProblem):
    X = problem.X.iloc[:7]
    pred = result.model.predict(X)
    assert pred.shape == (7,)
    if problem.task != "regression":
        proba = result.model.predict_proba(X)
        k = int(problem.y.max()) + 1
        assert proba.shape == (7, k) and np.allclose(proba.sum(axis=1), 1.0)
        assert set(pred) <= set(range(k))
    assert abs(sum(w for _, w in result.ensemble) - 1.0) < 1e-9
    assert {cid for cid, _ in result.ensemble} <= {t.config_id for t in result.trials}


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_failing_hanging_and_memory_hungry_trials_do_not_stop_the_search(faulty_family, started_fork_server, n_jobs):
    p = make_problem(n=200, n_jobs=n_jobs, families=("faulty_test", "lightgbm"))
    suggestions = [{"config": {"family": "faulty_test", "mode": m}, "origin": "kb", "explanation": "test"}
                   for m in ("raise", "memory", "hang")]
    suggestions.append({"config": REGISTRY.get("lightgbm").default_config(), "origin": "kb"})
    start = time.monotonic()
    # (a 1 s trial timeout: the hanging trial is stopped after it and its kill grace, and lightgbm runs after it)
    result = optimize(p, Deadline(6), strategy="warm", suggestions=suggestions, trial_timeout=1.0)
    assert time.monotonic() - start < 7.5
    by_mode = {t.config.get("mode"): t for t in result.trials if t.family == "faulty_test"}
    assert by_mode["raise"].status == "failed" and "always fails" in by_mode["raise"].error
    assert by_mode["memory"].status == "failed" and "memory" in by_mode["memory"].error
    assert by_mode["hang"].status == "timeout" and by_mode["hang"].error
    # the suggestions are the search's first trials (the early trial runs beside them in the driver)
    assert [t.origin for t in result.trials if t.origin != "early"][:4] == ["kb"] * 4
    assert any(t.status == "ok" and t.family == "lightgbm" for t in result.trials)
    assert result.best_config["family"] == "lightgbm"
    _check_model(result, p)


def test_budget_is_honoured_and_a_model_is_returned(started_fork_server):
    p = make_problem(n=300, n_jobs=2)
    start = time.monotonic()
    result = optimize(p, Deadline(4), strategy="warm")
    elapsed = time.monotonic() - start
    assert elapsed < 4.5, elapsed  # loose: a busy machine; speed is for the benchmark
    assert result.timings["elapsed"] <= elapsed and result.timings["overhead_seconds"] >= 0
    assert result.protocol == "cv5"
    assert len(result.trials) >= 2 and result.model.predict(p.X).shape == (300,)
    _check_model(result, p)


def test_deterministic_with_max_trials_and_two_workers():
    runs = []
    for _ in range(2):
        p = make_problem(n=150, n_jobs=2)
        r = optimize(p, Deadline(120), strategy="bo", max_trials=10)
        runs.append(([(t.config_id, t.status, t.fidelity, t.score, t.loss) for t in r.trials],
                     r.model.predict_proba(p.X), r.ensemble))
    assert len(runs[0][0]) == 10
    assert runs[0][0] == runs[1][0]
    assert np.array_equal(runs[0][1], runs[1][1])
    assert runs[0][2] == runs[1][2]


def test_warm_suggestions_are_evaluated_first_and_tagged():
    p = make_problem(n=150)
    knn = {"family": "knn", "n_neighbors": 3}
    suggestions = [{"config": knn, "origin": "kb", "explanation": "best on a similar task"},
                   {"config": {"family": "linear", "C": 0.5}, "origin": "kb", "explanation": ""},
                   {"config": {"family": "not_a_family"}, "origin": "kb", "explanation": ""},
                   {"config": knn, "origin": "kb", "explanation": "duplicate"}]
    r = optimize(p, Deadline(60), strategy="warm", suggestions=suggestions, max_trials=3)
    assert [t.origin for t in r.trials] == ["kb", "kb", "portfolio"]
    assert r.trials[0].config_id == config_id(REGISTRY.get("knn").complete(knn))
    assert r.trials[2].family == "lightgbm"  # the static portfolio follows the suggestions
    # a complete suggestion keeps its id; the portfolio fills the trials after it
    suggestion = REGISTRY.get("extra_trees").complete({"family": "extra_trees", "n_estimators": 60,
                                                       "max_features": 0.3})
    r = optimize(make_problem(), Deadline(30), strategy="warm", max_trials=3,
                 suggestions=[{"config": suggestion, "origin": "kb", "explanation": "test"}])
    assert r.trials[0].config_id == config_id(suggestion) and r.trials[0].origin == "kb"
    assert [t.origin for t in r.trials[1:]] == ["portfolio", "portfolio"]


def test_warm_suggestions_choosing_an_excluded_step_are_left_out_by_the_search():
    from automl.models.steps import uses_any
    p = make_problem(n=150, families=("linear",))
    p.exclude_steps = ("pca",)
    pca = {"family": "linear", "C": 0.5, "construction": "pca"}
    plain = {"family": "linear", "C": 0.25}
    suggestions = [{"config": pca, "origin": "kb"}, {"config": plain, "origin": "kb"}]
    r = optimize(p, Deadline(60), strategy="warm", suggestions=suggestions, max_trials=2)
    linear = REGISTRY.get("linear")
    assert r.trials[0].origin == "kb" and r.trials[0].config_id == config_id(linear.complete(plain, "binary"))
    assert not any(uses_any(t.config, ("pca",)) for t in r.trials)


def test_interrupt_returns_the_best_so_far():
    p = make_problem(n=150)

    def stop_after_two(event):
        assert {"elapsed", "n_trials", "best_score"} <= set(event)
        if event["n_trials"] >= 2:
            raise KeyboardInterrupt

    start = time.monotonic()
    r = optimize(p, Deadline(60), strategy="warm", callback=stop_after_two)
    assert time.monotonic() - start < 30
    assert r.timings["interrupted"] is True
    # (a result that arrives while the search stops is recorded too)
    assert len([t for t in r.trials if t.status == "ok"]) >= 2
    _check_model(r, p)


class _OneResultPerPoll(Executor):
    """Two slots; the trials run in this process, and each ``collect`` hands out one result: the second of two
    trials finishes while the search stops. ``told`` records what was handed out, ``closed`` the close."""

    def __init__(self, data: dict) -> None:
        self.data, self.pending, self.told, self.closed = data, [], {}, False

    def free_slots(self) -> int:
        return 2 - len(self.pending)

    def running(self) -> list[int]:
        return [r.trial_id for r in self.pending]

    def submit(self, request: TrialRequest, timeout: float) -> None:
        self.pending.append(request)

    def collect(self, wait_seconds: float) -> list[tuple[int, TrialResult]]:
        if not self.pending:
            return []
        request = self.pending.pop(0)
        self.told[request.trial_id] = run_trial(request, self.data)
        return [(request.trial_id, self.told[request.trial_id])]

    def close(self) -> None:
        self.closed = True


def test_a_callback_that_stops_on_every_result_loses_none_and_closes_the_workers():
    """The callback raises KeyboardInterrupt on every trial, so also on the result that arrives while the search
    stops: the search still returns the best so far, records every result its workers handed over and closes them."""
    runners = []

    def factory(data, n_workers, workdir):
        runners.append(_OneResultPerPoll(data))
        return runners[-1]

    def always_stop(event):
        raise KeyboardInterrupt

    p = make_problem(n=150)
    r = optimize(p, Deadline(60), strategy="bo", callback=always_stop, executor_factory=factory)
    assert r.timings["interrupted"] is True and runners[0].closed
    by_id = {t.trial_id: t for t in r.trials}
    assert len(runners[0].told) == 2  # the second arrived as the search stopped
    assert all(by_id[i].status == result.status for i, result in runners[0].told.items())
    assert all(t.status.finished for t in r.trials)
    _check_model(r, p)


@pytest.mark.parametrize("n_first, keep_details", [(3, True), (4, False)])
def test_resume_replays_the_history_without_running_it_again(n_first, keep_details):
    """The history replays as given, or without the trials' ``details`` (fold losses, curves)."""
    p = make_problem(n=150)
    first = optimize(p, Deadline(60), strategy="bo", max_trials=n_first)
    previous = [dataclasses.asdict(t) if keep_details else {k: v for k, v in vars(t).items() if k != "details"}
                for t in first.trials]
    second = optimize(p, Deadline(60), strategy="bo", max_trials=2, history=previous)
    replayed = [t for t in second.trials if t.replayed]
    assert [t.config_id for t in replayed] == [t.config_id for t in first.trials]
    fresh = [t for t in second.trials if not t.replayed]
    assert len(fresh) == 2 and fresh[0].origin == "resumed"  # the earlier best again, for its models
    best_before = min((t for t in first.trials if t.status == "ok"), key=lambda t: t.loss)
    assert fresh[0].config_id == best_before.config_id
    assert fresh[1].config_id not in {t.config_id for t in first.trials}
    _check_model(second, p)


@pytest.mark.parametrize("strategy, task", [("random", "multiclass"), ("hyperband", "regression"), ("bo", "binary")])
def test_other_strategies_and_tasks(strategy, task):
    p = make_problem(task=task, n=150)
    r = optimize(p, Deadline(60), strategy=strategy, max_trials=3)
    origins = [t.origin for t in r.trials]
    assert origins == (["random"] * 3 if strategy == "random" else ["default"] * 3)
    _check_model(r, p)


def test_bad_strategy_and_family_are_input_errors():
    from automl.exceptions import InputError
    p = make_problem(n=60)
    with pytest.raises(InputError, match="strategy"):
        optimize(p, Deadline(5), strategy="genetic")
    p.families = ("lightgbm", "nope")
    with pytest.raises(InputError, match="valid:"):
        optimize(p, Deadline(5))


def test_holdout_members_are_refit_on_every_row(monkeypatch, started_fork_server):
    import automl.search.core as core
    monkeypatch.setattr(core, "choose_protocol", lambda n: "holdout0.2")
    p = make_problem(n=400, n_jobs=2, families=("lightgbm", "linear"))
    r = optimize(p, Deadline(6), strategy="bo")
    assert r.protocol == "holdout0.2"
    assert r.timings["refit"], r.timings  # at least the best member was refit within the budget
    assert all(len(models) == 1 for models in r.model.members)
    _check_model(r, p)


def test_cv_members_are_refit_on_every_row_and_join_their_fold_models(started_fork_server):
    p = make_problem(n=400, n_jobs=2, families=("lightgbm", "linear"))
    r = optimize(p, Deadline(6), strategy="bo")
    assert r.protocol == "cv5"
    assert r.timings["refit"], r.timings  # at least the best member was refit within the budget
    refit_ids = set(r.timings["refit"])
    sizes = {cid: len(models) for (cid, _), models in zip(r.ensemble, r.model.members)}
    assert all(sizes[cid] == 6 for cid in refit_ids), sizes  # 5 fold models + the refit on every row
    assert all(n == 5 for cid, n in sizes.items() if cid not in refit_ids), sizes
    refit_trials = [t for t in r.trials if t.refit]
    assert {t.config_id for t in refit_trials} == refit_ids
    _check_model(r, p)


def test_fallback_model_without_any_trial_early_stops_instead_of_overfitting():
    """No trial fits in the budget: the LightGBM fallback early-stops on a holdout, so on pure noise it stays
    near the constant predictor (rounds run until the deadline would overfit far beyond it)."""
    from sklearn.metrics import log_loss
    rng = np.random.default_rng(0)
    p = make_problem(task="multiclass", n=600)
    noise = rng.integers(0, int(p.y.max()) + 1, size=len(p.y))
    p = dataclasses.replace(p, y=noise)
    result = optimize(p, Deadline(0.2), strategy="bo")
    assert result.timings.get("fallback") and not [t for t in result.trials if t.status == "ok"]
    X_new = p.X.sample(frac=1.0, random_state=1)
    y_new = rng.integers(0, int(p.y.max()) + 1, size=len(X_new))
    k = int(p.y.max()) + 1
    constant = log_loss(y_new, np.tile(np.bincount(noise, minlength=k) / len(noise), (len(y_new), 1)),
                        labels=np.arange(k))
    assert log_loss(y_new, result.model.predict_proba(X_new), labels=np.arange(k)) < constant + 0.05


def test_a_threshold_metric_gets_a_decision_threshold():
    p = make_problem(n=300, seed=2)
    imbalanced = np.where(p.y == 1, (np.random.default_rng(1).random(300) < 0.3).astype(int), 0)
    r = optimize(SearchProblem(p.X, imbalanced, "binary", get_metric("f1", "binary"), seed=0), Deadline(30),
                 strategy="bo", max_trials=4)
    assert r.threshold is None or 0.0 < r.threshold < 1.0
    assert r.model.predict(p.X).shape == (300,)


def test_sample_weights_reach_training_and_scoring():
    p = make_problem(n=200)
    weights = np.where(p.y == 1, 5.0, 1.0)
    weighted = SearchProblem(p.X, p.y, p.task, get_metric("accuracy", "binary"), seed=0, sample_weight=weights,
                             families=("lightgbm", "knn"))
    r = optimize(weighted, Deadline(30), strategy="bo", max_trials=3)
    plain = optimize(SearchProblem(p.X, p.y, p.task, get_metric("accuracy", "binary"), seed=0,
                                   families=("lightgbm", "knn")), Deadline(30), strategy="bo", max_trials=3)
    assert [t.config_id for t in r.trials] == [t.config_id for t in plain.trials]
    assert [t.score for t in r.trials] != [t.score for t in plain.trials]  # weighted validation scores
    assert (r.model.predict(p.X) == 1).mean() >= (plain.model.predict(p.X) == 1).mean()
