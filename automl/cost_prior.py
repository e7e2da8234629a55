"""A fit's prior on its configurations' seconds, from the knowledge base: what the search's time model
(``search.budget.CostModel``) uses for a family before the run has timed any trial of it.

A stored evaluation's seconds were measured at a known size: the rows it was evaluated on
(``validation.evaluated_rows``: a refresh's subsample, else the dataset's rows), the share of them each fit trained
on and the number of fits (``validation.protocol_fits``), and its fidelity (a share of those rows). Seconds grow as
rows ** b; b is fitted per family from the whole store (:func:`fit_exponents`), and the retrieved neighbours'
recorded seconds are brought to this table's rows with it (:func:`cost_prior`). Computed once per fit, in the warm
start; plain data.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Iterable, Mapping

import numpy as np
import pandas as pd

from .search.brackets import TWO_RUNGS_ROWS
from .search.validation import evaluated_rows, protocol_fits

if TYPE_CHECKING:
    from knowledge_base import KnowledgeBase, PriorObservation

log = logging.getLogger("automl")

DEFAULT_EXPONENT = 1.0  # a family the store cannot fit an exponent for: seconds proportional to rows
EXPONENT_RANGE = (0.2, 2.5)  # a fitted exponent is clipped to this (a few odd timings must not make it absurd)
MIN_WITHIN_PAIRS = 5  # (dataset, configuration) pairs timed at two sizes or more a family's within-dataset fit needs
MIN_POINTS = 20  # timed evaluations a family's fit needs at all
# the exponent is fitted on fits of at least this many training rows: below, a fit's seconds are mostly fixed
# overhead (the seed's: b from 0.15 (linear) to 0.6 (LightGBM) on every timing, 0.3 to 0.86 from 200 rows on)
MIN_FIT_ROWS = 200
OPENML_ORIGIN = "openml"  # OpenML's runs: timed on other machines, never read as seconds here
# a table below this many rows gets no prior: there every trial sees all the rows and the first trials time each
# family within seconds, so the run's own seconds come at once and a prior would only reorder the schedule
# (docs/search-status.md: on small tables at 10 s it leaned negative); the search's own two-rung threshold
PRIOR_MIN_ROWS = TWO_RUNGS_ROWS


@dataclass(frozen=True)
class CostPrior:
    """Seconds of one fit on ``rows`` training rows (this table's rows), from the neighbours' recorded seconds
    brought to that size: per configuration id where a neighbour timed it, per family (its default's) otherwise;
    ``exponents``: per family, b in seconds ~ rows ** b, to rescale to the rows a trial really trains on."""

    rows: float
    family_seconds: Mapping[str, float]
    config_seconds: Mapping[str, float]
    exponents: Mapping[str, float]

    def fit_seconds(self, family: str, train_rows: float, config_id: str | None = None,
                    relative: float = 1.0) -> float | None:
        """Seconds of one fit on ``train_rows`` rows: the configuration's own recorded seconds when a neighbour
        timed ``config_id``, else its family default's times ``relative`` (its cost relative to the default);
        None when the neighbours timed nothing of the family."""
        scale = (max(1.0, float(train_rows)) / self.rows) ** self.exponents.get(family, DEFAULT_EXPONENT)
        if config_id is not None and config_id in self.config_seconds:
            return self.config_seconds[config_id] * scale
        unit = self.family_seconds.get(family)
        return None if unit is None else unit * relative * scale

    def evaluation_seconds(self, family: str, train_rows: float, fits: int, config_id: str | None = None,
                           relative: float = 1.0) -> float | None:
        """Seconds of one evaluation of ``fits`` fits on ``train_rows`` rows each: :meth:`fit_seconds` times
        ``fits``; None when the neighbours timed nothing of the family."""
        one_fit = self.fit_seconds(family, train_rows, config_id, relative)
        return None if one_fit is None else one_fit * fits


def timed_evaluations(timings: pd.DataFrame) -> pd.DataFrame:
    """A store's timings (``KnowledgeBase.timings``) as one fit each: ``fingerprint``, ``config_id``, ``family``,
    ``train_rows`` (the rows one fit trained on), ``n_features``, ``seconds`` (one fit's); OpenML's runs left out."""
    ev = timings[(timings["fit_seconds"] > 0) & (timings["origin"].fillna("") != OPENML_ORIGIN)]
    codes, protocols = pd.factorize(ev["protocol"].fillna(""))  # (a handful of distinct ones: each parsed once)
    fits = np.array([protocol_fits(p) for p in protocols], dtype=float).reshape(-1, 2)[codes]
    subsample = np.array([evaluated_rows(p, -1) for p in protocols], dtype=float)[codes]
    rows = np.where(subsample >= 0, subsample, ev["n_rows"].fillna(0).to_numpy(dtype=float))
    out = pd.DataFrame({
        "fingerprint": ev["fingerprint"].astype(str).to_numpy(), "config_id": ev["config_id"].astype(str).to_numpy(),
        "family": ev["family"].astype(str).to_numpy(),
        "train_rows": rows * fits[:, 1] * ev["fidelity"].to_numpy(dtype=float),
        "n_features": np.maximum(1.0, ev["n_features"].fillna(1).to_numpy(dtype=float)),
        "seconds": ev["fit_seconds"].to_numpy(dtype=float) / fits[:, 0]})
    return out[(out["train_rows"] >= 1) & np.isfinite(out["seconds"])].reset_index(drop=True)


def fit_exponents(timed: pd.DataFrame) -> dict[str, float]:
    """Per family, b in seconds ~ rows ** b by log-linear least squares: within datasets (each configuration
    on one dataset timed at several sizes or fidelities) when at least ``MIN_WITHIN_PAIRS`` such pairs exist,
    else within configurations across datasets with the feature count as a second regressor (what a store
    whose datasets were timed at one size each holds). Clipped to ``EXPONENT_RANGE``; families without enough
    timings (on at least ``MIN_FIT_ROWS`` training rows) are left out (:data:`DEFAULT_EXPONENT` applies)."""
    t = timed[timed["train_rows"] >= MIN_FIT_ROWS]
    logs = np.column_stack([np.log(t["seconds"]), np.log(t["train_rows"]), np.log(t["n_features"])])
    pairs = t.groupby(["fingerprint", "config_id"], sort=False).ngroup().to_numpy()
    configs = pd.factorize(t["config_id"])[0]
    by_pair = pd.Series(logs[:, 1]).groupby(pairs)  # (ngroup numbers the pairs 0..n-1: positions in these)
    sized = (by_pair.max() - by_pair.min()).to_numpy()[pairs] > 1e-9  # the pair was timed at 2+ sizes
    out: dict[str, float] = {}
    for family, rows in t.groupby("family", sort=False).indices.items():
        within = rows[sized[rows]]
        if len(np.unique(pairs[within])) >= MIN_WITHIN_PAIRS:
            b = _slope(logs[within, :2], pairs[within])
        else:
            b = _slope(logs[rows], configs[rows])
        if b is not None:
            out[str(family)] = float(np.clip(b, *EXPONENT_RANGE))
    return out


def _slope(logs: np.ndarray, groups: np.ndarray) -> float | None:
    """The least-squares coefficient of ``logs[:, 1]`` (log rows; further columns: more regressors) for
    ``logs[:, 0]`` (log seconds) with a free intercept per group (every column centred within its group); None
    with fewer than ``MIN_POINTS`` rows or rows that do not vary within the groups."""
    if len(logs) < MIN_POINTS:
        return None
    codes, groups = np.unique(groups, return_inverse=True)
    counts = np.bincount(groups, minlength=len(codes))
    means = np.column_stack([np.bincount(groups, weights=logs[:, j], minlength=len(codes)) / counts
                             for j in range(logs.shape[1])])
    centred = logs - means[groups]
    X = centred[:, 1:]
    if float(np.abs(X[:, 0]).max(initial=0.0)) < 1e-9:
        return None
    coef, *_ = np.linalg.lstsq(X, centred[:, 0], rcond=None)
    return float(coef[0]) if math.isfinite(coef[0]) else None


def cost_prior(timed: pd.DataFrame, weights: Mapping[str, float], n_rows: int,
               relative: Mapping[str, float], exponents: Mapping[str, float] | None = None) -> CostPrior | None:
    """The prior for a table of ``n_rows`` rows from the timings of its neighbours (``weights``: fingerprint ->
    similarity): each timing brought to ``n_rows`` training rows with its family's exponent (``exponents``, default
    :func:`fit_exponents` of ``timed``), then the similarity-weighted geometric mean per configuration, and per
    family as its default's (over the configuration's cost relative to the default, ``relative``: config id -> that
    cost; configurations without one count for themselves only). None when no neighbour has a timing."""
    exponents = fit_exponents(timed) if exponents is None else dict(exponents)
    near = timed[timed["fingerprint"].isin(list(weights))]
    if not len(near):
        return None
    b = near["family"].map(lambda f: exponents.get(f, DEFAULT_EXPONENT)).to_numpy(dtype=float)
    logs = np.log(near["seconds"].to_numpy()) + b * np.log(float(n_rows) / near["train_rows"].to_numpy())
    w = near["fingerprint"].map(weights).to_numpy(dtype=float)
    rel = near["config_id"].map(relative).to_numpy(dtype=float)
    known = np.isfinite(rel) & (rel > 0)
    family_seconds = _weighted_geomean(logs[known] - np.log(rel[known]), w[known], near["family"][known])
    return CostPrior(float(n_rows), family_seconds, _weighted_geomean(logs, w, near["config_id"]), exponents)


def _weighted_geomean(logs: np.ndarray, weights: np.ndarray, keys: pd.Series) -> dict[str, float]:
    frame = pd.DataFrame({"k": keys.to_numpy(), "wl": weights * logs, "w": weights})
    sums = frame.groupby("k")[["wl", "w"]].sum()
    sums = sums[sums["w"] > 0]
    return {str(k): float(math.exp(wl / w)) for k, wl, w in zip(sums.index, sums["wl"], sums["w"])}


class StoreTimings:
    """A store's timings (``KnowledgeBase.timings``), read on first use and once, as one fit each
    (:func:`timed_evaluations`) with the per-family exponents fitted on them: what a fit's cost prior and the
    estimates of its own history's seconds (``automl.trial_budget``) share."""

    def __init__(self, store: KnowledgeBase) -> None:
        self.store = store

    @cached_property
    def raw(self) -> pd.DataFrame:
        return self.store.timings()

    @cached_property
    def timed(self) -> pd.DataFrame:
        return timed_evaluations(self.raw)

    @cached_property
    def exponents(self) -> dict[str, float]:
        return fit_exponents(self.timed)

    def fingerprints(self, lineage: str) -> list[str]:
        """The stored datasets of ``lineage`` that have timings (``KnowledgeBase.lineage_fingerprints``: one
        filtered query; the timings themselves are read only when a prior is made)."""
        return self.store.lineage_fingerprints(lineage)

    def prior(self, weights: Mapping[str, float], n_rows: int,
              relative: Mapping[str, float] | None = None) -> CostPrior | None:
        """:func:`cost_prior` of these timings."""
        return cost_prior(self.timed, weights, n_rows, relative or {}, self.exponents)


def store_cost_prior(timings: StoreTimings, prior: Iterable[PriorObservation], n_rows: int) -> CostPrior | None:
    """:func:`cost_prior` from a store's ``timings`` (one read) for the neighbours of the retrieved ``prior``
    observations (their similarity weights and configurations); None when it cannot be made (an empty store, no
    neighbour, a read that failed: the search then times its own trials, as without a store) or is not wanted
    (fewer than ``PRIOR_MIN_ROWS`` rows: the store is not read)."""
    if n_rows < PRIOR_MIN_ROWS:
        return None
    from .models import REGISTRY
    weights, relative = {}, {}
    for p in prior:
        weights[p.fingerprint] = p.weight
        if p.config_id not in relative and p.family in REGISTRY:
            relative[p.config_id] = REGISTRY.get(p.family).relative_cost(p.config)
    if not weights:
        return None
    try:
        return timings.prior(weights, n_rows, relative)
    except Exception as exc:  # a prior on seconds never stops a fit
        log.debug("no cost prior: %s", exc)
        return None


__all__ = ["CostPrior", "StoreTimings", "timed_evaluations", "fit_exponents", "cost_prior", "store_cost_prior",
           "DEFAULT_EXPONENT", "PRIOR_MIN_ROWS"]
