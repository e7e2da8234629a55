"""The search's ask/tell core (as Optuna's ``Study.ask`` / ``tell`` and SMAC's ``TrialInfo`` / ``TrialValue``):
``ask()`` proposes the next ``Job`` that fits in the time left, ``start(job)`` records it as a running trial and
returns the worker's ``TrialRequest``, ``tell(trial_id, result)`` records its ``TrialResult``. No process, thread or
file is started here: the optimiser's loop runs the requests (``optimizer``), so scheduling is testable alone.

Roles composed here: the initial design (``initial_design``), the sampler (random, or the random-forest surrogate
with expected improvement, shaped by prior observations), the scheduler (asynchronous successive halving for ``bo``
/ ``warm``: the top third of a rung, and each family's best in its better half, are promoted; synchronous Hyperband
brackets for ``hyperband``; over training-share fidelities; CV folds raced at full fidelity), the history, the time
model (``budget.CostModel``) and the kept models (``kept_models``).
"""
from __future__ import annotations

import logging
import time
from typing import Callable

import numpy as np

from knowledge_base.canonical import config_id

from ..deadline import Deadline
from ..exceptions import InputError
from ..models import REGISTRY
from ..models.steps import unused_slots
from .brackets import ASHA, Hyperband, fidelity_rungs
from .budget import CostModel
from .final_model import KeptModels
from .history import EARLY, History, Trial
from .initial_design import RESUMED, initial_design, upgraded
from .kept_models import KeptSet
from .messages import STRATEGIES, Job, Status, TrialRequest, TrialResult
from .samplers import BOSampler, RandomSampler
from .trial_memory import UNLIMITED, MemoryPlan, TableWidths, fixed_bytes, table_bytes
from .validation import Kind, choose_protocol, choose_validation, make_splits

log = logging.getLogger("automl")

HYPERBAND_ASKS = 5  # Hyperband asks its brackets this many times for a job that fits before waiting
FRESH_DRAWS = 50  # draws for a configuration not yet evaluated at a fidelity before giving up (space exhausted)
CHEAP_DRAWS = 5  # proposals among the families that fit before the time left is deemed too short


def allowed_families(problem) -> list:
    """The registry's families for the problem's task and size, limited to ``problem.families`` (``InputError`` for
    an unknown key or when none is left), each without the pipeline steps ``problem.exclude_steps`` and the slots
    the table has no column for (``steps.unused_slots``: no text step without a text column)."""
    families = REGISTRY.for_task(problem.task, len(problem.y))
    if problem.families is not None:
        unknown = [f for f in problem.families if f not in REGISTRY]
        if unknown:
            raise InputError(f"unknown model family {unknown[0]!r}; valid: {', '.join(REGISTRY.keys())}")
        families = [f for f in families if f.key in problem.families]
    if not families:
        raise InputError(f"no model family is allowed for a {problem.task} task with {len(problem.y)} rows")
    return [f.without_steps((*problem.exclude_steps, *unused_slots(problem.X))) for f in families]


class SearchCore:
    """The search state of one ``optimize`` call: validation splits, rungs, scheduler, sampler, initial design,
    history, kept models and the time model; ``ask`` / ``start`` / ``tell`` move it on."""

    def __init__(self, problem, deadline: Deadline, strategy: str, workdir: str, *, suggestions=(), prior=(),
                 max_trials: int | None = None, callback: Callable | None = None, history=(),
                 trial_timeout: float | None = None, memory_limit: int | None = None) -> None:
        if strategy not in STRATEGIES:
            raise InputError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
        self.start_time = time.monotonic()
        self.p, self.deadline, self.strategy, self.workdir = problem, deadline, strategy, workdir
        budget = deadline.remaining()
        self.max_trials, self.callback = max_trials, callback
        self.families = allowed_families(problem)
        self.family_keys = {f.key for f in self.families}
        self.rng = np.random.default_rng(problem.seed)
        n, split = len(problem.y), problem.split
        self.validation = choose_validation(choose_protocol(n - (split.n_valid if split else 0)), split)
        self.splits = make_splits(problem.y, problem.task, self.validation, problem.seed, split)
        self.rungs = [1.0] if strategy == "random" else fidelity_rungs(n)
        self.asha = ASHA(self.rungs)
        self.hyperband = Hyperband(self.rungs) if strategy == "hyperband" else None
        if strategy in ("bo", "warm"):
            self.sampler = BOSampler(self.families, self.rng, upgraded(prior, problem.task) if strategy == "warm"
                                     else (), deterministic=max_trials is not None, task=problem.task)
        else:
            self.sampler = RandomSampler(self.families, self.rng, task=problem.task)
        self.queue = initial_design(strategy, suggestions, self.families, problem.task, problem.exclude_steps)
        self.history = History()
        self.by_id: dict[int, Trial] = {}
        self._replay(history)
        self.kept = KeptSet(self.by_id)  # trial id -> its out-of-fold predictions and saved models
        self.n_classes = int(problem.y.max()) + 1 if problem.task != "regression" else 0
        # the selected models are refit on every row when time allows: under holdout the refit replaces the
        # holdout model; under CV it joins the member's fold models as one more bag member
        # (see ``FinalModelBuilder.member_models``)
        # (not under the user's validation set: the final model is trained on the training rows only)
        self.refit_enabled = max_trials is None and self.validation.kind is not Kind.USER
        self.cost = CostModel(deadline, self.families, self.history, len(self.splits),
                              deterministic=max_trials is not None, refit_enabled=self.refit_enabled,
                              best_kept=self.kept.best, trial_timeout=trial_timeout, budget=budget,
                              stacking=problem.stacking, prior=problem.cost_prior,
                              train_rows=float(np.mean([len(tr) for tr, _ in self.splits])), all_rows=float(n))
        self.memory = MemoryPlan(self.families, TableWidths.of(problem.X), train_rows=self.cost.train_rows,
                                 valid_rows=float(np.mean([len(va) for _, va in self.splits])), all_rows=float(n),
                                 limit=memory_limit or UNLIMITED, deterministic=max_trials is not None,
                                 fixed=fixed_bytes(table_bytes(problem.X), max(1, int(problem.n_jobs))))
        self._prefetched: Job | None = None  # the next job, proposed ahead while the workers were busy
        self.stop_requested = False  # the progress callback raised KeyboardInterrupt: the search stops as by Ctrl-C

    def _replay(self, previous) -> None:
        """Resume: earlier trials inform the sampler; the earlier best is evaluated again first (for its models)."""
        best = None
        for old in upgraded(previous, self.p.task):
            config = old["config"]
            if config.get("family") not in self.family_keys:
                continue
            t = Trial(trial_id=len(self.history.trials), config=config, config_id=config_id(config),
                      family=config["family"], fidelity=float(old.get("fidelity", 1.0)),
                      origin=old.get("origin") or RESUMED, status=Status(old.get("status", Status.FAILED)),
                      score=old.get("score"), loss=old.get("loss"), fit_seconds=float(old.get("fit_seconds") or 0.0),
                      error=old.get("error"), replayed=True)
            self.history.add(t)
            if t.status == Status.OK and t.loss is not None and (best is None or (t.fidelity, -t.loss) >
                                                                  (best.fidelity, -best.loss)):
                best = t
        if best is not None:
            self.queue.insert(0, (best.config, RESUMED))

    # ------------------------------------------------------------------ ask
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
            if self._fits(job.config, job.fidelity):
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

    def prefetch(self) -> None:
        """Propose the next job ahead while every worker is busy, so a worker that frees up gets it at once (the
        proposal misses only the results still running, as in asynchronous BO); ``ask`` returns it next."""
        if self._prefetched is None:
            self._prefetched = self._next_job()

    def _fits(self, config: dict, fidelity: float, unit: float | None = None) -> bool:
        """Whether a trial of ``config`` at ``fidelity`` can finish in the time left and fits in the memory limit
        alone (``unit``: the family's seconds per unit of cost, when known)."""
        return (self.cost.fits_in_time(config, fidelity, unit)
                and self.memory.fits(self.memory.trial_bytes(config, fidelity)))

    def admits(self, job: Job) -> bool:
        """Whether ``job`` fits in the memory limit beside the trials running (``trial_memory``; the early trial,
        on a small share of the rows in the driver, is not counted)."""
        running = [self.memory.trial_bytes(t.config, t.fidelity) for t in self.by_id.values()
                   if t.status == Status.RUNNING and t.origin != EARLY]
        return self.memory.admits(self.memory.trial_bytes(job.config, job.fidelity), running)

    def defer(self, job: Job) -> None:
        """Keep ``job`` (proposed, not started: it did not fit in memory beside the running trials) for the next
        ``ask``."""
        self._prefetched = job

    def _fresh_config(self, fidelity: float) -> tuple[dict, str] | None:
        """The next configuration not yet evaluated at ``fidelity``: the initial design, then the sampler."""
        for _ in range(FRESH_DRAWS):
            if self.queue:
                config, origin = self.queue.pop(0)
            else:
                config, origin = self.sampler.propose(self.history)
            if origin == RESUMED or not self.history.seen(config_id(config), fidelity):
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
            fits=lambda cid, rung: self._fits(self.history.config(cid), self.rungs[rung]))
        if promotion is not None:
            cid, rung = promotion
            return Job(self.history.config(cid), "promoted", self.rungs[rung], rung)
        rung = self._entry_rung()
        fresh = self._fresh_config(self.rungs[rung])
        if fresh is None:
            return None
        if fresh[1] == RESUMED:  # the earlier best, evaluated again for its models
            return Job(fresh[0], fresh[1], 1.0, len(self.rungs) - 1)
        if (rung > 0 and not self._fits(fresh[0], self.rungs[rung])
                and not self.history.seen(config_id(fresh[0]), self.rungs[0])):
            # a configuration too slow (or too large for the memory limit) to start at full fidelity is screened on
            # the lowest rung: dropped, its slot would go to whatever cheap proposal fits, however poor its family
            rung = 0
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
            return unit is not None and self._fits(config, fidelity, unit)

        affordable = {f.key for f in self.families
                      if units[f.key] is not None and self.cost.time_allows(units[f.key] * f.min_relative_cost())}
        if not affordable:
            return None
        for _ in range(CHEAP_DRAWS):
            config, origin = self.sampler.propose(self.history, families=affordable, fits=fits)
            if config["family"] in affordable and fits(config) and not self.history.seen(config_id(config), fidelity):
                return Job(config, origin, fidelity, 0)
        return None

    # ------------------------------------------------------------------ start
    def start(self, job: Job, seconds: float | None = None) -> TrialRequest:
        """Record ``job`` as a running trial; the worker's request for it. ``seconds``: its time limit (default:
        the time model's trial timeout). The early trial (origin ``early``) runs beside the scheduler: no racing
        and no bound on saving its models."""
        config, origin, fidelity, rung, bracket = job
        trial = Trial(trial_id=len(self.history.trials), config=config, config_id=config_id(config),
                      family=config["family"], fidelity=fidelity, origin=origin, status=Status.RUNNING,
                      started=time.monotonic() - self.start_time, rung=rung, bracket=bracket)
        self.history.add(trial)
        self.by_id[trial.trial_id] = trial
        seconds = self.cost.trial_timeout() if seconds is None else seconds
        deterministic = self.max_trials is not None  # (its score may not depend on how fast the trial ran)
        if origin == EARLY:
            return TrialRequest(trial_id=trial.trial_id, config=config, fidelity=fidelity, seconds=seconds,
                                keep_models_dir=self.workdir, deterministic=deterministic)
        race = self._race_against(fidelity) if origin != RESUMED else None
        # bounded disk: only a trial entering the kept set saves its fold models (``keep_below``)
        return TrialRequest(trial_id=trial.trial_id, config=config, fidelity=fidelity, seconds=seconds,
                            keep_models_dir=self.workdir, keep_below=self.kept.keep_below(trial.family), race=race,
                            deterministic=deterministic)

    def _race_against(self, fidelity: float) -> tuple[float, ...] | None:
        """The incumbent's per-fold losses (CV at full fidelity only), for racing the next trial."""
        if fidelity < 1.0 or len(self.splits) < 2:
            return None
        full = [t for t in self.history.ok(1.0) if len(t.details.fold_losses or ()) == len(self.splits)
                and not t.details.raced_out]
        if not full:
            return None
        return min(full, key=lambda t: t.loss).details.fold_losses

    # ------------------------------------------------------------------ tell
    def running_seconds(self, trial_id: int) -> float:
        """Seconds since ``trial_id`` started (a trial stopped while running is charged for them)."""
        return time.monotonic() - self.start_time - self.by_id[trial_id].started

    def tell(self, trial_id: int, result: TrialResult) -> None:
        """Record a trial's result: its status and scores, the scheduler's rung or bracket, the kept models (within
        ``kept_models.KEEP_TOP``) and the progress callback."""
        t = self.by_id[trial_id]
        t.status, t.score, t.loss, t.error = result.status, result.score, result.loss, result.error
        t.fit_seconds = result.fit_seconds
        t.ended = time.monotonic() - self.start_time
        t.details = result.details
        self.memory.observe(t.config, t.fidelity, t.details.peak_bytes)
        if t.details.raced_out:  # what the full evaluation would have cost (for the time estimates)
            t.full_seconds = t.fit_seconds * len(self.splits) / t.details.raced_out
        if t.status == Status.OK:
            if t.origin != EARLY:  # (the early trial runs beside the scheduler, on a share of rows that is no rung)
                self.asha.report(t.rung, t.config_id, t.loss, t.family)
            if result.oof is not None and result.models_path:
                self.kept.add(trial_id, KeptModels(result.oof, result.models_path))
        elif t.error:
            log.debug("trial %d (%s) %s: %s", trial_id, t.family, t.status, t.error)
        if self.hyperband is not None and t.bracket is not None:
            loss = t.loss if t.status == Status.OK and t.loss is not None else float("inf")
            self.hyperband.report(t.bracket, t.rung, t.config_id, loss)
        self._progress(t)

    def _progress(self, trial: Trial) -> None:
        """The progress callback after a trial (a display problem never stops the search)."""
        if self.callback is None:
            return
        best = self.history.best(1.0) or self.history.best()
        event = {"elapsed": time.monotonic() - self.start_time, "remaining": self.deadline.remaining(),
                 "n_trials": len(self.history.finished()), "best_score": best.score if best else None,
                 "best_loss": best.loss if best else None, "trial": trial}
        try:
            self.callback(event)
        except KeyboardInterrupt:  # a request to stop, acted on by the optimiser once every result at hand is told
            self.stop_requested = True
        except Exception as exc:  # a display problem never stops the search
            log.debug("progress callback failed: %s", exc)

    def trial_seconds(self) -> float:
        """Seconds the trials of this search took (replayed trials ran in an earlier one)."""
        return sum(t.fit_seconds for t in self.history.trials if not t.replayed)


__all__ = ["SearchCore", "STRATEGIES", "allowed_families"]
