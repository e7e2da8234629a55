"""The final model of a search: ensemble selection over the kept out-of-fold predictions (a stack in its place when
it wins out-of-fold, ``stack_choice``), the decision threshold, the refit of the selected members on every row, the
compact choice, assembly, and the fallback when no trial's models could be kept. Reads the search's state (kept
models, trials, splits); trains nothing except the refits (in the workers), the fallback and the small second layer
of a stack (in the driver)."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import joblib
import numpy as np

from knowledge_base.canonical import config_id

from ..deadline import Deadline
from ..ensembling import BaggedEnsemble, greedy_selection, tune_threshold
from ..exceptions import BudgetError
from ..models import REGISTRY
from ..stacking import StackedEnsemble, StackReport
from .budget import CLOSING_SECONDS, POLL_SECONDS, CostModel
from .history import OK, History, Trial
from .messages import TrialRequest
from .predict_cost import CostLimit, member_seconds_per_row
from .runner import Executor
from .stack_choice import MIN_STACK_MEMBERS, OofRows, StackChoice, choose_stack, outer_folds, stack_members
from .trial import fit_one, fold_rows, predict_one, refit_iterations, score_predictions
from .trial_memory import MemoryPlan
from .validation import Kind, Validation

log = logging.getLogger("automl")

REFIT_ID_OFFSET = 1_000_000  # executor ids of refit requests (never trial ids)
COMPACT_TOLERANCE = 0.01  # compact keeps the best single member when its loss is within 1 % of the ensemble's
SELECTION_SHARE = 0.3  # the ensemble selection may take this share of the time left
MIN_SELECTION_SECONDS = 0.05  # ... but at least these seconds
MIN_ENSEMBLE_SECONDS = 0.1  # with less time left, the best single trial is the model (no selection)
REFIT_COST_MARGIN = 1.1  # a member is refit only when its estimated seconds times this fit in the time left
MIN_FALLBACK_SECONDS = 0.5  # the fallback's fit gets at least these seconds (a small model beats no model)
LOSS_EPSILON = 1e-9  # an ensemble replaces the best single trial only when better by more than this
THRESHOLD_EPSILON = 1e-12  # a tuned threshold replaces the default cut-off only when better by more than this


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
class KeptModels:
    """A trial kept for the ensemble: its out-of-fold predictions, its saved fold models and (once refit) its
    model fitted on every row."""

    oof: np.ndarray
    models_path: str
    refit_path: str | None = None


@dataclass(frozen=True)
class Selection:
    """The ensemble chosen over the kept trials: members (trial ids) and weights, its validation loss (with the
    threshold), the decision threshold (None: not a threshold metric) and the best single trial. A stack: its
    ``StackChoice``, the weights its members' influence on it, the loss its out-of-fold loss."""

    members: tuple[int, ...]
    weights: tuple[float, ...]
    loss: float
    threshold: float | None
    best_single: Trial
    stack: StackChoice | None = None


@dataclass(frozen=True)
class FinalModel:
    """What the search returns besides its history: the model and how it was chosen."""

    model: BaggedEnsemble | StackedEnsemble
    best_config: dict
    best_score: float
    best_loss: float
    ensemble: list[tuple[str, float]]
    threshold: float | None = None
    compaction: Compaction | None = None
    fallback: Fallback | None = None
    single_best_loss: float | None = None
    refit: tuple[str, ...] = ()  # configuration ids of the members refit on every row
    stack: StackReport | None = None  # set when the model is a stack


class FinalModelBuilder:
    """Selection, refit and assembly over the search's kept trials (``kept``: trial id -> ``KeptModels``)."""

    def __init__(self, problem, splits, validation: Validation, kept: dict[int, KeptModels], by_id: dict[int, Trial],
                 history: History, families, deadline: Deadline, cost: CostModel, n_classes: int,
                 memory: MemoryPlan) -> None:
        self.p, self.splits, self.validation = problem, splits, validation
        self.kept, self.by_id, self.history, self.families = kept, by_id, history, families
        self.deadline, self.cost, self.n_classes, self.memory = deadline, cost, n_classes, memory
        self.selection: Selection | None = None
        self.refit_seconds = 0.0

    def _rows_and_weights(self):
        """Every validation row of the splits (the out-of-fold rows), and their sample weights."""
        rows = np.concatenate([va for _, va in self.splits])
        return rows, None if self.p.sample_weight is None else self.p.sample_weight[rows]

    def select(self, seconds: float | None = None) -> Selection | None:
        """Greedy ensemble selection over the kept out-of-fold predictions (used only when it beats the single
        best), then the decision threshold for threshold metrics. Pure: no model is loaded. ``seconds``: the
        selection's time limit (default ``SELECTION_SHARE`` of the time left; none in deterministic mode, whose
        members may not depend on the machine's speed: the selection's iterations bound it)."""
        candidates = sorted((i for i in self.kept if self.kept[i].models_path), key=lambda i: (self.by_id[i].loss, i))
        if not candidates:
            return None
        limit = self.cost_limit(candidates)
        if limit is not None:
            candidates = limit.affordable(candidates)
        y, metric, task = self.p.y, self.p.metric, self.p.task
        rows, sw = self._rows_and_weights()
        preds = [self.kept[i].oof[rows] for i in candidates]

        def loss_fn(pred):
            return metric.to_loss(score_predictions(metric, y[rows], pred, task, sw))

        best_single = self.by_id[candidates[0]]
        members, weights, ensemble_loss = [candidates[0]], [1.0], best_single.loss
        started = time.monotonic()
        deterministic = self.cost.deterministic
        if len(candidates) > 1 and (deterministic or self.deadline.remaining() > MIN_ENSEMBLE_SECONDS):
            if deterministic:
                seconds = None
            elif seconds is None:
                seconds = SELECTION_SHARE * self.deadline.remaining()
            w, loss = greedy_selection(preds, loss_fn, seconds=seconds,
                                       **({} if limit is None else {"costs": [limit.costs[i] for i in candidates],
                                                                    "limit": limit.limit}))
            if loss < best_single.loss - LOSS_EPSILON and sum(1 for x in w if x > 0) > 1:
                members = [candidates[j] for j, x in enumerate(w) if x > 0]
                weights = [x for x in w if x > 0]
                ensemble_loss = loss
        threshold, ensemble_loss = self.threshold(members, weights, ensemble_loss)
        selection = Selection(tuple(members), tuple(weights), ensemble_loss, threshold, best_single)
        if limit is not None:
            log.info("infer_limit %.3g s per row: the ensemble's estimate %.3g s per row (%d of %d candidates "
                     "affordable alone)", limit.limit, sum(limit.costs[i] for i in set(members)), len(candidates),
                     len(limit.costs))
        return self.stacked(selection, candidates, time.monotonic() - started, limit) or selection

    def cost_limit(self, candidates: list[int]) -> CostLimit | None:
        """The candidates' estimated prediction seconds per row (as deployed: refit on every row when the search
        refits its members) under the problem's ``infer_limit`` (None: no limit)."""
        if self.p.infer_limit is None:
            return None
        n_rows, n_splits, refit = len(self.p.y), len(self.splits), self.cost.refit_enabled
        costs = {i: member_seconds_per_row(self.by_id[i], REGISTRY.get(self.by_id[i].family), n_rows, n_splits,
                                           refit) for i in candidates}
        return CostLimit(costs, float(self.p.infer_limit))

    def stacked(self, selection: Selection, candidates: list[int], selection_seconds: float,
                limit: CostLimit | None = None) -> Selection | None:
        """The stack over the kept trials in place of the Caruana ``selection`` when it wins out-of-fold
        (``StackChoice.wins``), else None. Not with fewer than ``MIN_STACK_MEMBERS`` candidates, nor under time
        folds (a stacker fitted on later blocks would be scored on earlier ones), nor with stacking off
        (``CostModel.stacking``: by default not in deterministic ``max_trials`` mode, whose final model stays the
        Caruana bag, as its refit stays off), nor when its inputs together exceed the cost ``limit``."""
        if not self.cost.stacking or len(candidates) < MIN_STACK_MEMBERS or self.validation.kind is Kind.TIME:
            return None
        if limit is not None and not limit.within(stack_members(candidates, self.by_id)):
            return None
        rows, sw = self._rows_and_weights()
        oof_rows = OofRows(self.p.y[rows], sw, self.p.metric, self.p.task, self.n_classes)
        groups = self.p.split.groups[rows] if self.p.split is not None and self.p.split.groups is not None else None
        folds = outer_folds(oof_rows, self.p.seed, groups)
        if len(folds) < 2:
            return None
        # fair: the Caruana weights were chosen on every out-of-fold row (its loss is optimistic), so both are
        # re-measured with the weights / the stacker fitted on the other outer folds only, scored on the held-back one
        choice = choose_stack({i: self.kept[i].oof[rows] for i in candidates}, stack_members(candidates, self.by_id),
                              oof_rows, folds, selection_seconds=selection_seconds,
                              time_left=self.cost.final_step_seconds)
        if choice is None:
            return None
        log.info("stack (%s) out-of-fold %s loss %.5g, Caruana ensemble %.5g: %s", choice.stacker.describe(),
                 self.p.metric.name, choice.loss, choice.caruana_loss, "stacked" if choice.wins else "not stacked")
        if not choice.wins:
            return None
        threshold, loss = self.threshold_of(choice.oof, choice.loss)
        return Selection(choice.members, choice.stacker.influence(), loss, threshold, selection.best_single,
                         stack=choice)

    def threshold(self, members, weights, loss: float) -> tuple[float | None, float]:
        """(decision threshold, loss with it) of the weighted members' out-of-fold predictions: tuned for threshold
        metrics on binary tasks (0.5 when the default cut-off is best), None otherwise (the loss unchanged)."""
        if self.p.task != "binary" or self.p.metric.needs_proba:
            return None, loss
        rows, _ = self._rows_and_weights()
        return self.threshold_of(sum(wt * self.kept[i].oof[rows] for i, wt in zip(members, weights)) / sum(weights),
                                 loss)

    def threshold_of(self, proba: np.ndarray, loss: float) -> tuple[float | None, float]:
        """(decision threshold, loss with it) of out-of-fold probabilities ``proba`` on the out-of-fold rows (as
        ``threshold``; None for a metric on probabilities or a task that is not binary)."""
        metric = self.p.metric
        if self.p.task != "binary" or metric.needs_proba:
            return None, loss
        rows, sw = self._rows_and_weights()
        t, tuned = tune_threshold(self.p.y[rows], proba, lambda yt, labels: metric.score(yt, labels, sample_weight=sw))
        if metric.to_loss(tuned) < loss - THRESHOLD_EPSILON:
            return t, metric.to_loss(tuned)
        return 0.5, loss  # recorded even when the default cut-off is best (the same labels as argmax)

    def refit(self, executor: Executor, workdir: str, refit_enabled: bool) -> None:
        """Select, then refit the selected members on every row in the workers (no trial may be running),
        heaviest weight first, each only if it can finish in the time left (estimated from its trial's seconds; in
        deterministic mode it is tried anyway and times out past the time left); a member not refit keeps its holdout
        or fold models (``member_models``). The selection takes the ensembling share of the final reserve and
        leaves the time kept for refitting the best (``CostModel.refit_reserve``); the refits run until the
        closing share (a selection taking 0.3 x the time left refit nothing on a long run of 146 trials)."""
        remaining = self.deadline.remaining()
        self.selection = self.select(seconds=min(SELECTION_SHARE * remaining, max(
            MIN_SELECTION_SECONDS, remaining - self.cost.refit_reserve() - CLOSING_SECONDS)))
        if self.selection is None or executor.running():
            return
        best_single = self.selection.best_single.trial_id
        # compact: the best single member first (it may become the whole model); deterministic mode refits it alone
        order = sorted(zip(self.selection.members, self.selection.weights),
                       key=lambda m: (not (self.p.compact and m[0] == best_single), -m[1]))
        if not refit_enabled:
            order = [(best_single, 1.0)]
        pending: dict[int, int] = {}  # request id -> trial id
        needs: dict[int, float] = {}  # request id -> its memory estimate (the refits run at once within the limit)
        deterministic = self.cost.deterministic  # (a refit is then tried whatever its trial took, and not cut short)
        for trial_id, _ in order:
            t = self.by_id[trial_id]
            left = self.deadline.remaining() - CLOSING_SECONDS
            need = self.memory.refit_bytes(t.config)
            too_slow = not deterministic and self.cost.refit_seconds(t) * REFIT_COST_MARGIN > left
            if (executor.free_slots() == 0 or too_slow
                    or not self.memory.fits(need) or not self.memory.admits(need, needs.values())):
                continue
            request = TrialRequest(trial_id=REFIT_ID_OFFSET + trial_id, config=t.config, seconds=left,
                                   keep_models_dir=workdir, refit=True,
                                   iterations=refit_iterations(t.details.rounds), deterministic=deterministic)
            executor.submit(request, left)
            pending[request.trial_id], needs[request.trial_id] = trial_id, need
        started = time.monotonic()
        while pending and self.deadline.remaining() > CLOSING_SECONDS:
            for request_id, result in executor.collect(min(POLL_SECONDS, self.deadline.remaining() - CLOSING_SECONDS)):
                trial_id = pending.pop(request_id, None)
                if trial_id is not None and result.status == OK and result.models_path:
                    self.kept[trial_id].refit_path = result.models_path
                    self.by_id[trial_id].refit = True
        self.refit_seconds = time.monotonic() - started

    def assemble(self) -> FinalModel:
        """The final model: the selection's members (or the compact choice) bagged, else the fallback."""
        selection = self.selection or self.select()
        if selection is None:
            return self.fallback()
        members, weights = list(selection.members), list(selection.weights)
        ensemble_loss, threshold, compaction = selection.loss, selection.threshold, None
        if self.p.compact:
            members, weights, ensemble_loss, threshold, compaction = self.compact(selection)
        stack = selection.stack if compaction is None or compaction.kept == "ensemble" else None
        models = [self.member_models(i) for i in members]
        families = [self.by_id[i].family for i in members]
        if stack is not None:
            model = StackedEnsemble(models, stack.stacker, self.p.task, self.n_classes, threshold=threshold,
                                    families=families)
        else:
            model = BaggedEnsemble(models, weights, self.p.task, self.n_classes, threshold=threshold, families=families)
        best_single = selection.best_single
        return FinalModel(
            model=model, best_config=best_single.config, best_score=float(self.p.metric.to_score(ensemble_loss)),
            best_loss=float(ensemble_loss), ensemble=[(self.by_id[i].config_id, float(wt)) for i, wt in
                                                      zip(members, weights)],
            threshold=threshold, compaction=compaction, single_best_loss=best_single.loss,
            refit=tuple(self.by_id[i].config_id for i in members if self.kept[i].refit_path),
            stack=None if stack is None else self.stack_report(stack, ensemble_loss))

    def stack_report(self, stack: StackChoice, loss: float) -> StackReport:
        """The stack as the leaderboard and ``fit_info_`` show it (``loss``: its out-of-fold loss, with the
        threshold when one was tuned)."""
        return StackReport(stacker=stack.stacker.describe(), members=tuple(self.by_id[i].config_id
                                                                           for i in stack.members),
                           loss=float(loss), caruana_loss=float(stack.caruana_loss), folds=stack.folds)

    def compact(self, selection: Selection):
        """``compact``: the best single member alone (its refit on every row when there is one, else its fold
        models) when its validation loss is within ``COMPACT_TOLERANCE`` of the ensemble's, else the ensemble
        (with a warning). Returns (members, weights, loss, threshold, Compaction)."""
        single = selection.best_single
        single_threshold, single_loss = self.threshold([single.trial_id], [1.0], single.loss)
        ensemble_loss = selection.loss
        within = single_loss - ensemble_loss <= COMPACT_TOLERANCE * max(abs(ensemble_loss), 1e-12)
        to_score = self.p.metric.to_score
        compaction = Compaction(kept="single" if within else "ensemble", member=single.config_id,
                                single_score=float(to_score(single_loss)),
                                ensemble_score=float(to_score(ensemble_loss)),
                                refit=bool(self.kept[single.trial_id].refit_path))
        if not within:
            log.warning("compact: the best single member (validation %s %.5g) is not within %.0f %% of the "
                        "ensemble's loss (%.5g); the ensemble is kept", self.p.metric.name, compaction.single_score,
                        100 * COMPACT_TOLERANCE, compaction.ensemble_score)
            return list(selection.members), list(selection.weights), ensemble_loss, selection.threshold, compaction
        return [single.trial_id], [1.0], single_loss, single_threshold, compaction

    def member_models(self, trial_id: int) -> list:
        """The models a member's prediction averages. Holdout: the refit on every row when there is one, else
        the holdout model. CV: the fold models, plus the refit as one more of equal weight (the bag with the refit
        beat the bag of fold models in ``benchmarks/bench_refit.py``, and the refit alone lost to it, k-NN's too;
        figures in ``docs/search-status.md`` and ``docs/performance.md``)."""
        kept = self.kept[trial_id]
        refit = joblib.load(kept.refit_path) if kept.refit_path else []
        if refit and (len(self.splits) == 1 or self.p.compact):
            return refit  # (the holdout model is not loaded; compact: one model instead of the bag)
        return joblib.load(kept.models_path) + refit

    def fallback(self) -> FinalModel:
        """No trial's models could be kept (none finished in time): fit the most promising configuration once.

        With no finished trial at all, the default LightGBM is used. It is fitted on the training rows of one of
        the search's own folds (the user's validation rows, the latest time fold, a seeded 20 % holdout... never
        train it) and scored on that fold's validation rows (``Fallback.holdout_score``, the result's score):
        LightGBM takes the rounds its trial early-stopped at, or else early-stops on those rows (rounds run until
        the deadline without early stopping overfit, worse than a constant predictor on noisy data), and keeps
        the rounds it managed before the deadline (a small model beats no model).
        """
        best = self.history.best()
        X, y, sw, task = self.p.X, self.p.y, self.p.sample_weight, self.p.task
        keys = {f.key for f in self.families}
        lgb_default = REGISTRY.get("lightgbm").default_config(task) if "lightgbm" in keys else None
        config = best.config if best else (lgb_default or self.families[0].default_config(task))
        reason = "no finished trial's models were kept" if best else "no trial finished within the time budget"
        end = time.monotonic() + max(MIN_FALLBACK_SECONDS, self.deadline.remaining())
        rounds = best.details.rounds if best else None
        kwargs: dict = {"iterations": int(np.mean(rounds)) + 1} if rounds else {}
        train, valid = self.splits[-1]  # (for time folds the latest)
        if task != "regression" and not np.isin(y[valid], y[train]).all():  # a class unseen in training
            reason += "; a held-out class is missing from the training rows, so the model has no validation score"
            if self.validation.kind is not Kind.USER:  # (the user's validation rows never train the final model)
                train = np.arange(len(y))
            valid = None
        early_stops = valid is not None and REGISTRY.get(config["family"]).boosting is not None and not rounds
        Xtr, Xev, categories = fold_rows(config, X, train, valid if early_stops else None)
        if early_stops:
            kwargs = {"eval_set": (Xev, y[valid]), "eval_weight": None if sw is None else sw[valid]}
        try:
            model = fit_one(config, Xtr, y[train], task, self.n_classes, self.p.seed, end=end, categories=categories,
                            sample_weight=None if sw is None else sw[train], soft_deadline=True, **kwargs)
        except Exception as exc:
            raise BudgetError(f"the time budget was too short to fit any model ({exc}); increase the budget") \
                from None
        del Xtr, Xev, kwargs  # (the fold's copies, before the validation rows are taken for the predictions)
        score = None
        if valid is not None:
            pred = predict_one(model, X.iloc[valid], task, self.n_classes)
            score = float(score_predictions(self.p.metric, y[valid], pred, task, None if sw is None else sw[valid]))
        log.warning("%s: the final model is a single %s fitted once (held-out %s %s)", reason, config["family"],
                    self.p.metric.name, "n/a" if score is None else f"{score:.5g}")
        fallback = Fallback(reason=reason, config_id=config_id(config), family=config["family"],
                            holdout_score=score, holdout_rows=0 if valid is None else int(len(valid)))
        best_score = float("nan") if score is None else score
        model = BaggedEnsemble([[model]], [1.0], task, self.n_classes, families=[config["family"]])
        return FinalModel(model=model, best_config=config, best_score=best_score,
                          best_loss=float(self.p.metric.to_loss(best_score)), ensemble=[(config_id(config), 1.0)],
                          fallback=fallback)


__all__ = ["FinalModelBuilder", "FinalModel", "Fallback", "Compaction", "KeptModels", "Selection"]
