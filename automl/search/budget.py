"""The search's time model, in one place: estimated seconds per configuration, what fits in the time left and
every reserve (the estimator's end reserve for write-back and saving, the search's final reserve for closing the
workers and ensembling, and the time kept for refitting the best on every row)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

import numpy as np

from knowledge_base.canonical import config_id

from ..deadline import Deadline
from .history import History, Trial

if TYPE_CHECKING:
    from ..cost_prior import CostPrior

END_RESERVE_BASE = 0.3  # seconds the estimator keeps after the search, at least: write-back and saving
END_RESERVE_SHARE = 0.03  # ... plus this share of the budget (saving a larger ensemble takes longer)
END_RESERVE_MAX = 3.0  # ... and at most this (a long budget's save takes seconds, not minutes)
CLOSING_SECONDS = 0.4  # of the final reserve: closing the workers and assembling the model (the rest: ensembling)
ENSEMBLE_SHARE = 0.03  # of the budget, in the final reserve: the ensemble selection
STACK_SHARE = 0.03  # ... and with stacking on, this share more: the stacking choice (about two more selections)
MIN_TRIAL_SECONDS = 0.5  # search time left below which no trial (early or in a worker) and no worker is started
MIN_LEFT_SECONDS = 0.2  # search time left below which no trial is submitted, whatever its estimate
ESTIMATE_MARGIN = 1.2  # a trial fits when its estimate times this is below the time left (estimates are medians)
REFIT_MARGIN = 1.5  # the refit reserve is this times the best's estimated refit seconds ...
REFIT_OVERHEAD = 0.3  # ... plus these seconds (loading and saving the models)
REFIT_MAX_SHARE = 0.25  # no refit reserve when it would cost more than this share of the budget
TRIAL_CAP_SHARE = 0.4  # one trial may take at most this share of the budget ...
TRIAL_CAP_MIN = 3.0  # ... but at least these seconds
MIN_TRIAL_TIMEOUT = 0.1  # the shortest timeout a submitted trial gets
# the machine factor is clipped to this: a machine and its load differ from the recorded timings' by a few times at
# most; a larger miss is one family on this table (a linear model's one-hot columns), which says nothing of another's
MACHINE_FACTOR_RANGE = (0.25, 4.0)
POLL_SECONDS = 0.25  # the longest wait for a runner's results before the deadline is checked again


def end_reserve(budget: float) -> float:
    """Seconds the estimator keeps back from the search of a ``budget``-second fit, for write-back and saving."""
    return min(END_RESERVE_MAX, END_RESERVE_BASE + END_RESERVE_SHARE * budget)


def search_deadline(deadline: Deadline, budget: float, floor: float = 0.05) -> Deadline:
    """The search's deadline inside a fit's ``deadline``: the fit's minus ``end_reserve`` (at least ``floor``)."""
    return Deadline(max(floor, deadline.remaining() - end_reserve(budget)))


def trial_cap(budget: float, trial_timeout: float | None = None) -> float:
    """The seconds one trial of a search of ``budget`` seconds may take: ``trial_timeout`` when given, else
    ``TRIAL_CAP_SHARE`` of the budget, at least ``TRIAL_CAP_MIN``."""
    return float(trial_timeout) if trial_timeout else max(TRIAL_CAP_MIN, TRIAL_CAP_SHARE * budget)


def fit_trial_cap(time_budget: float) -> float:
    """The trial cap of the search of a fit of ``time_budget`` seconds, from its start: the cap of the budget
    less ``end_reserve`` (the search's share; a function of the budget alone, so that ``automl kb similar`` and a
    fit agree on it)."""
    return trial_cap(max(0.0, float(time_budget) - end_reserve(float(time_budget))))


class CostModel:
    """Seconds per configuration from the run's own history, and every reserve of the search's deadline.

    ``prior`` (``automl.cost_prior.CostPrior``: the knowledge base's neighbours' seconds brought to this table's
    rows) prices a family before the run has timed any trial of it, times ``machine_factor`` (this machine and load
    against the recorded timings); the run's own seconds win once there are any. ``train_rows``: the rows one fit
    trains on at full fidelity (a fold's training part; the prior is not used in deterministic mode); ``all_rows``:
    the rows a refit trains on (required: a default of one fold's rows would price a refit as one fold's fit).

    ``best_kept()`` returns the best trial whose models are kept (its refit sets the refit reserve);
    ``deterministic`` (``max_trials``): every trial fits, whatever the time left; ``stacking`` (the search problem's
    flag; None: on unless deterministic) resolved as ``self.stacking``."""

    def __init__(self, deadline: Deadline, families, history: History, n_folds: int, *, deterministic: bool,
                 refit_enabled: bool, best_kept: Callable[[], Trial | None], all_rows: float,
                 trial_timeout: float | None = None, budget: float | None = None,
                 stacking: bool | None = None, prior: CostPrior | None = None, train_rows: float | None = None) -> None:
        self.deadline = deadline
        self.budget = deadline.remaining() if budget is None else budget  # (the search's whole budget)
        self.history = history
        self.n_folds = n_folds
        self.deterministic = deterministic
        self.refit_enabled = refit_enabled
        self._best_kept = best_kept
        self.costs = {f.key: f.cost for f in families}
        self._by_key = {f.key: f for f in families}
        self.stacking = not deterministic if stacking is None else bool(stacking)
        # closing the workers + ensembling (+ the stacking choice)
        self.final_reserve = CLOSING_SECONDS + (ENSEMBLE_SHARE + STACK_SHARE * self.stacking) * self.budget
        self.trial_cap = trial_cap(self.budget, trial_timeout)
        # (deterministic mode runs every trial whatever it costs: nothing there depends on the prior)
        self.prior = None if deterministic or not train_rows else prior
        self.train_rows = float(train_rows or 0.0)
        self.all_rows = float(all_rows)
        self._ratios: dict[int, float] = {}  # trial id -> its seconds over the prior's (``machine_factor``)

    def relative(self, config: dict) -> float:
        """``config``'s seconds relative to its family default's (LightGBM at learning rate 0.03 takes ~3 x the
        default's seconds, at 0.3 ~half); 1 for a family outside the search."""
        family = self._by_key.get(config.get("family"))
        return family.relative_cost(config) if family is not None else 1.0

    def unit_seconds(self, family: str, fidelity: float) -> float | None:
        """Estimated seconds of ``family``'s default configuration at ``fidelity``: from the run's trials of the
        family, else from the prior, else from the other families' trials by the relative ``costs`` hints (None:
        nothing known)."""
        # (the prior answers exactly when the run has timed no trial of the family: the history's own estimate
        # then has nothing of it, and falls back to the other families' by the hints)
        prior = self.prior_seconds(family, fidelity)
        if prior is not None:
            return prior
        return self.history.cost_estimate(family, fidelity, self.costs, relative=self.relative)

    def seconds(self, config: dict, fidelity: float, unit: float | None = None) -> float | None:
        """Estimated seconds of ``config`` at ``fidelity`` (None: nothing known): the prior's for a family the run
        has not timed (the configuration's own recorded seconds where a neighbour timed it), else ``unit`` (the
        family's ``unit_seconds`` when the caller already has it: computing it walks the history) times its
        relative cost."""
        prior = self.prior_seconds(config["family"], fidelity, config)
        if prior is not None:
            return prior
        if unit is None:
            unit = self.unit_seconds(config["family"], fidelity)
        return None if unit is None else unit * self.relative(config)

    def prior_seconds(self, family: str, fidelity: float, config: dict | None = None) -> float | None:
        """The prior's seconds of ``config`` (None: the family default) at ``fidelity`` on this machine
        (``machine_factor``); None without a prior or once the run has timed a trial of ``family``."""
        if self.prior is None or any(t.family == family for t in self.history.timed()):
            return None
        raw = self._raw_prior(family, fidelity, None if config is None else config_id(config), config)
        return None if raw is None else raw * self.machine_factor()

    def _raw_prior(self, family: str, fidelity: float, cid: str | None, config: dict | None) -> float | None:
        """The prior's seconds of an evaluation (every fold) at ``fidelity``, as recorded elsewhere."""
        relative = 1.0 if config is None else self.relative(config)
        return self.prior.evaluation_seconds(family, self.train_rows * fidelity, max(1, self.n_folds), cid, relative)

    def machine_factor(self) -> float:
        """The median over the run's timed trials of their seconds over the prior's (1 before any), within
        ``MACHINE_FACTOR_RANGE``: how much slower (or faster) this machine and its load are than the recorded
        timings (a timed-out trial's seconds count as they are: it took at least that long)."""
        ratios = []
        for t in self.history.timed():
            if t.trial_id not in self._ratios:
                raw = self._raw_prior(t.family, t.fidelity, t.config_id, t.config)
                self._ratios[t.trial_id] = t.evaluation_seconds / raw if raw else math.nan
            if math.isfinite(self._ratios[t.trial_id]):
                ratios.append(self._ratios[t.trial_id])
        return float(np.clip(np.median(ratios), *MACHINE_FACTOR_RANGE)) if ratios else 1.0

    def fits_in_time(self, config: dict, fidelity: float, unit: float | None = None) -> bool:
        """``config`` at ``fidelity`` can finish in the time left (``unit``: as for ``seconds``)."""
        return self.time_allows(self.seconds(config, fidelity, unit))

    def time_allows(self, estimate: float | None) -> bool:
        """A trial estimated at ``estimate`` seconds (None: unknown) can still finish before the reserve
        (always, in deterministic mode)."""
        if self.deterministic:
            return True
        left = self.search_left()
        return left > MIN_LEFT_SECONDS and (estimate is None or estimate * ESTIMATE_MARGIN < left)

    def search_left(self) -> float:
        """Seconds left for trials: the deadline's minus ``reserve``."""
        return self.deadline.remaining() - self.reserve()

    def trial_timeout(self) -> float:
        """The timeout of a trial submitted now: the time left for trials, at most ``trial_cap``."""
        return max(MIN_TRIAL_TIMEOUT, min(self.trial_cap, self.search_left()))

    def refit_seconds(self, trial: Trial) -> float:
        """Estimated seconds to fit ``trial``'s configuration once on every row: one fold's seconds (at full
        fidelity) scaled from the fold's training rows to all rows."""
        fold_seconds = trial.evaluation_seconds / max(trial.fidelity, 1e-9) / self.n_folds
        return fold_seconds * (self.all_rows / self.train_rows if self.train_rows else 1.0)

    def final_step_seconds(self) -> float:
        """Seconds an optional step of the final model (the stacking choice) may take now: the time left before the
        refit reserve and the closing share, over ``ESTIMATE_MARGIN`` (unbounded in deterministic mode)."""
        if self.deterministic:
            return float("inf")
        return max(0.0, self.deadline.remaining() - self.refit_reserve() - CLOSING_SECONDS) / ESTIMATE_MARGIN

    def reserve(self) -> float:
        """Seconds kept at the end: closing + ensembling, and ``refit_reserve``."""
        return self.final_reserve + self.refit_reserve()

    def refit_reserve(self) -> float:
        """The seconds kept for refitting the current best on every row (0 when that costs more than
        ``REFIT_MAX_SHARE`` of the budget, when refitting is off, or when no trial's models are kept)."""
        if not self.refit_enabled:
            return 0.0
        best = self._best_kept()
        if best is None:
            return 0.0
        cost = REFIT_MARGIN * self.refit_seconds(best) + REFIT_OVERHEAD
        return cost if cost <= REFIT_MAX_SHARE * self.budget else 0.0


__all__ = ["CostModel", "end_reserve", "search_deadline", "trial_cap", "fit_trial_cap", "CLOSING_SECONDS",
           "MIN_TRIAL_SECONDS"]
