"""The optimiser: a loop over the ask/tell core (``core.SearchCore``) and an executor, then the final model.

The core holds the roles (initial design, sampler, scheduler, history, time model, kept models); the loop asks it
for jobs while workers are free, runs them on the executor (isolated worker processes, or Dask) and tells it the
results. At the end: greedy ensemble selection over out-of-fold predictions; the final model is the
bag of the selected members' fold (or holdout) models, each member also refit on every row in the workers
when the time kept for it allows (a member not refit keeps its fold models, so the result always fits in
the budget). ``compact``: the best single member alone (its refit) when it is nearly as good as the ensemble.
While the workers start, an early trial runs in a thread of the driver, so a search always has a validated
model; only when even that had no time is the final model the fallback (one configuration fitted on the training
rows of one of the search's folds, scored on its validation rows, reported as ``SearchResult.fallback``).

Strategies: ``random`` (random configurations at full fidelity), ``hyperband`` (random configurations in
Hyperband brackets, family defaults first), ``bo`` (family defaults, then the surrogate, ASHA), ``warm``
(suggestions, then the static portfolio, then the surrogate with the prior, ASHA).
"""
from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd

from ..data.loading import release_unused_memory
from ..deadline import Deadline
from ..metrics import Metric
from ..models import REGISTRY
from ..stacking import StackReport
from ..timing import PhaseTiming
from .budget import CLOSING_SECONDS, MIN_TRIAL_SECONDS, POLL_SECONDS
from .core import STRATEGIES, SearchCore
from .early import EarlySlot
from .final_model import Compaction, Fallback, FinalModelBuilder
from .history import FAILED, OK, TIMEOUT, Trial
from .messages import Status, TrialResult
from .runner import (Executor, LocalRunner, default_memory_limit, forkserver_cpu_seconds, load_search_data,
                     write_search_data)
from .validation import Kind, SplitOptions, Validation
from .workdir import make_workdir

if TYPE_CHECKING:
    from ..cost_prior import CostPrior

log = logging.getLogger("automl")


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
    exclude_steps: tuple[str, ...] = ()  # pipeline steps the search may not choose (automl.models.steps)
    split: SplitOptions | None = None  # the user's validation rows, groups or time order (None: by data size)
    compact: bool = False  # keep the best single member (refit on every row) when it is nearly as good
    stacking: bool | None = None  # a stack may replace the Caruana ensemble (stack_choice); None: not with max_trials
    cost_prior: CostPrior | None = None  # the store's prior on seconds (automl.cost_prior); unused with max_trials
    infer_limit: float | None = None  # the final model's estimated prediction seconds per row at most (predict_cost)
    memory_limit: int | None = None  # bytes the fit's processes may hold (trial_memory); None: a share of the machine's


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
    validation: Validation | None = None
    fallback: Fallback | None = None  # set when no trial's models could be kept
    threshold: float | None = None  # the decision threshold (threshold metrics on binary tasks)
    startup: tuple[PhaseTiming, ...] = ()  # the search's start-up phases: worker start, first trial
    compaction: Compaction | None = None  # set with ``compact=True``
    stack: StackReport | None = None  # set when the final model is a stack


class _Search:
    """One ``optimize`` call: the core, the executor it runs on, the early trial and the final model."""

    def __init__(self, problem: SearchProblem, deadline: Deadline, strategy: str, suggestions, prior,
                 max_trials: int | None, callback: Callable | None, executor_factory=None, history=(),
                 trial_timeout: float | None = None) -> None:
        self.workdir = make_workdir()
        on_cluster = getattr(executor_factory, "cluster", None) is not None  # (dask_executor_factory's)
        try:
            self.core = SearchCore(problem, deadline, strategy, self.workdir, suggestions=suggestions, prior=prior,
                                   max_trials=max_trials, callback=callback, history=history,
                                   trial_timeout=trial_timeout, memory_limit=search_memory_limit(problem, on_cluster))
        except BaseException:
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise
        self.p, self.deadline, self.max_trials = problem, deadline, max_trials
        core = self.core
        self.final = FinalModelBuilder(problem, core.splits, core.validation, core.kept.models, core.by_id,
                                       core.history, core.families, deadline, core.cost, core.n_classes, core.memory)
        self.executor_factory, self.on_cluster = executor_factory, on_cluster
        self.interrupted = False
        self.overhead = 0.0  # driver seconds while a worker waits: sampling, bookkeeping, ensembling
        self.prefetch_seconds = 0.0  # driver seconds spent proposing the next job while every worker was busy
        self.startup_seconds = 0.0  # starting the executor's workers
        self.startup: list[PhaseTiming] = []
        self.early = EarlySlot()

    def run(self) -> SearchResult:
        try:
            return self._run()
        finally:
            self.early.join()
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _run(self) -> SearchResult:
        core = self.core
        data = {"X": self.p.X, "y": self.p.y, "task": self.p.task, "metric": self.p.metric,
                "splits": core.splits, "seed": self.p.seed, "user_families": REGISTRY.user_families(),
                "sample_weight": self.p.sample_weight, "split": self.p.split}
        executor: Executor | None = None
        try:
            try:
                data = self._share_table(data)  # before the early trial, which would keep the private copy alive
                release_unused_memory()  # (the fit's private table and the raw one are freed by now)
                self._start_early(data)
                # when start-up took the budget (a busy machine), starting workers would only overrun it
                if core.cost.search_left() >= MIN_TRIAL_SECONDS:
                    executor = self._start_executor(data)
                    self._loop(executor)
                    self._stop_if_requested()
                    self._warn_if_cut_short(executor)
                    self._collect_early(wait=max(0.0, self.deadline.remaining() - CLOSING_SECONDS), final=True)
                    self._stop_if_requested()
                    if core.refit_enabled or (self.p.compact and core.validation.kind is not Kind.USER):
                        self._stop_trials_for_refit(executor)
                        self.final.refit(executor, self.workdir, core.refit_enabled)
            except KeyboardInterrupt:
                self.interrupted = True
        finally:
            self._close(executor)
        self.interrupted = self.interrupted or core.stop_requested
        if core.memory.refusal():
            log.warning(core.memory.refusal())
        if self.interrupted:
            if not core.kept:  # no model so far to keep: the interrupt stands
                raise KeyboardInterrupt
            log.warning("interrupted: the search stopped; keeping the best model so far")
        started = time.monotonic()
        result = self._assemble()
        self.overhead += time.monotonic() - started
        result.timings.update(self._timings(assemble=time.monotonic() - started))
        return result

    def _stop_if_requested(self) -> None:
        """Stop as Ctrl-C does when the progress callback asked to (``SearchCore.stop_requested``): the callback's
        KeyboardInterrupt is held until every result at hand is told, so none of them is lost."""
        if self.core.stop_requested:
            raise KeyboardInterrupt

    def _start_executor(self, data: dict) -> Executor:
        """The executor's workers (local processes by default), their start-up timed as a phase."""
        started, cpu = time.monotonic(), time.thread_time()
        executor = (self.executor_factory or LocalRunner)(data, max(1, int(self.p.n_jobs)), self.workdir)
        self.startup_seconds = time.monotonic() - started
        self.startup.append(PhaseTiming("worker_start", self.startup_seconds,
                                        time.thread_time() - cpu + forkserver_cpu_seconds(),
                                        "driver thread + fork server"))
        return executor

    def _close(self, executor: Executor | None) -> None:
        """Record the early trial, the results that arrived as an interrupt came, and the trials still running as
        stopped; close the executor."""
        waited = 0.0 if self.interrupted else max(0.0, self.deadline.remaining() - CLOSING_SECONDS)
        self._collect_early(wait=waited, final=True)
        if executor is None:
            return
        arrived = executor.collect(POLL_SECONDS) if self.interrupted else []
        stopped = [(trial_id, TrialResult.failed("stopped at the end of the search", 0.0, Status.TIMEOUT))
                   for trial_id in executor.running()]
        for trial_id, result in arrived + stopped:
            if trial_id in self.core.by_id:  # (refit requests are not trials)
                self.core.tell(trial_id, result)
        executor.close()

    def _start_early(self, data: dict) -> None:
        """Start the early trial: a cheap configuration (LightGBM's defaults at a high learning rate, else the
        cheapest family's defaults) on a share of the training rows, in a thread of the driver (``early``). It is a
        normal trial: scored on the same validation rows, kept for the ensemble, written back. Not in deterministic
        mode, nor with too little time left, nor on a Dask cluster (its workers run already: the early trial covers
        the start-up of local workers)."""
        left = self.core.cost.search_left()
        if self.max_trials is None and left >= MIN_TRIAL_SECONDS and not self.on_cluster:
            self.early.start(self.core, data, left)

    def _collect_early(self, wait: float = 0.0, final: bool = False) -> None:
        """Tell the core the early trial's result once it has finished (``EarlySlot.collect``)."""
        phase = self.early.collect(self.core, wait, final)
        if phase is not None:
            self.startup.append(phase)

    def _share_table(self, data: dict) -> dict:
        """Write the search data once to the work folder and return it memory-mapped from there: the workers map
        the same file (the executors do not write it again), and the driver reads the table from it (same values,
        read-only) instead of keeping its own copy. ``problem.X`` is replaced in place, so the caller's frame is
        freed when the caller holds no other reference to it."""
        shared = load_search_data(write_search_data(data, self.workdir))
        self.p.X = shared["X"]
        return shared

    def _loop(self, executor: Executor) -> None:
        """Ask for jobs while workers are free and time is left, run them, tell the results. Deterministic mode
        (``max_trials``) runs synchronous batches told in submission order: the same trials whatever the timing."""
        core, deterministic = self.core, self.max_trials is not None
        submitted = 0
        while True:
            self._collect_early()
            self._stop_if_requested()
            can_submit = core.cost.search_left() > 0 and not (deterministic and submitted >= self.max_trials)
            if deterministic and executor.running():
                can_submit = False
            while can_submit and executor.free_slots() > 0 and not (deterministic and submitted >= self.max_trials):
                ticks = time.monotonic()
                job = core.ask()
                if job is not None and not core.admits(job):  # it waits for a running trial to end
                    core.defer(job)
                    job = None
                if job is not None:
                    request = core.start(job)
                    executor.submit(request, request.seconds)
                    submitted += 1
                self.overhead += time.monotonic() - ticks
                can_submit = job is not None
            if not executor.running():
                if not can_submit:
                    return
                if executor.free_slots() == 0:  # every worker is gone (e.g. a lost Dask cluster): stop now
                    log.warning("no worker is left to run trials; the search stops early")
                    return
                continue
            if can_submit and not deterministic and executor.free_slots() == 0:
                ticks = time.monotonic()
                core.prefetch()
                self.prefetch_seconds += time.monotonic() - ticks
            self._tell_all(self._collect(executor, deterministic))
            if core.cost.search_left() <= 0 and executor.running():
                return

    def _warn_if_cut_short(self, executor: Executor) -> None:
        """Warn when the time budget ended a deterministic search before its ``max_trials`` trials had finished:
        which trials ran then depends on the machine's speed."""
        if self.max_trials is None or self.core.cost.search_left() > 0:
            return
        started = sum(1 for t in self.core.history.trials if not t.replayed)
        running = len(executor.running())
        if running or started < self.max_trials:
            log.warning("the time budget ran out after %d of max_trials=%d trials (%d stopped running): a search "
                        "cut short by time is not reproducible; a longer time budget gives the same trials on every "
                        "machine", started - running, self.max_trials, running)

    def _collect(self, executor: Executor, deterministic: bool) -> list[tuple[int, TrialResult]]:
        """The results that arrive within a poll; deterministic mode waits for the whole batch (until the final
        reserve) and orders it by submission, not completion."""
        results = executor.collect(min(POLL_SECONDS, max(0.0, self.core.cost.search_left())))
        if deterministic:
            while executor.running() and self.deadline.remaining() > self.core.cost.final_reserve:
                results += executor.collect(min(POLL_SECONDS, self.deadline.remaining()))
            results.sort(key=lambda r: r[0])
        return results

    def _tell_all(self, results: list[tuple[int, TrialResult]]) -> None:
        ticks = time.monotonic()
        for trial_id, result in results:
            self.core.tell(trial_id, result)
        self.overhead += time.monotonic() - ticks

    # ------------------------------------------------------------------ result
    def _stop_trials_for_refit(self, executor: Executor) -> None:
        """Before the final refit: record what arrived, stop the trials past their share of the time (the refit
        comes first) and wait for the others until the final reserve."""
        core = self.core
        for trial_id, result in executor.collect(0.0):
            core.tell(trial_id, result)
        for trial_id in executor.running():
            if executor.cancel(trial_id):
                core.tell(trial_id, TrialResult.failed("stopped for the final refit", core.running_seconds(trial_id),
                                                       Status.TIMEOUT))
        while executor.running() and self.deadline.remaining() > core.cost.final_reserve:
            left = self.deadline.remaining() - core.cost.final_reserve
            for trial_id, result in executor.collect(min(POLL_SECONDS, left)):
                core.tell(trial_id, result)

    def _timings(self, assemble: float) -> dict:
        core = self.core
        return {"budget": core.cost.budget, "elapsed": time.monotonic() - core.start_time,
                "trial_seconds": core.trial_seconds(), "overhead_seconds": self.overhead,
                "prefetch_seconds": self.prefetch_seconds, "startup_seconds": self.startup_seconds,
                "assemble_seconds": assemble, "refit_seconds": self.final.refit_seconds,
                "n_workers": self.p.n_jobs, "interrupted": self.interrupted, "strategy": core.strategy}

    def _assemble(self) -> SearchResult:
        final = self.final.assemble()
        timings = {"fallback": True} if final.fallback else {"single_best_loss": final.single_best_loss,
                                                               "refit": list(final.refit)}
        return SearchResult(model=final.model, trials=self.core.history.trials, best_config=final.best_config,
                            best_score=final.best_score, best_loss=final.best_loss, ensemble=final.ensemble,
                            protocol=self.core.validation.protocol, timings=timings, validation=self.core.validation,
                            fallback=final.fallback, threshold=final.threshold, startup=tuple(self.startup),
                            compaction=final.compaction, stack=final.stack)


def search_memory_limit(problem: SearchProblem, on_cluster: bool) -> int | None:
    """The memory the search's processes may hold: the problem's limit, else ``MEMORY_SHARE`` of this machine's
    memory; None (no limit) on a cluster without one (its workers' memory is the cluster's)."""
    if problem.memory_limit is not None:
        return int(problem.memory_limit)
    return None if on_cluster else default_memory_limit(1)


def optimize(problem: SearchProblem, deadline: Deadline, *, strategy: str = "warm", suggestions=(), prior=(),
             max_trials: int | None = None, callback: Callable | None = None,
             executor_factory=None, history=(), trial_timeout: float | None = None) -> SearchResult:
    """Search ``problem`` until ``deadline`` (or ``max_trials``); returns the final model and the history.

    ``suggestions``: dicts ``{"config", "origin", "explanation"}`` tried first (warm strategy; those of a family
    not allowed or choosing a step in ``problem.exclude_steps`` are left out: ``initial_design``);
    ``prior``: dicts ``{"config", "fidelity", "normalised_score", "weight"}`` that shape the surrogate;
    ``history``: trial dicts of an earlier search on the same data (resume): replayed, not re-run;
    ``executor_factory(data, n_workers, workdir) -> Executor`` (default: local worker processes);
    ``trial_timeout``: seconds one trial may take (default 40 % of the budget, at least 3 s).
    ``problem.X`` is replaced by the workers' memory-mapped copy (same values, read-only) before any trial runs.
    ``callback(event)`` runs in the driver after every trial: elapsed, remaining, n_trials, best_score,
    best_loss, trial. Ctrl-C (KeyboardInterrupt) stops the search and returns the best model so far; a callback
    that raises KeyboardInterrupt stops it the same way once the results at hand are recorded.
    """
    return _Search(problem, deadline, strategy, list(suggestions), list(prior), max_trials, callback,
                   executor_factory, list(history), trial_timeout).run()


__all__ = ["SearchProblem", "SearchResult", "Fallback", "Compaction", "optimize", "STRATEGIES", "Trial", "OK",
           "FAILED", "TIMEOUT"]
