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
import tempfile
import threading
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
from ..models import REGISTRY, upgrade_config
from ..timing import PhaseTiming
from .budget import CLOSING_SECONDS, MIN_TRIAL_SECONDS, CostModel
from .brackets import ASHA, Hyperband, fidelity_rungs
from .history import EARLY, FAILED, OK, TIMEOUT, History, Trial
from .messages import Status, TrialRequest, TrialResult, as_result
from .portfolio import family_defaults, static_portfolio
from .runner import Executor, LocalRunner, forkserver_cpu_seconds, load_search_data, write_search_data
from .samplers import BOSampler, RandomSampler
from .trial import fit_one, predict_one, refit_iterations, run_trial, score_predictions
from .validation import Kind, SplitOptions, Validation, choose_protocol, choose_validation, make_splits

log = logging.getLogger("automl")

STRATEGIES = ("warm", "bo", "hyperband", "random")
KEEP_TOP = 15  # trials whose out-of-fold predictions and fold models are kept for the ensemble
REFIT_ID_OFFSET = 1_000_000  # executor ids of refit requests (never trial ids)
EARLY_TRAIN_ROWS = 2_000  # training rows per fold of the early trial: LightGBM takes tenths of a second on them
EARLY_LEARNING_RATE = 0.2  # LightGBM's defaults at a high learning rate: early stopping after few rounds
COMPACT_TOLERANCE = 0.01  # compact keeps the best single member when its loss is within 1 % of the ensemble's


@dataclass(frozen=True)
class Fallback:
    """The final model when no trial's models could be kept: one configuration fitted once on the training rows of
    one of the search's folds and scored on its validation rows (``holdout_score`` None only when those rows hold
    a class the others lack, said in ``reason``)."""

    reason: str
    config_id: str
    family: str
    holdout_score: float | None
    holdout_rows: int


@dataclass(frozen=True)
class Compaction:
    """What ``compact=True`` kept: the best single member (``kept="single"``, refit on every row when ``refit``)
    or the ensemble, when the single member's validation loss was not within ``COMPACT_TOLERANCE`` of it."""

    kept: str
    member: str
    single_score: float
    ensemble_score: float
    refit: bool


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
    startup: tuple[PhaseTiming, ...] = ()  # the search's start-up phases: worker start, first trial
    compaction: Compaction | None = None  # set with ``compact=True``


def _allowed_families(problem: SearchProblem):
    families = REGISTRY.for_task(problem.task, len(problem.y))
    if problem.families is not None:
        unknown = [f for f in problem.families if f not in REGISTRY]
        if unknown:
            raise InputError(f"unknown model family {unknown[0]!r}; valid: {', '.join(REGISTRY.keys())}")
        families = [f for f in families if f.key in problem.families]
    if not families:
        raise InputError(f"no model family is allowed for a {problem.task} task with {len(problem.y)} rows")
    return [f.without_steps(problem.exclude_steps) for f in families]


WORKDIR_PREFIX = "automl-search-"


def sweep_orphaned_workdirs(root: str | None = None) -> list[str]:
    """Remove search folders (``automl-search-PID-*``) left behind by processes that were killed.

    The folder name carries the owner's process id; a folder whose owner is gone is removed. Folders of
    live processes, and folders without a process id (older versions), are left alone.
    """
    root = root or tempfile.gettempdir()
    removed = []
    try:
        names = os.listdir(root)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(WORKDIR_PREFIX):
            continue
        pid_text = name[len(WORKDIR_PREFIX):].split("-", 1)[0]
        if not pid_text.isdigit() or _process_alive(int(pid_text)):
            continue
        path = os.path.join(root, name)
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.exists(path):
            removed.append(path)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's live process
        return True
    return True


class _EarlyTrial:
    """A trial run in a thread of the driver while the worker processes start (LightGBM releases the GIL while it
    trains), so that a model with a real validation score exists even when no worker trial finishes in time."""

    def __init__(self, request: TrialRequest, data: dict) -> None:
        self.result: TrialResult | None = None
        self.cpu_seconds = 0.0
        self.wall_seconds = 0.0
        self._started = time.monotonic()
        self.thread = threading.Thread(target=self._run, args=(request, data), name="automl-early-trial",
                                       daemon=True)
        self.thread.start()

    def _run(self, request: TrialRequest, data: dict) -> None:
        cpu = time.thread_time()
        try:
            self.result = as_result(run_trial(request.as_dict(), data))  # (a trial's errors become its status)
        finally:
            self.cpu_seconds = time.thread_time() - cpu
            self.wall_seconds = time.monotonic() - self._started


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
        self.kept: dict[int, dict] = {}  # trial_id -> {"oof", "models_path"}
        self.n_classes = int(problem.y.max()) + 1 if problem.task != "regression" else 0
        # the selected models are refit on every row when time allows: under holdout the refit replaces the
        # holdout model; under CV it joins the member's fold models as one more bag member (see ``_member_models``)
        # (not under the user's validation set: the final model is trained on the training rows only)
        self.refit_enabled = max_trials is None and self.validation.kind is not Kind.USER
        self.selection: dict | None = None
        self.cost = CostModel(deadline, self.families, self.history, len(self.splits),
                              deterministic=max_trials is not None, refit_enabled=self.refit_enabled,
                              best_kept=self._best_kept, trial_timeout=trial_timeout, budget=budget)
        sweep_orphaned_workdirs()
        self.workdir = tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-")
        self.executor_factory = executor_factory
        self.interrupted = False
        self.overhead = 0.0  # driver seconds while a worker waits: sampling, bookkeeping, ensembling
        self.prefetch_seconds = 0.0  # driver seconds spent proposing the next job while every worker was busy
        self._prefetched = None  # the next job, proposed ahead while the workers were busy
        self.timings: dict = {}
        self.startup: list[PhaseTiming] = []
        self.early: tuple[int, _EarlyTrial] | None = None  # (trial id, the early trial) until it is recorded

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
        for _ in range(50):
            if self.queue:
                config, origin = self.queue.pop(0)
            else:
                config, origin = self.sampler.propose(self.history)
            if origin == "resumed" or not self.history.seen(config_id(config), fidelity):
                return config, origin
        return None

    def _next_job(self) -> tuple[dict, str, float, int, int | None] | None:
        """(config, origin, fidelity, rung, bracket) of the next trial, or None when nothing new is found."""
        if self.hyperband is not None:
            bracket, rung, cid = self.hyperband.next_job()
            if cid is not None:
                return self.history.config(cid), "promoted", self.rungs[rung], rung, bracket
            fresh = self._fresh_config(self.rungs[rung])
            if fresh is None:
                self.hyperband.report(bracket, rung, f"none-{len(self.history.trials)}", float("inf"))
                return None
            return fresh[0], fresh[1], self.rungs[rung], rung, bracket
        promotion = self.asha.next_promotion(
            fits=lambda cid, rung: self.cost.fits_in_time(self.history.config(cid), self.rungs[rung]))
        if promotion is not None:
            cid, rung = promotion
            return self.history.config(cid), "promoted", self.rungs[rung], rung, None
        rung = self._entry_rung()
        fresh = self._fresh_config(self.rungs[rung])
        if fresh is None:
            return None
        if fresh[1] == "resumed":  # the earlier best, evaluated again for its models
            return fresh[0], fresh[1], 1.0, len(self.rungs) - 1, None
        return fresh[0], fresh[1], self.rungs[rung], rung, None

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

    def _cheap_job(self):
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
        for _ in range(5):
            config, origin = self.sampler.propose(self.history, families=affordable, fits=fits)
            if config["family"] in affordable and fits(config) and not self.history.seen(config_id(config), fidelity):
                return config, origin, fidelity, 0, None
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

    def _record(self, trial_id: int, answer: TrialResult | dict) -> None:
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
                self.kept[trial_id] = {"oof": result.oof, "models_path": result.models_path}
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
            path = self.kept.pop(trial_id).get("models_path")
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
                        self._refit_members(executor)
            except KeyboardInterrupt:
                self.interrupted = True
        finally:
            waited = 0.0 if self.interrupted else max(0.0, self.deadline.remaining() - CLOSING_SECONDS)
            self._collect_early(wait=waited, final=True)
            if executor is not None:
                # results that arrived as an interrupt came are kept; the trials still running are stopped
                arrived = executor.collect(0.25) if self.interrupted else []
                stopped = [(trial_id, TrialResult.failed("stopped at the end of the search", 0.0, Status.TIMEOUT))
                           for trial_id in executor.running()]
                for trial_id, result in arrived + stopped:
                    if trial_id in self.by_id:  # (refit requests are not trials)
                        self._record(trial_id, result)
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
        cheapest family's defaults) on at most ``EARLY_TRAIN_ROWS`` training rows of each of the search's own
        folds, in a thread of the driver. It is a normal trial (origin ``early``): scored on the same validation
        rows, kept for the ensemble, written back. Not in deterministic mode, nor with too little time left, nor
        on a Dask cluster (its workers run already: the early trial covers the start-up of local workers)."""
        left = self.cost.search_left()
        on_cluster = getattr(self.executor_factory, "cluster", None) is not None  # (dask_executor_factory's)
        if self.max_trials is not None or left < MIN_TRIAL_SECONDS or on_cluster:
            return
        if "lightgbm" in self.family_keys:
            config = REGISTRY.get("lightgbm").complete({"family": "lightgbm", "learning_rate": EARLY_LEARNING_RATE},
                                                       self.p.task)
        else:
            config = min(self.families, key=lambda f: f.cost).default_config(self.p.task)
        n_train = min(len(tr) for tr, _ in self.splits)
        trial = Trial(trial_id=len(self.history.trials), config=config, config_id=config_id(config),
                      family=config["family"], fidelity=min(1.0, EARLY_TRAIN_ROWS / max(1, n_train)), origin=EARLY,
                      status=Status.RUNNING, started=time.monotonic() - self.start)
        self.history.add(trial)
        self.by_id[trial.trial_id] = trial
        request = TrialRequest(trial_id=trial.trial_id, config=config, fidelity=trial.fidelity, seconds=left,
                               keep_models_dir=self.workdir)  # (bounded by its rows and learning rate)
        self.early = (trial.trial_id, _EarlyTrial(request, data))

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
                self._record(trial_id, TrialResult.failed("the early trial did not finish in time",
                                                          self._running_seconds(trial_id), Status.TIMEOUT))
            return
        self.early = None
        self._record(trial_id, early.result or TrialResult.failed("the early trial stopped"))
        self.startup.append(PhaseTiming("first_trial", early.wall_seconds, early.cpu_seconds, "thread"))

    def _share_table(self, data: dict) -> dict:
        """Write the search data once to the work folder and return it memory-mapped from there: the workers map
        the same file (the executors do not write it again), and the driver reads the table from it (same values,
        read-only) instead of keeping its own copy. ``problem.X`` is replaced in place, so the caller's frame is
        freed when the caller holds no other reference to it."""
        shared = load_search_data(write_search_data(data, self.workdir))
        self.p.X = shared["X"]
        return shared

    def _submit(self, executor: Executor, job) -> None:
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
                done = False
                # a job that cannot finish in the time left is skipped. Hyperband asks its brackets again; the
                # others ask once more for the best job among those that fit (``_cheap_job``), rather than
                # re-drawing proposals until one happens to be cheap: re-drawing kept what the 20 % random
                # and runner-up-family proposals offered, so the end of a search on large data went to k-NN
                # and linear models no ensemble could use (197_cpu_act at 10 s: 7 of warm's last 9 trials)
                for _ in range(5 if self.hyperband is not None else 1):
                    job, self._prefetched = self._prefetched or self._next_job(), None
                    if job is None:
                        break
                    if self.cost.fits_in_time(job[0], job[2]):
                        self._submit(executor, job)
                        submitted += 1
                        done = True
                        break
                    if self.hyperband is not None and job[4] is not None:
                        # a bracket slot that will not run: tell the bracket, so it does not wait for it
                        self.hyperband.report(job[4], job[3], config_id(job[0]) + "-skipped", float("inf"))
                    elif job[1] == "promoted":  # (proposed ahead, while it still fit) not lost: promotable again
                        self.asha.release(config_id(job[0]), job[3])
                if not done and self.hyperband is None:
                    job = self._cheap_job()  # the time left suits only a cheaper family
                    if job is not None:
                        self._submit(executor, job)
                        submitted += 1
                        done = True
                self.overhead += time.monotonic() - ticks
                if not done:
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
            wait = min(0.25, max(0.0, self.cost.search_left()))
            results = executor.collect(wait)
            if deterministic:
                while executor.running() and self.deadline.remaining() > self.cost.final_reserve:
                    results += executor.collect(min(0.25, self.deadline.remaining()))
                results.sort(key=lambda r: r[0])  # submission order, not completion order
            ticks = time.monotonic()
            for trial_id, result in results:
                self._record(trial_id, result)
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
                "assemble_seconds": assemble, "refit_seconds": self.timings.get("refit_seconds", 0.0),
                "n_workers": self.p.n_jobs, "interrupted": self.interrupted, "strategy": self.strategy}

    def _select(self, seconds: float | None = None) -> dict | None:
        """Greedy ensemble selection over the kept out-of-fold predictions (used only when it beats the single
        best), then the decision threshold for threshold metrics. Pure: no model is loaded. ``seconds``: the
        selection's time limit (default 0.3 x the time left)."""
        candidates = sorted((i for i in self.kept if self.kept[i].get("models_path")),
                            key=lambda i: (self.by_id[i].loss, i))
        if not candidates:
            return None
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
            if seconds is None:
                seconds = 0.3 * self.deadline.remaining()
            w, loss = greedy_selection(preds, loss_fn, seconds=seconds)
            if loss < best_single.loss - 1e-9 and sum(1 for x in w if x > 0) > 1:
                members = [candidates[j] for j, x in enumerate(w) if x > 0]
                weights = [x for x in w if x > 0]
                ensemble_loss = loss
        threshold, ensemble_loss = self._threshold(members, weights, ensemble_loss)
        return {"members": members, "weights": weights, "loss": ensemble_loss, "threshold": threshold,
                "best_single": best_single}

    def _threshold(self, members: list[int], weights: list[float], loss: float) -> tuple[float | None, float]:
        """(decision threshold, loss with it) of the weighted members' out-of-fold predictions: tuned for threshold
        metrics on binary tasks (0.5 when the default cut-off is best), None otherwise (the loss unchanged)."""
        metric = self.p.metric
        if self.p.task != "binary" or metric.needs_proba:
            return None, loss
        rows = np.concatenate([va for _, va in self.splits])
        sw = None if self.p.sample_weight is None else self.p.sample_weight[rows]
        avg = sum(wt * self.kept[i]["oof"][rows] for i, wt in zip(members, weights)) / sum(weights)
        t, tuned = tune_threshold(self.p.y[rows], avg, lambda yt, labels: metric.score(yt, labels, sample_weight=sw))
        if metric.to_loss(tuned) < loss - 1e-12:
            return t, metric.to_loss(tuned)
        return 0.5, loss  # recorded even when the default cut-off is best (the same labels as argmax)

    def _refit_members(self, executor: Executor) -> None:
        """Refit the selected members on every row in the workers, heaviest weight first, each only if it can
        finish in the time left; a member not refit keeps its holdout or fold models (``_member_models``)."""
        for trial_id, result in executor.collect(0.0):
            self._record(trial_id, result)
        for trial_id in executor.running():  # past their share of the time: the refit comes first
            if executor.cancel(trial_id):
                self._record(trial_id, TrialResult.failed("stopped for the final refit", self._running_seconds(trial_id),
                                                          Status.TIMEOUT))
        while executor.running() and self.deadline.remaining() > self.cost.final_reserve:
            for trial_id, result in executor.collect(min(0.25, self.deadline.remaining() - self.cost.final_reserve)):
                self._record(trial_id, result)
        # the selection takes the ensembling share of the final reserve and leaves the time kept for refitting
        # the best (``CostModel.refit_reserve``); the refits then run until the closing share. Before, the selection could
        # take 0.3 x the time left, the refit's share too, and on a long run (146 trials) nothing was refit
        remaining = self.deadline.remaining()
        self.selection = self._select(seconds=min(0.3 * remaining,
                                                  max(0.05, remaining - self.cost.refit_reserve() - CLOSING_SECONDS)))
        if self.selection is None or executor.running():
            return
        best_single = self.selection["best_single"].trial_id
        # compact: the best single member first (it may become the whole model); deterministic mode refits it alone
        order = sorted(zip(self.selection["members"], self.selection["weights"]),
                       key=lambda m: (not (self.p.compact and m[0] == best_single), -m[1]))
        if not self.refit_enabled:
            order = [(best_single, 1.0)]
        pending: dict[int, int] = {}  # request id -> trial id
        for trial_id, _ in order:
            t = self.by_id[trial_id]
            left = self.deadline.remaining() - CLOSING_SECONDS
            cost = self.cost.refit_seconds(t)
            if executor.free_slots() == 0 or cost * 1.1 > left:
                continue
            request_id = REFIT_ID_OFFSET + trial_id
            rounds = t.extra.get("rounds")
            request = TrialRequest(trial_id=request_id, config=t.config, seconds=left, keep_models_dir=self.workdir,
                                   refit=True, iterations=refit_iterations(rounds))
            executor.submit(request_id, request.as_dict(), left)
            pending[request_id] = trial_id
        started = time.monotonic()
        while pending and self.deadline.remaining() > CLOSING_SECONDS:
            for request_id, result in executor.collect(min(0.25, self.deadline.remaining() - CLOSING_SECONDS)):
                trial_id, result = pending.pop(request_id, None), as_result(result)
                if trial_id is not None and result.status == OK and result.models_path:
                    self.kept[trial_id]["refit_path"] = result.models_path
                    self.by_id[trial_id].extra["refit"] = True
        self.timings["refit_seconds"] = time.monotonic() - started

    def _assemble(self) -> SearchResult:
        selection = self.selection or self._select()
        if selection is None:
            return self._fallback_result()
        members, weights = selection["members"], selection["weights"]
        best_single, ensemble_loss = selection["best_single"], selection["loss"]
        threshold, compaction = selection["threshold"], None
        if self.p.compact:
            members, weights, ensemble_loss, threshold, compaction = self._compact(selection)
        model = BaggedEnsemble([self._member_models(i) for i in members], weights, self.p.task, self.n_classes,
                               threshold=threshold)
        return SearchResult(
            model=model, trials=self.history.trials, best_config=best_single.config,
            best_score=float(self.p.metric.to_score(ensemble_loss)), best_loss=float(ensemble_loss),
            ensemble=[(self.by_id[i].config_id, float(wt)) for i, wt in zip(members, weights)],
            protocol=self.protocol, compaction=compaction,
            timings={"single_best_loss": best_single.loss, "threshold": threshold,
                     "refit": [self.by_id[i].config_id for i in members if self.kept[i].get("refit_path")]})

    def _compact(self, selection: dict):
        """``compact``: the best single member alone (its refit on every row when there is one, else its fold
        models) when its validation loss is within ``COMPACT_TOLERANCE`` of the ensemble's, else the ensemble
        (with a warning). Returns (members, weights, loss, threshold, Compaction)."""
        single = selection["best_single"]
        single_threshold, single_loss = self._threshold([single.trial_id], [1.0], single.loss)
        ensemble_loss = selection["loss"]
        within = single_loss - ensemble_loss <= COMPACT_TOLERANCE * max(abs(ensemble_loss), 1e-12)
        to_score = self.p.metric.to_score
        compaction = Compaction(kept="single" if within else "ensemble", member=single.config_id,
                                single_score=float(to_score(single_loss)),
                                ensemble_score=float(to_score(ensemble_loss)),
                                refit=bool(self.kept[single.trial_id].get("refit_path")))
        if not within:
            log.warning("compact: the best single member (validation %s %.5g) is not within %.0f %% of the "
                        "ensemble's loss (%.5g); the ensemble is kept", self.p.metric.name, compaction.single_score,
                        100 * COMPACT_TOLERANCE, compaction.ensemble_score)
            return selection["members"], selection["weights"], ensemble_loss, selection["threshold"], compaction
        return [single.trial_id], [1.0], single_loss, single_threshold, compaction

    def _member_models(self, trial_id: int) -> list:
        """The models a member's prediction averages. Holdout: the refit on every row when there is one, else
        the holdout model. CV: the fold models, plus the refit as one more of equal weight.
        ``benchmarks/bench_refit.py`` (48 PMLB datasets of 150 to 9,999 rows, LightGBM's 3 family defaults,
        3 splits, 2026-11-30): the bag with the refit beat the bag of fold models on 100 of 144 (dataset,
        configuration) pairs and lost on 33 (median +0.16 %, worst -4.5 %); the refit alone lost on 85 (worst
        -84 %: on small data the bag's averaging counts for more than the rows a fold model misses)."""
        kept = self.kept[trial_id]
        refit = joblib.load(kept["refit_path"]) if kept.get("refit_path") else []
        if refit and (len(self.splits) == 1 or self.p.compact):
            return refit  # (the holdout model is not loaded; compact: one model instead of the bag)
        return joblib.load(kept["models_path"]) + refit

    def _fallback_result(self) -> SearchResult:
        """No trial's models could be kept (none finished in time): fit the most promising configuration once.

        With no finished trial at all, the default LightGBM is used. It is fitted on the training rows of one of
        the search's own folds (the user's validation rows, the latest time fold, a seeded 20 % holdout... never
        train it) and scored on that fold's validation rows (``Fallback.holdout_score``, the result's score):
        LightGBM takes the rounds its trial early-stopped at, or else early-stops on those rows (rounds run until
        the deadline without early stopping overfit, worse than a constant predictor on noisy data), and keeps
        the rounds it managed before the deadline (a small model beats no model).
        """
        best = self.history.best()
        task = self.p.task
        lgb_default = REGISTRY.get("lightgbm").default_config(task) if "lightgbm" in self.family_keys else None
        config = best.config if best else (lgb_default or self.families[0].default_config(task))
        reason = ("no finished trial's models were kept" if best else
                  "no trial finished within the time budget")
        end = time.monotonic() + max(0.5, self.deadline.remaining())
        X, y, sw, task = self.p.X, self.p.y, self.p.sample_weight, self.p.task
        rounds = best.extra.get("rounds") if best else None
        kwargs: dict = {"iterations": int(np.mean(rounds)) + 1} if rounds else {}
        train, valid = self.splits[-1]  # (for time folds the latest)
        if task != "regression" and not np.isin(y[valid], y[train]).all():  # a class unseen in training
            reason += "; a held-out class is missing from the training rows, so the model has no validation score"
            if self.validation.kind is not Kind.USER:  # (the user's validation rows never train the final model)
                train = np.arange(len(y))
            valid = None
        if valid is not None and config["family"] == "lightgbm" and not rounds:
            kwargs = {"eval_set": (X.iloc[valid], y[valid]), "eval_weight": None if sw is None else sw[valid]}
        try:
            model = fit_one(config, X.iloc[train], y[train], task, self.n_classes, self.p.seed, end=end,
                            sample_weight=None if sw is None else sw[train], soft_deadline=True, **kwargs)
        except Exception as exc:
            raise BudgetError(f"the time budget was too short to fit any model ({exc}); increase the budget") \
                from None
        score = None
        if valid is not None:
            score = float(score_predictions(self.p.metric, y[valid], predict_one(model, X.iloc[valid], task,
                                                                                  self.n_classes),
                                            task, None if sw is None else sw[valid]))
        log.warning("%s: the final model is a single %s fitted once (held-out %s %s)", reason, config["family"],
                    self.p.metric.name, "n/a" if score is None else f"{score:.5g}")
        fallback = Fallback(reason=reason, config_id=config_id(config), family=config["family"],
                            holdout_score=score, holdout_rows=0 if valid is None else int(len(valid)))
        best_score = float("nan") if score is None else score
        return SearchResult(model=BaggedEnsemble([[model]], [1.0], task, self.n_classes),
                            trials=self.history.trials, best_config=config, best_score=best_score,
                            best_loss=float(self.p.metric.to_loss(best_score)),
                            ensemble=[(config_id(config), 1.0)], protocol=self.protocol,
                            timings={"fallback": True}, fallback=fallback)


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
