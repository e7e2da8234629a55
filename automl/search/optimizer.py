"""The optimiser: an ask/tell loop over an executor, with warm start, ASHA fidelities and ensembling.

Initial design (knowledge-base suggestions, then the portfolio, deduplicated by id) -> the
sampler (random or surrogate) -> asynchronous successive halving over training-share fidelities
-> greedy ensemble selection over out-of-fold predictions -> the final model is the bag of fold
models of the selected members (no refit, so assembling it costs almost nothing).
"""
from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable

import joblib
import numpy as np
import pandas as pd

from knowledge_base.canonical import config_id

from ..deadline import Deadline
from ..ensembling import BaggedEnsemble, greedy_selection, tune_threshold
from ..exceptions import BudgetError, InputError
from ..metrics import Metric
from ..models import REGISTRY
from .brackets import ASHA, fidelity_rungs
from .history import FAILED, OK, TIMEOUT, History, Trial
from .portfolio import static_portfolio
from .runner import Executor, LocalRunner
from .samplers import BOSampler, RandomSampler
from .trial import fit_one, predict_one, score_predictions
from .validation import choose_protocol, make_splits

log = logging.getLogger("automl")

STRATEGIES = ("warm", "bo", "hyperband", "random")
KEEP_TOP = 15  # trials whose out-of-fold predictions and fold models are kept for the ensemble


@dataclass
class SearchProblem:
    X: pd.DataFrame
    y: np.ndarray
    task: str
    metric: Metric
    seed: int = 0
    n_jobs: int = 1
    sample_weight: np.ndarray | None = None
    families: tuple[str, ...] | None = None  # allowed model families (None: all for the task)


@dataclass
class SearchResult:
    model: object
    trials: list[Trial]
    best_config: dict
    best_score: float
    best_loss: float
    ensemble: list[tuple[str, float]]
    protocol: str
    timings: dict = field(default_factory=dict)


def _allowed_families(problem: SearchProblem):
    families = REGISTRY.for_task(problem.task, len(problem.y))
    if problem.families is not None:
        unknown = [f for f in problem.families if f not in REGISTRY]
        if unknown:
            raise InputError(f"unknown model family {unknown[0]!r}; valid: {', '.join(REGISTRY.keys())}")
        families = [f for f in families if f.key in problem.families]
    if not families:
        raise InputError(f"no model family is allowed for a {problem.task} task with {len(problem.y)} rows")
    return families


class _Search:
    def __init__(self, problem: SearchProblem, deadline: Deadline, strategy: str, suggestions, prior,
                 max_trials: int | None, callback: Callable | None, executor_factory=None, history=()) -> None:
        if strategy not in STRATEGIES:
            raise InputError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
        self.p = problem
        self.deadline = deadline
        self.strategy = strategy
        self.max_trials = max_trials
        self.callback = callback
        self.start = time.monotonic()
        self.families = _allowed_families(problem)
        self.family_keys = {f.key for f in self.families}
        self.rng = np.random.default_rng(problem.seed)
        n = len(problem.y)
        self.protocol = choose_protocol(n)
        self.splits = make_splits(problem.y, problem.task, self.protocol, problem.seed)
        self.rungs = [1.0] if strategy == "random" else fidelity_rungs(n)
        self.asha = ASHA(self.rungs)
        if strategy in ("bo", "warm"):
            self.sampler = BOSampler(self.families, self.rng, prior if strategy == "warm" else ())
        else:
            self.sampler = RandomSampler(self.families, self.rng)
        self.queue: list[tuple[dict, str]] = self._initial_design(suggestions)
        self.history = History()
        self.by_id: dict[int, Trial] = {}
        self._replay(history)
        self.kept: dict[int, dict] = {}  # trial_id -> {"oof", "models_path"}
        self.n_classes = int(problem.y.max()) + 1 if problem.task != "regression" else 0
        budget = deadline.remaining()
        self.final_reserve = 0.3 + 0.02 * budget
        self.trial_cap = max(3.0, 0.4 * budget)
        self.workdir = tempfile.mkdtemp(prefix="automl-search-")
        self.executor_factory = executor_factory
        self.interrupted = False

    def _replay(self, previous) -> None:
        """Resume: earlier trials inform the sampler; the earlier best is evaluated again first (for its models)."""
        best = None
        for old in previous:
            config = old.get("config") or {}
            if config.get("family") not in self.family_keys:
                continue
            t = Trial(trial_id=len(self.history.trials), config=config, config_id=config_id(config),
                      family=config["family"], fidelity=float(old.get("fidelity", 1.0)),
                      origin=old.get("origin") or "resumed", status=old.get("status", FAILED),
                      score=old.get("score"), loss=old.get("loss"), fit_seconds=float(old.get("fit_seconds") or 0.0),
                      error=old.get("error"), extra={"replayed": True})
            self.history.add(t)
            if t.status == OK and t.loss is not None and (best is None or (t.fidelity, -t.loss) > (best.fidelity,
                                                                                                   -best.loss)):
                best = t
        if best is not None:
            self.queue.insert(0, (best.config, "resumed"))

    # ------------------------------------------------------------------ ask
    def _initial_design(self, suggestions) -> list[tuple[dict, str]]:
        design: list[tuple[dict, str]] = []
        if self.strategy == "warm":
            for s in suggestions:
                config = s.get("config", {})
                if config.get("family") in self.family_keys:
                    design.append((REGISTRY.get(config["family"]).complete(config), s.get("origin", "kb")))
        if self.strategy in ("warm", "bo", "hyperband"):
            design += [(c, "portfolio") for c in static_portfolio(self.families)]
        seen, unique = set(), []
        for config, origin in design:
            cid = config_id(config)
            if cid not in seen:
                seen.add(cid)
                unique.append((config, origin))
        return unique

    def _next_job(self) -> tuple[dict, str, float, int] | None:
        promotion = self.asha.next_promotion()
        if promotion is not None:
            cid, rung = promotion
            source = next(t for t in self.history.trials if t.config_id == cid)
            return source.config, "promoted", self.rungs[rung], rung
        for _ in range(50):
            if self.queue:
                config, origin = self.queue.pop(0)
            else:
                config, origin = self.sampler.propose(self.history)
            if origin == "resumed":  # the earlier best, evaluated again for its models
                return config, origin, 1.0, len(self.rungs) - 1
            if not self.history.seen(config_id(config), self.rungs[0]):
                return config, origin, self.rungs[0], 0
        return None

    def _fits_in_time(self, config: dict, fidelity: float) -> bool:
        if self.max_trials is not None:
            return True
        estimate = self.history.cost_estimate(config["family"], fidelity)
        left = self.deadline.remaining() - self.final_reserve
        return left > 0.2 and (estimate is None or estimate * 1.2 < left)

    # ------------------------------------------------------------------ tell
    def _record(self, trial_id: int, result: dict) -> None:
        t = self.by_id[trial_id]
        t.status = result.get("status", FAILED)
        t.score, t.loss = result.get("score"), result.get("loss")
        t.fit_seconds = float(result.get("fit_seconds") or 0.0)
        t.error = result.get("error")
        t.ended = time.monotonic() - self.start
        if t.status == OK:
            self.asha.report(t.rung, t.config_id, t.loss)
            if "oof" in result:
                self.kept[trial_id] = {"oof": result["oof"], "models_path": result.get("models_path")}
                self._trim_kept()
        elif t.error:
            log.debug("trial %d (%s) %s: %s", trial_id, t.family, t.status, t.error)
        if self.callback is not None:
            best = self.history.best(1.0) or self.history.best()
            try:
                self.callback({"elapsed": time.monotonic() - self.start, "n_trials": len(self.history.finished()),
                               "best_score": best.score if best else None, "trial": t})
            except Exception as exc:  # a display problem never stops the search
                log.debug("progress callback failed: %s", exc)

    def _trim_kept(self) -> None:
        if len(self.kept) <= KEEP_TOP:
            return
        ranked = sorted(self.kept, key=lambda i: self.by_id[i].loss)
        for trial_id in ranked[KEEP_TOP:]:
            path = self.kept.pop(trial_id).get("models_path")
            if path:
                try:
                    import os
                    os.remove(path)
                except OSError:
                    pass

    # ------------------------------------------------------------------ loop
    def run(self) -> SearchResult:
        data = {"X": self.p.X, "y": self.p.y, "task": self.p.task, "metric": self.p.metric,
                "splits": self.splits, "seed": self.p.seed, "user_families": REGISTRY.user_families(),
                "sample_weight": self.p.sample_weight}
        n_workers = max(1, int(self.p.n_jobs))
        executor: Executor = (self.executor_factory or LocalRunner)(data, n_workers, self.workdir)
        try:
            try:
                self._loop(executor)
            except KeyboardInterrupt:
                self.interrupted = True
                log.warning("interrupted: stopping the search and keeping the best model so far")
        finally:
            for trial_id in executor.running():
                self._record(trial_id, {"status": TIMEOUT, "error": "stopped at the end of the search",
                                        "fit_seconds": 0.0})
            executor.close()
        try:
            return self._assemble()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _loop(self, executor: Executor) -> None:
        deterministic = self.max_trials is not None
        submitted = 0
        while True:
            out_of_time = self.deadline.remaining() <= self.final_reserve
            limit_reached = self.max_trials is not None and submitted >= self.max_trials
            can_submit = not out_of_time and not limit_reached
            if deterministic and executor.running():
                can_submit = False  # synchronous batches: same trials whatever the timing
            while can_submit and executor.free_slots() > 0:
                if self.max_trials is not None and submitted >= self.max_trials:
                    break
                job = self._next_job()
                if job is None or not self._fits_in_time(job[0], job[2]):
                    can_submit = False
                    break
                config, origin, fidelity, rung = job
                trial = Trial(trial_id=len(self.history.trials), config=config, config_id=config_id(config),
                              family=config["family"], fidelity=fidelity, origin=origin, status="running",
                              started=time.monotonic() - self.start, rung=rung)
                self.history.add(trial)
                self.by_id[trial.trial_id] = trial
                timeout = max(0.1, min(self.trial_cap, self.deadline.remaining() - self.final_reserve))
                executor.submit(trial.trial_id, {"trial_id": trial.trial_id, "config": config,
                                                 "fidelity": fidelity, "seconds": timeout,
                                                 "keep_models_dir": self.workdir}, timeout)
                submitted += 1
            if not executor.running():
                if not can_submit:
                    return
                continue
            wait = min(0.25, max(0.0, self.deadline.remaining() - self.final_reserve))
            results = executor.collect(wait)
            if deterministic:
                while executor.running() and self.deadline.remaining() > self.final_reserve:
                    results += executor.collect(min(0.25, self.deadline.remaining()))
                results.sort(key=lambda r: r[0])
            for trial_id, result in results:
                self._record(trial_id, result)
            if self.deadline.remaining() <= self.final_reserve and executor.running():
                return

    # ------------------------------------------------------------------ result
    def _assemble(self) -> SearchResult:
        trials = self.history.trials
        candidates = sorted((i for i in self.kept if self.kept[i].get("models_path")),
                            key=lambda i: self.by_id[i].loss)
        if not candidates:
            return self._fallback_result()
        y = self.p.y
        rows = np.concatenate([va for _, va in self.splits])
        preds = [self.kept[i]["oof"][rows] for i in candidates]
        metric, task = self.p.metric, self.p.task

        sw = None if self.p.sample_weight is None else self.p.sample_weight[rows]

        def loss_fn(pred):
            return metric.to_loss(score_predictions(metric, y[rows], pred, task, sw))

        best_single = self.by_id[candidates[0]]
        members, weights, ensemble_loss = [candidates[0]], [1.0], best_single.loss
        if len(candidates) > 1 and self.deadline.remaining() > 0.1:
            w, loss = greedy_selection(preds, loss_fn)
            if loss < best_single.loss - 1e-9 and sum(1 for x in w if x > 0) > 1:
                members = [candidates[j] for j, x in enumerate(w) if x > 0]
                weights = [x for x in w if x > 0]
                ensemble_loss = loss
        threshold = None
        if task == "binary" and not metric.needs_proba:  # threshold metrics: tune the decision threshold
            avg = sum(w * self.kept[i]["oof"][rows] for i, w in zip(members, weights)) / sum(weights)
            t, tuned = tune_threshold(y[rows], avg, lambda yt, labels: metric.score(yt, labels, sample_weight=sw))
            if metric.to_loss(tuned) < ensemble_loss - 1e-12:
                threshold, ensemble_loss = t, metric.to_loss(tuned)
        model = BaggedEnsemble([joblib.load(self.kept[i]["models_path"]) for i in members], weights,
                               task, self.n_classes, threshold=threshold)
        fit_total = sum(t.fit_seconds for t in trials)
        elapsed = time.monotonic() - self.start
        return SearchResult(
            model=model, trials=trials, best_config=best_single.config,
            best_score=float(metric.to_score(ensemble_loss)), best_loss=float(ensemble_loss),
            ensemble=[(self.by_id[i].config_id, float(w)) for i, w in zip(members, weights)],
            protocol=self.protocol,
            timings={"elapsed": elapsed, "trial_seconds": fit_total, "n_workers": self.p.n_jobs,
                     "interrupted": self.interrupted, "single_best_loss": best_single.loss,
                     "threshold": threshold})

    def _fallback_result(self) -> SearchResult:
        """No full-fidelity trial finished: fit the most promising configuration once, on all rows.

        LightGBM keeps the rounds it managed before the deadline (a small model beats no model);
        with no finished trial at all, the default LightGBM is used.
        """
        best = self.history.best()
        lgb_default = REGISTRY.get("lightgbm").default_config() if "lightgbm" in self.family_keys else None
        config = best.config if best else (lgb_default or self.families[0].default_config())
        end = time.monotonic() + max(0.5, self.deadline.remaining())
        try:
            model = fit_one(config, self.p.X, self.p.y, self.p.task, self.n_classes, self.p.seed, end=end,
                            sample_weight=self.p.sample_weight, soft_deadline=True)
        except Exception as exc:
            raise BudgetError(f"the time budget was too short to fit any model ({exc}); increase the budget") \
                from None
        score = best.score if best else float("nan")
        loss = best.loss if best else float("nan")
        return SearchResult(model=BaggedEnsemble([[model]], [1.0], self.p.task, self.n_classes),
                            trials=self.history.trials, best_config=config, best_score=score, best_loss=loss,
                            ensemble=[(config_id(config), 1.0)], protocol=self.protocol,
                            timings={"elapsed": time.monotonic() - self.start, "fallback": True})


def optimize(problem: SearchProblem, deadline: Deadline, *, strategy: str = "warm", suggestions=(), prior=(),
             max_trials: int | None = None, callback: Callable | None = None,
             executor_factory=None, history=()) -> SearchResult:
    """Search ``problem`` until ``deadline`` (or ``max_trials``); returns the final model and the history.

    ``suggestions``: dicts ``{"config", "origin", "explanation"}`` tried first (warm strategy);
    ``prior``: dicts ``{"config", "fidelity", "normalised_score", "weight"}`` that shape the surrogate;
    ``history``: trial dicts of an earlier search on the same data (resume): replayed, not re-run.
    """
    return _Search(problem, deadline, strategy, list(suggestions), list(prior), max_trials, callback,
                   executor_factory, list(history)).run()


__all__ = ["SearchProblem", "SearchResult", "optimize", "STRATEGIES", "Trial", "OK", "FAILED", "TIMEOUT"]
