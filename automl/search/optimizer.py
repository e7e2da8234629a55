"""The optimiser: an ask/tell loop over an executor, with warm start, multi-fidelity scheduling and ensembling.

Roles (each small and replaceable): the initial design (knowledge-base suggestions, then the static
portfolio or the family defaults, deduplicated by id), the sampler (random, or the random-forest
surrogate with expected improvement, shaped by prior observations), the scheduler (asynchronous
successive halving for ``bo`` / ``warm`` (the top third of a rung, and each family's best in its better
half, are promoted), synchronous Hyperband brackets for ``hyperband``, over training-share fidelities; CV
folds raced at full fidelity), the runner (isolated worker processes) and
the history. At the end: greedy ensemble selection over out-of-fold predictions; the final model is the
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
import os
import shutil
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from knowledge_base.canonical import config_id

from ..deadline import Deadline
from ..exceptions import InputError
from ..metrics import Metric
from ..models import REGISTRY, upgrade_config
from ..models.steps import unused_slots
from ..stacking import StackReport
from ..timing import PhaseTiming
from .budget import CLOSING_SECONDS, MIN_TRIAL_SECONDS, POLL_SECONDS, CostModel
from .brackets import ASHA, Hyperband, fidelity_rungs
from .early import EarlyTrial, early_config, early_fidelity
from .final_model import Compaction, Fallback, FinalModelBuilder, KeptModels
from .history import EARLY, FAILED, OK, TIMEOUT, History, Trial
from .messages import Job, Status, TrialRequest, TrialResult, as_result
from .portfolio import family_defaults, static_portfolio
from .runner import Executor, LocalRunner, forkserver_cpu_seconds, load_search_data, write_search_data
from .samplers import BOSampler, RandomSampler
from .validation import Kind, SplitOptions, Validation, choose_protocol, choose_validation, make_splits
from .workdir import make_workdir

log = logging.getLogger("automl")

STRATEGIES = ("warm", "bo", "hyperband", "random")
HYPERBAND_ASKS = 5  # Hyperband asks its brackets this many times for a job that fits before waiting
FRESH_DRAWS = 50  # draws for a configuration not yet evaluated at a fidelity before giving up (space exhausted)
CHEAP_DRAWS = 5  # proposals among the families that fit before the time left is deemed too short
EARLY_JOIN_SECONDS = 5.0  # the early trial's thread writes its models into the work folder: it is awaited (it is
# bounded by its rows and learning rate) before the folder is removed, or it could recreate files in it
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
    exclude_steps: tuple[str, ...] = ()  # pipeline steps the search may not choose (automl.models.steps)
    split: SplitOptions | None = None  # the user's validation rows, groups or time order (None: by data size)
    compact: bool = False  # keep the best single member (refit on every row) when it is nearly as good
    stacking: bool | None = None  # a stack may replace the Caruana ensemble (stack_choice); None: not with max_trials


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


def _allowed_families(problem: SearchProblem):
    families = REGISTRY.for_task(problem.task, len(problem.y))
    if problem.families is not None:
        unknown = [f for f in problem.families if f not in REGISTRY]
        if unknown:
            raise InputError(f"unknown model family {unknown[0]!r}; valid: {', '.join(REGISTRY.keys())}")
        families = [f for f in families if f.key in problem.families]
    if not families:
        raise InputError(f"no model family is allowed for a {problem.task} task with {len(problem.y)} rows")
    return [f.without_steps((*problem.exclude_steps, *unused_slots(problem.X))) for f in families]


class _Search:
    def __init__(self, problem: SearchProblem, deadline: Deadline, strategy: str, suggestions, prior,
                 max_trials: int | None, callback: Callable | None, executor_factory=None, history=(),
                 trial_timeout: float | None = None) -> None:
        if strategy not in STRATEGIES:
            raise InputError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
        self.start = time.monotonic()
        self.p = problem
        self.deadline = deadline
        budget = deadline.remaining()
        self.strategy = strategy
        self.max_trials = max_trials
        self.callback = callback
        self.families = _allowed_families(problem)
        self.family_keys = {f.key for f in self.families}
        self.rng = np.random.default_rng(problem.seed)
        n = len(problem.y)
        split = problem.split
        self.validation = choose_validation(choose_protocol(n - (split.n_valid if split else 0)), split)
        self.protocol = self.validation.protocol
        self.splits = make_splits(problem.y, problem.task, self.validation, problem.seed, split)
        self.rungs = [1.0] if strategy == "random" else fidelity_rungs(n)
        self.asha = ASHA(self.rungs)
        self.hyperband = Hyperband(self.rungs) if strategy == "hyperband" else None
        if strategy in ("bo", "warm"):
            self.sampler = BOSampler(self.families, self.rng, self._upgraded(prior) if strategy == "warm" else (),
                                     deterministic=max_trials is not None, task=problem.task)
        else:
            self.sampler = RandomSampler(self.families, self.rng, task=problem.task)
        self.queue: list[tuple[dict, str]] = self._initial_design(suggestions)
        self.history = History()
        self.by_id: dict[int, Trial] = {}
        self._replay(history)
        self.kept: dict[int, KeptModels] = {}  # trial id -> its out-of-fold predictions and saved models
        self.n_classes = int(problem.y.max()) + 1 if problem.task != "regression" else 0
        # the selected models are refit on every row when time allows: under holdout the refit replaces the
        # holdout model; under CV it joins the member's fold models as one more bag member
        # (see ``FinalModelBuilder.member_models``)
        # (not under the user's validation set: the final model is trained on the training rows only)
        self.refit_enabled = max_trials is None and self.validation.kind is not Kind.USER
        self.cost = CostModel(deadline, self.families, self.history, len(self.splits),
                              deterministic=max_trials is not None, refit_enabled=self.refit_enabled,
                              best_kept=self._best_kept, trial_timeout=trial_timeout, budget=budget,
                              stacking=problem.stacking)
        self.final = FinalModelBuilder(problem, self.splits, self.validation, self.kept, self.by_id, self.history,
                                       self.families, deadline, self.cost, self.n_classes)
        self.workdir = make_workdir()
        self.executor_factory = executor_factory
        self.interrupted = False
        self.overhead = 0.0  # driver seconds while a worker waits: sampling, bookkeeping, ensembling
        self.prefetch_seconds = 0.0  # driver seconds spent proposing the next job while every worker was busy
        self._prefetched = None  # the next job, proposed ahead while the workers were busy
        self.timings: dict = {}
        self.startup: list[PhaseTiming] = []
        self.early: tuple[int, EarlyTrial] | None = None  # (trial id, the early trial) until it is recorded
        self.early_thread = None  # the early trial's thread, also after it was recorded as timed out

    def _upgraded(self, items) -> list[dict]:
        """``items`` (dicts with a ``config``: suggestions, prior observations, earlier trials) with each
        configuration canonical for this task in the current space (a knowledge base or a saved search may
        hold configurations of space version 1); those of unregistered families left out."""
        out = []
        for item in items:
            config = upgrade_config(item.get("config") or {}, self.p.task)
            if config is not None:
                out.append({**item, "config": config})
        return out

    def _replay(self, previous) -> None:
        """Resume: earlier trials inform the sampler; the earlier best is evaluated again first (for its models)."""
        best = None
        for old in self._upgraded(previous):
            config = old["config"]
            if config.get("family") not in self.family_keys:
                continue
            t = Trial(trial_id=len(self.history.trials), config=config, config_id=config_id(config),
                      family=config["family"], fidelity=float(old.get("fidelity", 1.0)),
                      origin=old.get("origin") or "resumed", status=Status(old.get("status", FAILED)),
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
        """warm: the suggestions (tagged with their origin) in the knowledge base's order (each chosen to
        complement the ones before it on the nearest datasets), then the static portfolio's entries for the
        families no suggestion covers (the whole portfolio when there is no suggestion); bo / hyperband: the
        family defaults; random: nothing. Deduplicated by configuration id, first occurrence kept."""
        design: list[tuple[dict, str]] = []
        if self.strategy == "warm":
            for s in self._upgraded(suggestions):
                if s["config"]["family"] in self.family_keys:
                    design.append((s["config"], s.get("origin") or "kb"))
            covered = {config["family"] for config, _ in design}
            design += [(c, "portfolio") for c in static_portfolio(self.families, self.p.task)
                       if c["family"] not in covered]
        elif self.strategy in ("bo", "hyperband"):
            design += [(c, "default") for c in family_defaults(self.families, self.p.task)]
        seen, unique = set(), []
        for config, origin in design:
            cid = config_id(config)
            if cid not in seen:
                seen.add(cid)
                unique.append((config, origin))
        return unique

    def _fresh_config(self, fidelity: float) -> tuple[dict, str] | None:
        """The next configuration not yet evaluated at ``fidelity``: the initial design, then the sampler."""
        for _ in range(FRESH_DRAWS):
            if self.queue:
                config, origin = self.queue.pop(0)
            else:
                config, origin = self.sampler.propose(self.history)
            if origin == "resumed" or not self.history.seen(config_id(config), fidelity):
                return config, origin
        return None

    def _next_job(self) -> Job | None:
        """The scheduler's next job (a promotion or a fresh configuration), or None when nothing new is found."""
        if self.hyperband is not None:
            bracket, rung, cid = self.hyperband.next_job()
            if cid is not None:
                return Job(self.history.config(cid), "promoted", self.rungs[rung], rung, bracket)
            fresh = self._fresh_config(self.rungs[rung])
            if fresh is None:
                self.hyperband.report(bracket, rung, f"none-{len(self.history.trials)}", float("inf"))
                return None
            return Job(fresh[0], fresh[1], self.rungs[rung], rung, bracket)
        promotion = self.asha.next_promotion(
            fits=lambda cid, rung: self.cost.fits_in_time(self.history.config(cid), self.rungs[rung]))
        if promotion is not None:
            cid, rung = promotion
            return Job(self.history.config(cid), "promoted", self.rungs[rung], rung)
        rung = self._entry_rung()
        fresh = self._fresh_config(self.rungs[rung])
        if fresh is None:
            return None
        if fresh[1] == "resumed":  # the earlier best, evaluated again for its models
            return Job(fresh[0], fresh[1], 1.0, len(self.rungs) - 1)
        return Job(fresh[0], fresh[1], self.rungs[rung], rung)

    def _entry_rung(self) -> int:
        """The rung a new configuration starts at: the lowest, unless the time left cannot pay for ``eta``
        full-fidelity runs of the best configuration so far (its estimate, over all workers). Then
        screening on a share of the rows could promote nothing, and the final ensemble would be built
        from models that saw a third of the data (201_pol at 10 s: no full-fidelity trial, RMSE 5.1
        against 3.2 for random search at full fidelity): new configurations run at full fidelity."""
        last = len(self.rungs) - 1
        if last == 0 or self.max_trials is not None:
            return 0
        best = self.history.best()
        if best is None:
            return 0
        full = self.cost.seconds(best.config, 1.0)
        if full is None:
            return 0
        left = self.cost.search_left() * max(1, int(self.p.n_jobs))
        return last if self.asha.eta * full > left else 0

    def _cheap_job(self) -> Job | None:
        """A configuration that fits in the time left, of a family whose cheapest configurations can (the
        surrogate's best among the configurations that fit, for ``bo`` / ``warm``); None if no family fits."""
        fidelity = self.rungs[0]
        units = {f.key: self.cost.unit_seconds(f.key, fidelity) for f in self.families}

        def fits(config: dict) -> bool:
            unit = units.get(config["family"])
            return unit is not None and self.cost.fits_in_time(config, fidelity, unit)

        affordable = {f.key for f in self.families
                      if units[f.key] is not None and self.cost.time_allows(units[f.key] * f.min_relative_cost())}
        if not affordable:
            return None
        for _ in range(CHEAP_DRAWS):
            config, origin = self.sampler.propose(self.history, families=affordable, fits=fits)
            if config["family"] in affordable and fits(config) and not self.history.seen(config_id(config), fidelity):
                return Job(config, origin, fidelity, 0)
        return None

    def _best_kept(self) -> Trial | None:
        """The best trial whose models are kept (None: none is)."""
        return self.by_id[min(self.kept, key=lambda i: (self.by_id[i].loss, i))] if self.kept else None

    def _race_against(self, fidelity: float) -> list[float] | None:
        """The incumbent's per-fold losses (CV at full fidelity only), for racing the next trial."""
        if fidelity < 1.0 or len(self.splits) < 2:
            return None
        full = [t for t in self.history.ok(1.0) if len(t.extra.get("fold_losses") or ()) == len(self.splits)
                and not t.extra.get("raced_out")]
        if not full:
            return None
        return list(min(full, key=lambda t: t.loss).extra["fold_losses"])

    # ------------------------------------------------------------------ tell
    def _running_seconds(self, trial_id: int) -> float:
        """Seconds since ``trial_id`` started (a trial stopped while running is charged for them)."""
        return time.monotonic() - self.start - self.by_id[trial_id].started

    def tell(self, trial_id: int, answer: TrialResult | dict) -> None:
        """Record a trial's result: its status and scores, the scheduler's rung or bracket, the kept models (within
        ``KEEP_TOP``) and the progress callback."""
        result = as_result(answer)
        t = self.by_id[trial_id]
        t.status = result.status
        t.score, t.loss = result.score, result.loss
        t.fit_seconds = result.fit_seconds
        t.error = result.error
        t.ended = time.monotonic() - self.start
        for key in ("fold_losses", "raced_out", "rounds", "curve", "truncated"):
            value = getattr(result, key)
            if value is not None:
                t.extra[key] = list(value) if key == "fold_losses" else value
        if t.extra.get("raced_out"):  # what the full evaluation would have cost (for the time estimates)
            t.extra["full_seconds"] = t.fit_seconds * len(self.splits) / t.extra["raced_out"]
        if t.status == OK:
            if t.origin != EARLY:  # (the early trial runs beside the scheduler, on a share of rows that is no rung)
                self.asha.report(t.rung, t.config_id, t.loss, t.family)
            if result.oof is not None and result.models_path:
                self.kept[trial_id] = KeptModels(result.oof, result.models_path)
                self._trim_kept()
        elif t.error:
            log.debug("trial %d (%s) %s: %s", trial_id, t.family, t.status, t.error)
        if self.hyperband is not None and t.extra.get("bracket") is not None:
            loss = t.loss if t.status == OK and t.loss is not None else float("inf")
            self.hyperband.report(t.extra["bracket"], t.rung, t.config_id, loss)
        if self.callback is not None:
            best = self.history.best(1.0) or self.history.best()
            event = {"elapsed": time.monotonic() - self.start, "remaining": self.deadline.remaining(),
                     "n_trials": len(self.history.finished()), "best_score": best.score if best else None,
                     "best_loss": best.loss if best else None, "trial": t}
            try:
                self.callback(event)
            except Exception as exc:  # a display problem never stops the search
                log.debug("progress callback failed: %s", exc)

    def _kept_set(self) -> set[int]:
        """The trials whose predictions and fold models stay: the best ``KEEP_TOP``, and the best of every
        family (a surrogate that settles on one family still leaves the ensemble diverse members)."""
        ranked = sorted(self.kept, key=lambda i: (self.by_id[i].loss, i))
        keep = set(ranked[:KEEP_TOP])
        families: set[str] = set()
        for trial_id in ranked:
            family = self.by_id[trial_id].family
            if family not in families:
                families.add(family)
                keep.add(trial_id)
        return keep

    def _keep_below(self, family: str) -> float | None:
        """The loss a new trial of ``family`` must beat to enter the kept set (None: it enters anyway)."""
        if len(self.kept) < KEEP_TOP:
            return None
        same = [self.by_id[i].loss for i in self.kept if self.by_id[i].family == family]
        if not same:
            return None
        ranked = sorted(self.by_id[i].loss for i in self.kept)
        return max(ranked[KEEP_TOP - 1], min(same))

    def _trim_kept(self) -> None:
        """Bounded disk and memory: only the trials of ``_kept_set`` keep predictions and fold models."""
        if len(self.kept) <= KEEP_TOP:
            return
        keep = self._kept_set()
        for trial_id in [i for i in self.kept if i not in keep]:
            path = self.kept.pop(trial_id).models_path
            if path:
                try:
                    os.remove(path)
                except OSError:
                    pass

    # ------------------------------------------------------------------ loop
    def run(self) -> SearchResult:
        try:
            return self._run()
        finally:
            if self.early_thread is not None:
                self.early_thread.join(EARLY_JOIN_SECONDS)
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _run(self) -> SearchResult:
        data = {"X": self.p.X, "y": self.p.y, "task": self.p.task, "metric": self.p.metric,
                "splits": self.splits, "seed": self.p.seed, "user_families": REGISTRY.user_families(),
                "sample_weight": self.p.sample_weight, "split": self.p.split}
        n_workers = max(1, int(self.p.n_jobs))
        executor: Executor | None = None
        try:
            try:
                data = self._share_table(data)  # before the early trial, which would keep the private copy alive
                self._start_early(data)
                # when start-up took the budget (a busy machine), starting workers would only overrun it
                if self.cost.search_left() >= MIN_TRIAL_SECONDS:
                    started, cpu = time.monotonic(), time.thread_time()
                    executor = (self.executor_factory or LocalRunner)(data, n_workers, self.workdir)
                    self.timings["startup_seconds"] = time.monotonic() - started
                    self.startup.append(PhaseTiming("worker_start", self.timings["startup_seconds"],
                                                    time.thread_time() - cpu + forkserver_cpu_seconds(),
                                                    "driver thread + fork server"))
                    self._loop(executor)
                    self._collect_early(wait=max(0.0, self.deadline.remaining() - CLOSING_SECONDS), final=True)
                    if self.refit_enabled or (self.p.compact and self.validation.kind is not Kind.USER):
                        self._stop_trials_for_refit(executor)
                        self.final.refit(executor, self.workdir, self.refit_enabled)
            except KeyboardInterrupt:
                self.interrupted = True
        finally:
            waited = 0.0 if self.interrupted else max(0.0, self.deadline.remaining() - CLOSING_SECONDS)
            self._collect_early(wait=waited, final=True)
            if executor is not None:
                # results that arrived as an interrupt came are kept; the trials still running are stopped
                arrived = executor.collect(POLL_SECONDS) if self.interrupted else []
                stopped = [(trial_id, TrialResult.failed("stopped at the end of the search", 0.0, Status.TIMEOUT))
                           for trial_id in executor.running()]
                for trial_id, result in arrived + stopped:
                    if trial_id in self.by_id:  # (refit requests are not trials)
                        self.tell(trial_id, result)
                executor.close()
        if self.interrupted:
            if not self.kept:  # no model so far to keep: the interrupt stands
                raise KeyboardInterrupt
            log.warning("interrupted: the search stopped; keeping the best model so far")
        started = time.monotonic()
        result = self._assemble()
        result.validation = self.validation
        self.overhead += time.monotonic() - started
        result.timings.update(self._timings(assemble=time.monotonic() - started))
        result.startup = tuple(self.startup)
        return result

    def _start_early(self, data: dict) -> None:
        """Start the early trial: a cheap configuration (LightGBM's defaults at a high learning rate, else the
        cheapest family's defaults) on at most ``early.EARLY_TRAIN_ROWS`` training rows of each of the search's own
        folds, in a thread of the driver. It is a normal trial (origin ``early``): scored on the same validation
        rows, kept for the ensemble, written back. Not in deterministic mode, nor with too little time left, nor
        on a Dask cluster (its workers run already: the early trial covers the start-up of local workers)."""
        left = self.cost.search_left()
        on_cluster = getattr(self.executor_factory, "cluster", None) is not None  # (dask_executor_factory's)
        if self.max_trials is not None or left < MIN_TRIAL_SECONDS or on_cluster:
            return
        config = early_config(self.families, self.p.task)
        trial = Trial(trial_id=len(self.history.trials), config=config, config_id=config_id(config),
                      family=config["family"], fidelity=early_fidelity(self.splits), origin=EARLY,
                      status=Status.RUNNING, started=time.monotonic() - self.start)
        self.history.add(trial)
        self.by_id[trial.trial_id] = trial
        request = TrialRequest(trial_id=trial.trial_id, config=config, fidelity=trial.fidelity, seconds=left,
                               keep_models_dir=self.workdir)  # (bounded by its rows and learning rate)
        self.early = (trial.trial_id, EarlyTrial(request, data))
        self.early_thread = self.early[1].thread

    def _collect_early(self, wait: float = 0.0, final: bool = False) -> None:
        """Record the early trial once it has finished, waiting at most ``wait`` seconds; ``final``: one still
        running is recorded as timed out (its thread ends at its own deadline)."""
        if self.early is None:
            return
        trial_id, early = self.early
        early.thread.join(wait)
        if early.thread.is_alive():
            if final:
                self.early = None
                self.tell(trial_id, TrialResult.failed("the early trial did not finish in time",
                                                          self._running_seconds(trial_id), Status.TIMEOUT))
            return
        self.early = None
        self.tell(trial_id, early.result or TrialResult.failed("the early trial stopped"))
        self.startup.append(PhaseTiming("first_trial", early.wall_seconds, early.cpu_seconds, "thread"))

    def _share_table(self, data: dict) -> dict:
        """Write the search data once to the work folder and return it memory-mapped from there: the workers map
        the same file (the executors do not write it again), and the driver reads the table from it (same values,
        read-only) instead of keeping its own copy. ``problem.X`` is replaced in place, so the caller's frame is
        freed when the caller holds no other reference to it."""
        shared = load_search_data(write_search_data(data, self.workdir))
        self.p.X = shared["X"]
        return shared

    def ask(self) -> Job | None:
        """The next job that can finish in the time left (None: nothing fits). A job that cannot is skipped:
        Hyperband asks its brackets again; the others ask once more for the best job among those that fit
        (``_cheap_job``), rather than re-drawing proposals until one happens to be cheap (re-drawing filled the
        end of a search on large data with k-NN and linear models no ensemble could use)."""
        for _ in range(HYPERBAND_ASKS if self.hyperband is not None else 1):
            raw, self._prefetched = self._prefetched or self._next_job(), None
            if raw is None:
                break
            job = Job._make(raw)
            if self.cost.fits_in_time(job.config, job.fidelity):
                return job
            if self.hyperband is not None and job.bracket is not None:
                # a bracket slot that will not run: tell the bracket, so it does not wait for it
                self.hyperband.report(job.bracket, job.rung, config_id(job.config) + "-skipped", float("inf"))
            elif job.origin == "promoted":  # (proposed ahead, while it still fit) not lost: promotable again
                self.asha.release(config_id(job.config), job.rung)
        if self.hyperband is None:
            cheap = self._cheap_job()  # the time left suits only a cheaper family
            return None if cheap is None else Job._make(cheap)
        return None

    def _submit(self, executor: Executor, job: Job) -> None:
        config, origin, fidelity, rung, bracket = job
        trial = Trial(trial_id=len(self.history.trials), config=config, config_id=config_id(config),
                      family=config["family"], fidelity=fidelity, origin=origin, status=Status.RUNNING,
                      started=time.monotonic() - self.start, rung=rung)
        if bracket is not None:
            trial.extra["bracket"] = bracket
        self.history.add(trial)
        self.by_id[trial.trial_id] = trial
        timeout = self.cost.trial_timeout()
        race = self._race_against(fidelity) if origin != "resumed" else None
        # bounded disk: only a trial entering the kept set saves its fold models (``keep_below``)
        request = TrialRequest(trial_id=trial.trial_id, config=config, fidelity=fidelity, seconds=timeout,
                               keep_models_dir=self.workdir, keep_below=self._keep_below(trial.family),
                               race=None if race is None else tuple(race))
        executor.submit(trial.trial_id, request.as_dict(), timeout)

    def _loop(self, executor: Executor) -> None:
        deterministic = self.max_trials is not None
        submitted = 0
        while True:
            self._collect_early()
            out_of_time = self.cost.search_left() <= 0
            limit_reached = self.max_trials is not None and submitted >= self.max_trials
            can_submit = not out_of_time and not limit_reached
            if deterministic and executor.running():
                can_submit = False  # synchronous batches: same trials whatever the timing
            while can_submit and executor.free_slots() > 0:
                if self.max_trials is not None and submitted >= self.max_trials:
                    break
                ticks = time.monotonic()
                job = self.ask()
                if job is not None:
                    self._submit(executor, job)
                    submitted += 1
                self.overhead += time.monotonic() - ticks
                if job is None:
                    can_submit = False
            if not executor.running():
                if not can_submit:
                    return
                if executor.free_slots() == 0:  # every worker is gone (e.g. a lost Dask cluster): stop now
                    log.warning("no worker is left to run trials; the search stops early")
                    return
                continue
            if can_submit and not deterministic and self._prefetched is None and executor.free_slots() == 0:
                # asynchronous: propose the next job while every worker is busy, so a worker that frees up
                # gets it at once (the proposal misses only the results still running, as in async BO)
                ticks = time.monotonic()
                self._prefetched = self._next_job()
                self.prefetch_seconds += time.monotonic() - ticks
            wait = min(POLL_SECONDS, max(0.0, self.cost.search_left()))
            results = executor.collect(wait)
            if deterministic:
                while executor.running() and self.deadline.remaining() > self.cost.final_reserve:
                    results += executor.collect(min(POLL_SECONDS, self.deadline.remaining()))
                results.sort(key=lambda r: r[0])  # submission order, not completion order
            ticks = time.monotonic()
            for trial_id, result in results:
                self.tell(trial_id, result)
            self.overhead += time.monotonic() - ticks
            if self.cost.search_left() <= 0 and executor.running():
                return

    # ------------------------------------------------------------------ result
    def _timings(self, assemble: float) -> dict:
        elapsed = time.monotonic() - self.start
        return {"budget": self.cost.budget, "elapsed": elapsed,
                "trial_seconds": sum(t.fit_seconds for t in self.history.trials if not t.extra.get("replayed")),
                "overhead_seconds": self.overhead, "prefetch_seconds": self.prefetch_seconds,
                "startup_seconds": self.timings.get("startup_seconds", 0.0),
                "assemble_seconds": assemble, "refit_seconds": self.final.refit_seconds,
                "n_workers": self.p.n_jobs, "interrupted": self.interrupted, "strategy": self.strategy}

    def _stop_trials_for_refit(self, executor: Executor) -> None:
        """Before the final refit: record what arrived, stop the trials past their share of the time (the refit
        comes first) and wait for the others until the final reserve."""
        for trial_id, result in executor.collect(0.0):
            self.tell(trial_id, result)
        for trial_id in executor.running():
            if executor.cancel(trial_id):
                self.tell(trial_id, TrialResult.failed("stopped for the final refit", self._running_seconds(trial_id),
                                                          Status.TIMEOUT))
        while executor.running() and self.deadline.remaining() > self.cost.final_reserve:
            left = self.deadline.remaining() - self.cost.final_reserve
            for trial_id, result in executor.collect(min(POLL_SECONDS, left)):
                self.tell(trial_id, result)

    def _assemble(self) -> SearchResult:
        final = self.final.assemble()
        timings = {"fallback": True} if final.fallback else {"single_best_loss": final.single_best_loss,
                                                               "refit": list(final.refit)}
        return SearchResult(model=final.model, trials=self.history.trials, best_config=final.best_config,
                            best_score=final.best_score, best_loss=final.best_loss, ensemble=final.ensemble,
                            protocol=self.protocol, timings=timings, fallback=final.fallback,
                            threshold=final.threshold, compaction=final.compaction, stack=final.stack)


def optimize(problem: SearchProblem, deadline: Deadline, *, strategy: str = "warm", suggestions=(), prior=(),
             max_trials: int | None = None, callback: Callable | None = None,
             executor_factory=None, history=(), trial_timeout: float | None = None) -> SearchResult:
    """Search ``problem`` until ``deadline`` (or ``max_trials``); returns the final model and the history.

    ``suggestions``: dicts ``{"config", "origin", "explanation"}`` tried first (warm strategy);
    ``prior``: dicts ``{"config", "fidelity", "normalised_score", "weight"}`` that shape the surrogate;
    ``history``: trial dicts of an earlier search on the same data (resume): replayed, not re-run;
    ``executor_factory(data, n_workers, workdir) -> Executor`` (default: local worker processes);
    ``trial_timeout``: seconds one trial may take (default 40 % of the budget, at least 3 s).
    ``problem.X`` is replaced by the workers' memory-mapped copy (same values, read-only) before any trial runs.
    ``callback(event)`` runs in the driver after every trial: elapsed, remaining, n_trials, best_score,
    best_loss, trial. Ctrl-C (KeyboardInterrupt) stops the search and returns the best model so far.
    """
    return _Search(problem, deadline, strategy, list(suggestions), list(prior), max_trials, callback,
                   executor_factory, list(history), trial_timeout).run()


__all__ = ["SearchProblem", "SearchResult", "Fallback", "Compaction", "optimize", "STRATEGIES", "Trial", "OK",
           "FAILED", "TIMEOUT"]
