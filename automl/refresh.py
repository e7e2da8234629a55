"""Knowledge-base refresh jobs: datasets from a folder or from OpenML -> meta-features, evaluations, write-back.

For every dataset: load and clean it exactly as ``automl fit`` does, fingerprint it, and skip it when the
store already holds it for the current meta-feature version with every candidate of the pool evaluated
under the current search-space version. A stored dataset that lacks some candidates (the pool grew) gets
only those evaluated (no new search). A new one: compute the meta-features (on all rows), evaluate the
common **portfolio candidates** (a fixed, seeded set of configurations, see :func:`portfolio_candidates`)
at full fidelity with the search's own trial function, run a short real search, and write everything in
one ``store.record_run`` transaction. From OpenML, the
dataset's qualities and, optionally, prior runs of mappable flows (``source="openml"`` evaluations with
OpenML's own metric and protocol) are written too.

Made for cron: resumable and idempotent (skips by content fingerprint + versions; deterministic run
ids), one broken dataset is reported and skipped, a summary at the end, ``RefreshSummary.failed`` tells
the caller whether to exit non-zero. Library code logs to ``automl.refresh`` and reports progress
through ``callback(event: dict)``; it never prints.

Large datasets are evaluated on a seeded subsample (``max_rows``), recorded in the evaluation protocol
(``"cv3;rows=2000/22784;seed=0"``), so recorded scores are never mistaken for full-data scores.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import time
import warnings
import zlib
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from knowledge_base.canonical import config_id

from . import data as data_mod
from .exceptions import AutoMLError, InputError
from .metrics import get_metric
from .versions import __version__, library_versions

log = logging.getLogger("automl.refresh")

CANDIDATES_FILE = Path(__file__).resolve().parents[1] / "knowledge_base" / "seed" / "candidates.json"
CANDIDATE_ORIGIN = "candidate"
OPENML_ORIGIN = "openml"
RUN_KIND = "refresh"
OPENML_RUN_KIND = "openml-import"
# how many space samples per family join the family defaults in the candidate pool
CANDIDATE_SAMPLES = {"lightgbm": 10, "random_forest": 3, "extra_trees": 3, "linear": 3, "knn": 3, "mlp": 2}
# more samples per family, space-filling: each family's own scrambled Sobol sequence, whose first n points do
# not depend on how many are drawn, so raising a count appends candidates and keeps every earlier one (and
# its stored evaluations): a store is topped up, not rebuilt. They give the warm start's prior evidence on
# the families the first samples hardly cover (the SVM's C x gamma, the MLP's and k-NN's shapes)
CANDIDATE_EXTRA_SAMPLES = {"svm": 8, "mlp": 3, "knn": 2, "linear": 2}
# sampled forests and MLPs keep to the cheaper part of the space so a full PMLB build fits its CPU budget
CANDIDATE_LIMITS = {"n_estimators": 200, "hidden": 64}
TOP_UP_NOTE = "new candidate(s) evaluated"
Callback = Callable[[dict], None]


# ============================================================================ options and results
@dataclass
class RefreshOptions:
    """What one refresh does per dataset."""

    budget: float = 5.0  # seconds of real search per dataset (0: no search)
    limit: int | None = None  # datasets to process (added / updated / failed) in this run; skipped ones are free
    n_jobs: int = 1  # datasets evaluated in parallel (one process each)
    max_rows: int = 2000  # evaluations use a seeded subsample of at most this many rows
    seed: int = 0
    candidates: bool = True  # evaluate the portfolio candidates
    trial_seconds: float = 60.0  # cap for one candidate evaluation
    rebuild_portfolio: bool = True
    portfolio_size: int = 16
    check: bool = True  # store.check() at the end
    pool: list[dict] | None = None  # the candidate configurations (None: the shipped / generated pool)
    search_trials: int | None = None  # stop each search after this many trials (deterministic mode)
    cluster: Any = None  # a Dask cluster ("local", tcp://host:port or a Client): one task per dataset there

    def validate(self) -> None:
        if not (self.budget >= 0) or not math.isfinite(self.budget):
            raise InputError(f"--budget must be >= 0 seconds; got {self.budget!r}")
        if self.limit is not None and self.limit < 1:
            raise InputError(f"--limit must be >= 1; got {self.limit!r}")
        if self.n_jobs == 0 or self.n_jobs < -1:
            raise InputError(f"--n-jobs must be -1 or >= 1; got {self.n_jobs!r}")
        if self.max_rows < 100:
            raise InputError(f"max_rows must be >= 100; got {self.max_rows!r}")


@dataclass
class DatasetOutcome:
    name: str
    status: str  # added | updated | skipped | failed
    reason: str = ""
    fingerprint: str | None = None
    task: str | None = None
    n_evaluations: int = 0
    n_openml: int = 0
    seconds: float = 0.0


@dataclass
class RefreshSummary:
    source: str
    store: str
    outcomes: list[DatasetOutcome] = field(default_factory=list)
    seconds: float = 0.0
    portfolio: str | None = None
    check: dict | None = None
    not_reached: int = 0  # datasets left for a later run because of --limit

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> bool:
        return self.count("failed") > 0

    def to_dict(self) -> dict:
        return {"source": self.source, "store": self.store, "seconds": round(self.seconds, 2),
                "added": self.count("added"), "updated": self.count("updated"), "skipped": self.count("skipped"),
                "failed": self.count("failed"), "not_reached": self.not_reached,
                "evaluations_written": sum(o.n_evaluations + o.n_openml for o in self.outcomes),
                "portfolio": self.portfolio, "check": self.check,
                "datasets": [o.__dict__ for o in self.outcomes]}


# ============================================================================ the candidate pool
def portfolio_candidates(seed: int = 0, samples: dict[str, int] | None = None,
                         extra: dict[str, int] | None = None) -> list[dict]:
    """The common candidate pool: every family's default and hand-chosen configurations, then seeded
    space samples per family (``CANDIDATE_SAMPLES``, one random stream for all families), then the extra
    samples (``CANDIDATE_EXTRA_SAMPLES``, :func:`_space_filling`), deduplicated by id. Plain data,
    deterministic."""
    from .models import REGISTRY
    samples = CANDIDATE_SAMPLES if samples is None else samples
    extra = CANDIDATE_EXTRA_SAMPLES if extra is None else extra
    rng = np.random.default_rng(seed)
    pool: list[dict] = []
    for key in REGISTRY.keys():
        family = REGISTRY.get(key)
        pool.append(family.default_config())
        pool += [family.complete(c) for c in family.defaults]
    for key in REGISTRY.keys():
        pool += [_sample(REGISTRY.get(key), rng) for _ in range(samples.get(key, 0))]
    for key in REGISTRY.keys():
        pool += _space_filling(REGISTRY.get(key), extra.get(key, 0), seed, {config_id(c) for c in pool})
    seen, out = set(), []
    for c in pool:
        cid = config_id(c)
        if cid not in seen:
            seen.add(cid)
            out.append(c)
    return out


def _sample(family, rng) -> dict:
    """One rounded space sample of ``family`` within ``CANDIDATE_LIMITS`` (the last draw after 100 tries)."""
    for _attempt in range(100):
        config = _rounded(family.complete(family.sample(rng)))
        if _within_limits(config):
            break
    return config


def _space_filling(family, n: int, seed: int, taken: set[str]) -> list[dict]:
    """The first ``n`` new points (not in ``taken``, within ``CANDIDATE_LIMITS``) of a scrambled Sobol
    sequence over ``family``'s unit cube, seeded by (seed, family key): the first n are the same whatever
    n is."""
    from scipy.stats import qmc
    from .space import decode_params
    if n <= 0:
        return []
    sobol = qmc.Sobol(d=len(family.params), scramble=True, seed=np.random.default_rng([seed, zlib.crc32(
        family.key.encode())]))
    out: list[dict] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Sobol's balance warning for counts that are not powers of 2
        for _attempt in range(100 * n):
            config = _rounded(family.complete({"family": family.key, **decode_params(family.params,
                                                                                     sobol.random(1)[0])}))
            if _within_limits(config) and config_id(config) not in taken:
                taken.add(config_id(config))
                out.append(config)
                if len(out) == n:
                    break
    return out


def _within_limits(config: dict) -> bool:
    return all(config.get(k, v) <= v for k, v in CANDIDATE_LIMITS.items())


def _rounded(config: dict) -> dict:
    """Four significant digits for sampled floats: readable, and the id does not hinge on noise."""
    return {k: (float(f"{v:.4g}") if isinstance(v, float) else v) for k, v in config.items()}


def load_candidates(path: Path | None = None, seed: int = 0) -> list[dict]:
    """The candidate pool shipped with the seed when it matches the current space version, else a fresh one."""
    from .space import SPACE_VERSION
    path = CANDIDATES_FILE if path is None else Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        settings = _pool_settings(seed)
        if {k: doc.get(k) for k in settings} == settings and doc.get("configs"):
            return [dict(c) for c in doc["configs"]]
        log.info("candidate file %s was made with other settings (%s; now %s): generating the pool",
                 path, {k: doc.get(k) for k in settings}, settings)
    except (OSError, ValueError, AttributeError):
        pass
    return portfolio_candidates(seed)


def _pool_settings(seed: int = 0) -> dict:
    """What the generated pool depends on (a shipped pool made with other settings is not used)."""
    from .space import SPACE_VERSION
    return {"space_version": str(SPACE_VERSION), "seed": seed, "samples_per_family": CANDIDATE_SAMPLES,
            "extra_samples_per_family": CANDIDATE_EXTRA_SAMPLES, "sample_limits": CANDIDATE_LIMITS}


def candidates_document(configs: list[dict], seed: int = 0) -> dict:
    return {**_pool_settings(seed), "configs": configs, "config_ids": [config_id(c) for c in configs]}


# ============================================================================ OpenML flows -> our space
_FOREST_FLOW = re.compile(r"(^|\.)(?P<kind>RandomForest|ExtraTrees)(?P<est>Classifier|Regressor)$")
_HARMLESS_STEPS = re.compile(r"(Imputer|OneHotEncoder|OrdinalEncoder|StandardScaler|MinMaxScaler|ColumnTransformer|"
                             r"Pipeline|VarianceThreshold|FeatureUnion|make_column_selector|ConditionalImputer|"
                             r"SimpleImputer|MissingIndicator|FunctionTransformer)")
# parameters outside our space: the run maps only when they hold these (scikit-learn default) values
_FOREST_FIXED = {"max_depth": (None,), "max_leaf_nodes": (None,), "min_samples_split": (2, 2.0),
                 "min_weight_fraction_leaf": (0, 0.0), "min_impurity_decrease": (0, 0.0), "max_samples": (None,),
                 "ccp_alpha": (0, 0.0), "monotonic_cst": (None,)}
# parameters that do not change what is learned in a way our space distinguishes
_FOREST_IGNORED = {"criterion", "random_state", "n_jobs", "verbose", "warm_start", "oob_score",
                   "min_impurity_split"}


def openml_flow_family(flow_name: str) -> str | None:
    """``random_forest`` / ``extra_trees`` when a flow (or a pipeline around it) is a scikit-learn forest."""
    for part in re.split(r"[(),=]", flow_name):
        m = _FOREST_FLOW.search(part.strip())
        if m:
            return "random_forest" if m["kind"] == "RandomForest" else "extra_trees"
    return None


def _openml_value(raw: str | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return {"None": None, "True": True, "False": False}.get(str(raw).strip(), str(raw).strip())


def map_openml_run(parameters: dict[str, dict[str, str]], task: str, n_rows: int,
                   n_features: int) -> tuple[dict | None, str]:
    """Our configuration for an OpenML run's hyperparameters, or ``(None, reason)`` when it does not map.

    Maps scikit-learn RandomForest / ExtraTrees flows (alone or inside a pipeline whose other steps only
    impute / encode / scale) onto the ``random_forest`` / ``extra_trees`` families: ``n_estimators``,
    ``max_features`` (names and counts become the fraction of features), ``min_samples_leaf``
    (fractions become counts), ``bootstrap``, ``class_weight``. ``criterion`` is ignored; any other
    parameter must hold its scikit-learn default; values outside our space do not map.
    """
    from .models import REGISTRY
    forest = [(flow, params) for flow, params in parameters.items() if _FOREST_FLOW.search(flow)]
    if len(forest) != 1:
        return None, "no single scikit-learn forest in the flow"
    flow, params = forest[0]
    others = [f for f in parameters if f != flow and not _HARMLESS_STEPS.search(f.split(".")[-1])]
    if others:
        return None, f"pipeline step {others[0].split('.')[-1]} has no counterpart in our space"
    m = _FOREST_FLOW.search(flow)
    key = "random_forest" if m["kind"] == "RandomForest" else "extra_trees"
    regressor = m["est"] == "Regressor"
    if regressor != (task == "regression"):
        return None, "flow estimator type does not match the task"
    values = {k: _openml_value(v) for k, v in params.items()}
    for name, allowed in _FOREST_FIXED.items():
        if name in values and values[name] not in allowed:
            return None, f"{name}={values[name]!r} is outside our space"
    known = set(_FOREST_FIXED) | _FOREST_IGNORED | {"n_estimators", "max_features", "min_samples_leaf", "bootstrap",
                                                    "class_weight"}
    unknown = sorted(set(values) - known)
    if unknown:
        return None, f"unknown parameter {unknown[0]!r}"
    p = max(1, int(n_features))
    mf = values.get("max_features", "sqrt" if not regressor else 1.0)
    if mf == "auto":
        mf = 1.0 if regressor else "sqrt"
    if mf is None:
        frac = 1.0
    elif mf == "sqrt":
        frac = max(1, int(math.sqrt(p))) / p
    elif mf == "log2":
        frac = max(1, int(math.log2(p))) / p
    elif isinstance(mf, bool) or not isinstance(mf, (int, float)):
        return None, f"max_features={mf!r} is not understood"
    elif isinstance(mf, int):
        frac = min(mf, p) / p
    else:
        frac = float(mf)
    leaf = values.get("min_samples_leaf", 1)
    if isinstance(leaf, float) and not float(leaf).is_integer():
        leaf = max(1, math.ceil(leaf * n_rows))
    weight = values.get("class_weight")
    if weight is None:
        weight = "none"
    elif weight in ("balanced", "balanced_subsample"):
        weight = "balanced"
    else:
        return None, f"class_weight={weight!r} is outside our space"
    n_estimators = values.get("n_estimators", 100)
    bootstrap = values.get("bootstrap", key == "random_forest")
    if not isinstance(bootstrap, bool) or isinstance(n_estimators, bool) or not isinstance(n_estimators, (int, float)):
        return None, "bootstrap / n_estimators not understood"
    family = REGISTRY.get(key)
    bounds = {p_.name: p_ for p_ in family.params}
    frac = min(max(frac, bounds["max_features"].low), bounds["max_features"].high)  # fractions are derived: clip
    config = {"family": key, "n_estimators": int(n_estimators), "max_features": float(f"{frac:.4g}"),
              "min_samples_leaf": int(leaf), "bootstrap": bool(bootstrap), "class_weight": weight}
    for name in ("n_estimators", "min_samples_leaf"):
        b = bounds[name]
        if not (b.low <= config[name] <= b.high):
            return None, f"{name}={config[name]} is outside our space [{b.low}, {b.high}]"
    return family.complete(config), ""


# OpenML quality -> (our meta-feature, conversion); computed differently (ours on capped subsamples,
# OpenML on all rows and counting the target as a feature), so stored side by side, never merged
def _missing_cells(v: float, q: dict) -> float:
    """OpenML's PercentageOfMissingValues counts the target column's cells too (d + 1 columns); ours does
    not (d columns). OpenML datasets have no missing targets in their tasks, so ours = v/100 * (d+1)/d."""
    columns = float(q.get("NumberOfFeatures", float("nan")))  # OpenML: features + the target
    return v / 100.0 * columns / (columns - 1) if columns > 1 else float("nan")


# OpenML quality -> (our meta-feature, convert(value, all qualities) into our units)
OPENML_OVERLAP = {
    "NumberOfInstances": ("n_rows_log", lambda v, q: math.log10(v) if v > 0 else float("nan")),
    "NumberOfFeatures": ("n_features_log", lambda v, q: math.log10(v - 1) if v > 1 else float("nan")),
    "NumberOfClasses": ("n_classes", lambda v, q: v if v > 0 else float("nan")),
    "MajorityClassPercentage": ("majority_share", lambda v, q: v / 100.0),
    "MinorityClassPercentage": ("minority_share", lambda v, q: v / 100.0),
    "ClassEntropy": ("class_entropy", lambda v, q: v),
    "PercentageOfMissingValues": ("share_missing_cells", _missing_cells),
    "PercentageOfInstancesWithMissingValues": ("share_rows_with_missing", lambda v, q: v / 100.0),
    "MeanAttributeEntropy": ("attribute_entropy_mean", lambda v, q: v),
    "MeanMutualInformation": ("mutual_information_mean", lambda v, q: v),
    "MaxMutualInformation": ("mutual_information_max", lambda v, q: v),
    "EquivalentNumberOfAtts": ("equivalent_n_features_log",
                               lambda v, q: math.log10(1 + v) if v > -1 else float("nan")),
    "MeanNoiseToSignalRatio": ("noise_to_signal_log", lambda v, q: math.log10(1 + v) if v > -1 else float("nan")),
}


def openml_overlap(qualities: dict[str, float], metafeatures: dict[str, float]) -> dict[str, dict]:
    """OpenML qualities that describe one of our meta-features, in our units, next to our value."""
    out = {}
    for quality, (ours, convert) in OPENML_OVERLAP.items():
        if quality not in qualities or ours not in metafeatures:
            continue
        try:
            value = float(convert(float(qualities[quality]), qualities))
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if math.isfinite(value):
            mine = metafeatures.get(ours)
            out[ours] = {"openml_quality": quality, "openml": value,
                         "ours": float(mine) if mine is not None and math.isfinite(mine) else None}
    return out


# ============================================================================ data preparation
@dataclass
class Prepared:
    """A cleaned dataset as the search sees it, with what the refresh needs to record."""

    name: str
    X: pd.DataFrame
    y: np.ndarray
    task: str
    n_rows_dropped: int = 0
    notes: list[str] = field(default_factory=list)


def prepare(frame: pd.DataFrame, target: str, task: str | None, name: str) -> Prepared:
    """Clean ``frame`` like ``automl fit`` (target split, missing targets dropped, TableEncoder).

    Classes with a single row are dropped first (a fit would refuse them), and noted.
    """
    X, y = data_mod.split_target(frame, target)
    X, y, dropped = data_mod.drop_missing_target(X.reset_index(drop=True), y.reset_index(drop=True))
    notes = []
    if task != "regression":
        counts = y.astype(str).value_counts()
        lonely = counts[counts < 2].index
        if task in ("binary", "multiclass") or (task is None and len(counts) <= 50):
            if len(lonely) and len(lonely) < len(counts) - 1:
                keep = ~y.astype(str).isin(lonely).to_numpy()
                notes.append(f"dropped {int((~keep).sum())} row(s) of {len(lonely)} single-row class(es)")
                X, y = X.loc[keep], y.loc[keep]
    data_mod.check_rows(len(y))
    encoded = data_mod.encode_target(y, task)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Xc = data_mod.TableEncoder().fit_transform(X)
    Xc = Xc.reset_index(drop=True)
    return Prepared(name, Xc, encoded.y, encoded.task, dropped, notes)


def subsample_rows(X: pd.DataFrame, y: np.ndarray, task: str, max_rows: int, seed: int
                   ) -> tuple[pd.DataFrame, np.ndarray, str]:
    """At most ``max_rows`` rows (stratified for classification, seeded); class codes kept contiguous.

    Returns the rows and a protocol suffix (``""`` when nothing was dropped).
    """
    n = len(y)
    if n <= max_rows:
        return X, y, ""
    rng = np.random.default_rng(seed)
    if task == "regression":
        idx = np.sort(rng.choice(n, size=max_rows, replace=False))
    else:
        from sklearn.model_selection import train_test_split
        counts = np.bincount(y)
        strat = y if counts[counts > 0].min() >= 2 else None
        try:
            idx, _ = train_test_split(np.arange(n), train_size=max_rows, random_state=seed, stratify=strat)
        except ValueError:
            idx, _ = train_test_split(np.arange(n), train_size=max_rows, random_state=seed)
        # rare classes keep up to 3 rows, so the subsample still has every class the validation can split
        have = np.bincount(y[idx], minlength=len(counts))
        extra = []
        for c in np.flatnonzero((have < np.minimum(counts, 3)) & (counts > 0)):
            pool = np.setdiff1d(np.flatnonzero(y == c), idx)
            extra.append(rng.choice(pool, size=min(len(pool), 3 - have[c]), replace=False))
        idx = np.sort(np.concatenate([idx, *extra]) if extra else idx)
    Xs, ys = X.iloc[idx].reset_index(drop=True), y[idx]
    if task != "regression":
        counts = np.bincount(ys)
        keep = counts[ys] >= 2  # a class left with one row cannot be validated
        Xs, ys = Xs.loc[keep].reset_index(drop=True), ys[keep]
        _, ys = np.unique(ys, return_inverse=True)
        ys = ys.astype(np.int64)
    return Xs, ys, f";rows={len(ys)}/{n};seed={seed}"


# ============================================================================ evaluation (worker side)
def evaluate_dataset(job: dict) -> dict:
    """Evaluate the candidate pool and run a short search on one prepared (sub)sample.

    Runs in a worker process (or inline). ``job``: X, y, task, metric, seed, candidates, trial_seconds,
    budget, suggestions, prior. Returns plain data: ``{"candidates": [...], "search": [...], "protocol"}``.
    """
    from threadpoolctl import threadpool_limits
    warnings.filterwarnings("ignore")
    with threadpool_limits(1):  # BLAS / OpenMP threads: one per worker (contention collapses them otherwise)
        return _evaluate_dataset(job)


def _evaluate_dataset(job: dict) -> dict:
    from .deadline import Deadline
    from .models import REGISTRY
    from .search import SearchProblem, optimize
    from .search.trial import run_trial
    from .search.validation import choose_protocol, make_splits
    X, y, task, seed = job["X"], job["y"], job["task"], int(job["seed"])
    metric = get_metric(job["metric"], task)
    protocol = choose_protocol(len(y))
    out: dict = {"protocol": protocol, "candidates": [], "search": [], "search_error": None}
    allowed = {f.key for f in REGISTRY.for_task(task, len(y))}
    if job.get("candidates"):
        data = {"X": X, "y": y, "task": task, "metric": metric, "splits": make_splits(y, task, protocol, seed),
                "seed": seed}
        for i, config in enumerate(job["candidates"]):
            if config.get("family") not in allowed:
                continue
            result = run_trial({"trial_id": i, "config": config, "fidelity": 1.0,
                                "seconds": float(job["trial_seconds"]), "keep_models_dir": None}, data)
            out["candidates"].append({"config": config, "fidelity": 1.0, "status": result.get("status"),
                                      "score": result.get("score"), "loss": result.get("loss"),
                                      "fit_seconds": float(result.get("fit_seconds") or 0.0),
                                      "error": result.get("error"), "origin": CANDIDATE_ORIGIN})
    if float(job.get("budget") or 0) > 0:
        problem = SearchProblem(X=X, y=y, task=task, metric=metric, seed=seed, n_jobs=1)
        strategy = "warm" if job.get("suggestions") else "bo"
        try:
            result = optimize(problem, Deadline(float(job["budget"])), strategy=strategy,
                              suggestions=job.get("suggestions") or [], prior=job.get("prior") or [],
                              max_trials=job.get("max_trials"))
            out["protocol"] = result.protocol or protocol
            for t in result.trials:
                if t.status not in ("ok", "failed", "timeout"):
                    continue
                out["search"].append({"config": t.config, "fidelity": float(t.fidelity), "status": t.status,
                                      "score": t.score, "loss": t.loss, "fit_seconds": float(t.fit_seconds or 0),
                                      "error": t.error, "origin": t.origin})
        except AutoMLError as exc:  # e.g. the budget was too short to fit anything: keep the candidates
            out["search_error"] = str(exc)
    return out


# ============================================================================ items (what a source yields)
@dataclass
class Item:
    """One dataset to process: ``load()`` -> (frame, target, task or None); extras for OpenML."""

    name: str
    load: Callable[[], tuple[pd.DataFrame, str, str | None]]
    source: str  # "folder" | "pmlb" | "manifest" | "openml"
    qualities: Callable[[], dict] | None = None  # OpenML qualities (after load)
    openml_runs: Callable[[str, int, int], tuple[list, dict]] | None = None


def folder_items(folder: str | Path) -> tuple[list[Item], list[tuple[str, str]]]:
    from knowledge_base.sources.folder import discover
    sources, problems = discover(folder)
    items = []
    for src in sources:
        def load(src=src):
            return data_mod.load_table(src.path), src.target, src.task
        items.append(Item(src.name, load, src.origin))
    return items, [(p.name, p.reason) for p in problems]


# ============================================================================ the job
class _Refresher:
    def __init__(self, store, options: RefreshOptions, callback: Callback | None) -> None:
        import knowledge_base as kb
        import metafeatures
        from .space import SPACE_VERSION
        options.validate()
        self.kb = kb
        self.mf = metafeatures
        self.options = options
        self.callback = callback
        self.space_version = str(SPACE_VERSION)
        self.store = store if isinstance(store, kb.KnowledgeBase) else kb.open_store(store)
        pool = options.pool if options.pool is not None else load_candidates(seed=options.seed)
        self.candidates = [dict(c) for c in pool] if options.candidates else []
        self.candidate_ids = [config_id(c) for c in self.candidates]
        self.index = StoreIndex.from_store(self.store, self.space_version)
        self.started = time.monotonic()

    # -- helpers
    def emit(self, event: dict) -> None:
        if self.callback is None:
            return
        try:
            self.callback(event)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # a display problem never stops the job
            log.debug("progress callback failed: %s", exc)

    @property
    def mf_version(self) -> str:
        return str(self.mf.METAFEATURES_VERSION)

    def run_id(self, fingerprint: str, kind: str) -> str:
        key = f"{kind}|{fingerprint}|{self.space_version}|{self.mf_version}|{self.options.seed}|" \
              f"{self.options.max_rows}|{','.join(self.candidate_ids)}"
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    # -- the loop
    def run(self, items: list[Item], problems: list[tuple[str, str]], source: str) -> RefreshSummary:
        summary = RefreshSummary(source=source, store=str(self.store.path))
        for name, reason in problems:
            summary.outcomes.append(DatasetOutcome(name, "failed", reason))
            log.error("%s: %s", name, reason)
        self.emit({"event": "start", "total": len(items), "source": source, "problems": len(problems)})
        pool, n_jobs = self.pool()
        pending: dict[Future, tuple[Item, dict]] = {}
        processed = 0
        index = 0
        try:
            queue = list(items)
            while queue or pending:
                while queue and len(pending) < n_jobs and (self.options.limit is None or processed < self.options.limit):
                    item = queue.pop(0)
                    index += 1
                    outcome, job = self.stage(item, index, len(items))
                    if outcome is not None:
                        summary.outcomes.append(outcome)
                        if outcome.status != "skipped":
                            processed += 1
                        self.report(outcome, index, len(items))
                        continue
                    processed += 1
                    if pool is None:
                        outcome = self.finish(item, job, lambda job=job: evaluate_dataset(job["work"]))
                        summary.outcomes.append(outcome)
                        self.report(outcome, index, len(items))
                    else:
                        job["index"] = index
                        pending[pool.submit(evaluate_dataset, job["work"])] = (item, job)
                if self.options.limit is not None and processed >= self.options.limit and not pending:
                    summary.not_reached = len(queue)
                    break
                if not pending:
                    continue
                done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                broken = False
                for fut in done:
                    item, job = pending.pop(fut)
                    outcome = self.finish(item, job, fut.result)
                    broken = broken or "BrokenProcessPool" in outcome.reason
                    summary.outcomes.append(outcome)
                    self.report(outcome, job["index"], len(items))
                if broken and isinstance(pool, ProcessPoolExecutor):  # a worker died (e.g. out of memory):
                    # the pool is unusable, start a fresh one (a Dask pool fails only that task)
                    for fut, (item, job) in list(pending.items()):
                        outcome = self.finish(item, job, fut.result)
                        summary.outcomes.append(outcome)
                        self.report(outcome, job["index"], len(items))
                    pending.clear()
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = ProcessPoolExecutor(max_workers=n_jobs, initializer=_worker_init)
        finally:
            if pool is not None:
                for fut in pending:
                    fut.cancel()
                pool.shutdown(wait=True, cancel_futures=True)
        self.wrap_up(summary)
        summary.seconds = time.monotonic() - self.started
        self.emit({"event": "done", "summary": summary})
        return summary

    def pool(self):
        """(pool, datasets in flight): a Dask pool with ``cluster`` (its workers' threads in flight), local
        processes for ``n_jobs > 1``, or (None, 1): evaluate inline."""
        n_jobs = _resolve_n_jobs(self.options.n_jobs)
        if self.options.cluster is not None:
            from .search.dask_runner import dask_pool
            pool = dask_pool(self.options.cluster, n_jobs)
            return pool, pool.max_workers
        if n_jobs > 1:
            return ProcessPoolExecutor(max_workers=n_jobs, initializer=_worker_init), n_jobs
        return None, 1

    def report(self, outcome: DatasetOutcome, index: int, total: int) -> None:
        level = logging.ERROR if outcome.status == "failed" else logging.INFO
        log.log(level, "[%d/%d] %s: %s%s (%d evaluation(s), %.1fs)", index, total, outcome.name, outcome.status,
                f" - {outcome.reason}" if outcome.reason else "", outcome.n_evaluations + outcome.n_openml,
                outcome.seconds)
        self.emit({"event": "dataset", "index": index, "total": total, "outcome": outcome})

    # -- stage: load, clean, fingerprint, decide (parent process)
    def stage(self, item: Item, index: int, total: int) -> tuple[DatasetOutcome | None, dict | None]:
        t0 = time.monotonic()
        self.emit({"event": "dataset_start", "index": index, "total": total, "name": item.name})
        fp = None
        try:
            frame, target, task = item.load()
            prepared = prepare(frame, target, task, item.name)
            del frame
            fp = self.kb.fingerprint(prepared.X, prepared.y)
            state = self.index.state(fp)
            known = bool(state["done"]) or state["refreshed"]
            metric = get_metric(None, prepared.task).name
            Xs, ys, suffix = subsample_rows(prepared.X, prepared.y, prepared.task, self.options.max_rows,
                                            self.options.seed)
            missing = self.missing_candidates(state["done"], prepared.task, len(ys))
            described = state["mf_version"] == self.mf_version
            if known and described and not missing:
                return DatasetOutcome(item.name, "skipped", "already in the store for these versions", fp,
                                      prepared.task, seconds=time.monotonic() - t0), None
            job = {"fingerprint": fp, "suffix": suffix, "metric": metric, "task": prepared.task, "t0": t0,
                   "openml": [], "openml_note": "", "notes": prepared.notes, "n_rows_eval": len(ys)}
            work = {"X": Xs, "y": ys, "task": prepared.task, "metric": metric, "seed": self.options.seed,
                    "candidates": missing, "trial_seconds": self.options.trial_seconds, "budget": 0.0,
                    "suggestions": [], "prior": [], "max_trials": None}
            if known:
                # stored before: re-describe it when the meta-feature version changed (the store upserts the
                # dataset, newest wins; every evaluation is kept), and evaluate the candidates that joined
                # the pool since (no search: the dataset had its search)
                dataset = self.stored_record(fp, state) if described else None
                if dataset is None:
                    dataset = self.dataset_record(item, prepared, fp, self.mf.compute(prepared.X, prepared.y,
                                                                                       prepared.task))
                    self.write(self.run_record(fp, "refresh-metafeatures", {"name": item.name, "from_version":
                                                                            state["mf_version"]}), dataset, [])
                    self.index.mark(fp, mf_version=self.mf_version, record=self.record_fields(dataset))
                    job["notes"] = [f"meta-features recomputed (version {state['mf_version']} -> "
                                    f"{self.mf_version})"] + prepared.notes
                if not missing:
                    return DatasetOutcome(item.name, "updated", job["notes"][0], fp, prepared.task, 0,
                                          seconds=time.monotonic() - t0), None
                return None, {**job, "work": work, "dataset": dataset, "top_up": True}
            mf = self.mf.compute(prepared.X, prepared.y, prepared.task)
            dataset = self.dataset_record(item, prepared, fp, mf)
            if item.openml_runs is not None:
                job["openml"], job["openml_note"] = self.openml_evaluations(item, prepared)
            suggestions, prior = self.warm_material(mf, prepared.task, metric, fp)
            work.update(candidates=self.candidates if self.options.candidates else [],
                        budget=self.options.budget, suggestions=suggestions, prior=prior,
                        max_trials=self.options.search_trials)
            return None, {**job, "work": work, "dataset": dataset}
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            return DatasetOutcome(item.name, "failed", _one_line(exc), fp, seconds=time.monotonic() - t0), None

    # -- finish: evaluations -> records -> one write (parent process)
    def finish(self, item: Item, job: dict, get_result: Callable[[], dict]) -> DatasetOutcome:
        fp, t0 = job["fingerprint"], job["t0"]
        top_up = job.get("top_up", False)
        try:
            result = get_result()
            protocol = f"{result['protocol']}{job['suffix']}"
            rows = result["candidates"] + result["search"]
            evaluations = [self.evaluation_record(r, protocol, job["metric"]) for r in rows]
            settings = {"source": item.source, "name": item.name, "task": job["task"], "metric": job["metric"],
                        "protocol": protocol, "max_rows": self.options.max_rows, "rows_evaluated": job["n_rows_eval"],
                        "budget": 0.0 if top_up else self.options.budget, "top_up": top_up,
                        "n_candidates": len(result["candidates"]), "candidate_ids": self.candidate_ids,
                        "n_search_trials": len(result["search"]),
                        "search_error": result.get("search_error"), "notes": job["notes"]}
            n = self.write(self.run_record(fp, RUN_KIND, settings), job["dataset"], evaluations)
            n_openml = 0
            if job["openml"]:
                n_openml = self.write(self.run_record(fp, OPENML_RUN_KIND, {"name": item.name}, source="openml"),
                                      job["dataset"], job["openml"])
            self.index.mark(fp, mf_version=self.mf_version, done=[config_id(r["config"]) for r in result["candidates"]],
                            record=self.record_fields(job["dataset"]), refreshed=True)
            notes = ([f"{len(result['candidates'])} {TOP_UP_NOTE}"] if top_up else []) + job["notes"]
            reason = "; ".join(x for x in [job["openml_note"], result.get("search_error") or ""] + notes if x)
            return DatasetOutcome(item.name, "updated" if top_up else "added", reason, fp, job["task"], n, n_openml,
                                  seconds=time.monotonic() - t0)
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            return DatasetOutcome(item.name, "failed", _one_line(exc), fp, job["task"],
                                  seconds=time.monotonic() - t0)

    def missing_candidates(self, done: set[str], task: str, n_rows: int) -> list[dict]:
        """The pool's candidates not yet evaluated on a dataset (``done``: their ids) that its task and
        evaluated rows allow (as the worker's ``REGISTRY.for_task``)."""
        from .models import REGISTRY
        allowed = {f.key for f in REGISTRY.for_task(task, n_rows)}
        return [c for c, cid in zip(self.candidates, self.candidate_ids)
                if cid not in done and c.get("family") in allowed]

    # -- records
    def stored_record(self, fp: str, state: dict):
        """The dataset record as stored (None when the index has none)."""
        fields = state.get("record")
        if not fields:
            return None
        return self.kb.records.DatasetRecord(
            fingerprint=fp, name=str(fields["name"]), source=str(fields["source"]), task=str(fields["task"]),
            n_rows=int(fields["n_rows"]), n_features=int(fields["n_features"]),
            metafeatures=dict(fields["metafeatures"]), metafeatures_version=str(fields["metafeatures_version"]),
            extra=dict(fields.get("extra") or {}))

    @staticmethod
    def record_fields(dataset) -> dict:
        return {k: getattr(dataset, k) for k in StoreIndex.FIELDS}

    def dataset_record(self, item: Item, prepared: Prepared, fp: str, mf: dict):
        extra: dict = {"refresh_source": item.source}
        if prepared.notes:
            extra["notes"] = prepared.notes
        if item.qualities is not None:
            info = item.qualities()
            extra["openml"] = info
            extra["openml_overlap"] = openml_overlap(info.get("qualities") or {}, mf)
        return self.kb.records.DatasetRecord(
            fingerprint=fp, name=item.name, source=item.source, task=prepared.task, n_rows=len(prepared.y),
            n_features=prepared.X.shape[1], metafeatures=mf, metafeatures_version=self.mf_version, extra=extra)

    def evaluation_record(self, row: dict, protocol: str, metric: str):
        return self.kb.records.EvaluationRecord(
            config=row["config"], family=row["config"].get("family", "unknown"), space_version=self.space_version,
            fidelity=float(row["fidelity"]), protocol=protocol, metric=metric, score=_finite(row.get("score")),
            loss=_finite(row.get("loss")), fit_seconds=float(row.get("fit_seconds") or 0.0),
            status=str(row.get("status") or "failed"), error=row.get("error"), seed=int(self.options.seed),
            library_version=__version__, created_at=None, origin=row.get("origin"))

    def run_record(self, fp: str, kind: str, settings: dict, source: str = "local"):
        now = datetime.now(timezone.utc)
        return self.kb.records.RunRecord(run_id=self.run_id(fp, kind), kind=kind, started_at=now, finished_at=now,
                                         budget_seconds=float(self.options.budget), settings=settings,
                                         versions={**library_versions(), "space": self.space_version,
                                                   "metafeatures": self.mf_version}, source=source)

    def write(self, run, dataset, evaluations) -> int:
        return int(self.store.record_run(run, dataset, evaluations))

    # -- store queries
    def warm_material(self, mf: dict, task: str, metric: str, fp: str) -> tuple[list, list]:
        if self.options.budget <= 0:
            return [], []
        try:
            _, suggestions, prior = self.store.retrieve(mf, task, metric, n=10, k=10, exclude_fingerprint=fp)
        except Exception as exc:  # an empty or busy store means a cold search, never a failure
            log.debug("no warm start: %s", exc)
            return [], []
        return ([{"config": s.config, "origin": "kb", "explanation": s.explanation}
                 for s in suggestions],
                [{"config": p.config, "fidelity": p.fidelity, "normalised_score": p.normalised_score,
                  "weight": p.weight} for p in prior])

    # -- OpenML prior runs
    def openml_evaluations(self, item: Item, prepared: Prepared) -> tuple[list, str]:
        runs, meta = item.openml_runs(prepared.task, len(prepared.y), prepared.X.shape[1])
        from knowledge_base.sources.openml import MEASURES
        by_config: dict[str, list] = {}
        skipped: dict[str, int] = {}
        for run in runs:
            config, reason = map_openml_run(run.parameters, prepared.task, len(prepared.y), prepared.X.shape[1])
            if config is None:
                skipped[reason] = skipped.get(reason, 0) + 1
                continue
            by_config.setdefault(config_id(config), [config, []])[1].append(run)
        records = []
        for cid, (config, group) in by_config.items():
            name, greater = MEASURES.get(group[0].function, (f"openml:{group[0].function}", True))
            value = float(np.mean([r.value for r in group]))
            records.append(self.kb.records.EvaluationRecord(
                config=config, family=config["family"], space_version=self.space_version, fidelity=1.0,
                protocol=f"openml:{meta.get('estimation', '')}", metric=name, score=value,
                loss=-value if greater else value, fit_seconds=0.0, status="ok",
                error=None, seed=0, library_version=f"openml-runs:{','.join(str(r.run_id) for r in group[:20])}",
                created_at=None, origin=OPENML_ORIGIN))
        n_skipped = sum(skipped.values())
        note = ""
        if runs:
            note = f"{len(runs)} OpenML run(s): {len(runs) - n_skipped} mapped onto {len(records)} configuration(s)"
            if skipped:
                top = sorted(skipped.items(), key=lambda kv: -kv[1])[0]
                note += f", {n_skipped} not mappable (e.g. {top[1]}x {top[0]})"
        return records, note

    # -- end of the job
    def wrap_up(self, summary: RefreshSummary) -> None:
        from knowledge_base.portfolio import portfolio_path
        changed = any(o.status in ("added", "updated") for o in summary.outcomes)
        if self.options.rebuild_portfolio and (changed or not portfolio_path(self.store.path).exists()):
            try:
                path = rebuild_portfolio(self.store, size=self.options.portfolio_size)
                summary.portfolio = str(path) if path else None
            except Exception as exc:
                log.warning("portfolio not rebuilt: %s", _one_line(exc))
        if self.options.check:
            try:
                problems = self.store.check()
                summary.check = {"problems": list(problems)}
                for p in problems:
                    log.warning("knowledge-base check: %s", p)
            except Exception as exc:
                summary.check = {"error": _one_line(exc)}


# ============================================================================ store access (public API only)
def store_tables(store) -> dict[str, pd.DataFrame]:
    """``datasets`` and ``evaluations`` of ``store`` as DataFrames (the store's ``datasets()`` /
    ``evaluations()`` readers; evaluations carry ``fingerprint``, ``task``, ``config``, ``space_version``)."""
    datasets = store.datasets()
    evaluations = store.evaluations()
    return {"datasets": datasets, "evaluations": evaluations}


def read_export(directory: str | Path) -> dict[str, pd.DataFrame]:
    """The same two tables from a store export folder (e.g. the bundled ``knowledge_base/seed``)."""
    directory = Path(directory)
    ds = pd.read_parquet(directory / "datasets.parquet")
    ev = pd.read_parquet(directory / "evaluations.parquet")
    cf = pd.read_parquet(directory / "configurations.parquet")
    ds["metafeatures"] = ds["metafeatures"].map(lambda t: {k: (np.nan if v is None else float(v))
                                                           for k, v in json.loads(t or "{}").items()})
    ds["extra"] = ds["extra"].map(lambda t: json.loads(t or "{}"))
    ev = ev.merge(ds[["fingerprint", "name", "task"]], on="fingerprint", how="left")
    ev = ev.merge(cf[["config_id", "config", "family"]], on="config_id", how="left")
    return {"datasets": ds, "evaluations": ev}


class StoreIndex:
    """What the refresh needs to know per fingerprint: the stored description (meta-feature version and
    the dataset record's fields) and which candidates it holds evaluations of for this space version.

    Built once per job from the store and kept current as the job writes (fits writing to the same
    store meanwhile never add candidate evaluations, so they cannot make it wrong).
    """

    FIELDS = ("name", "source", "task", "n_rows", "n_features", "metafeatures", "metafeatures_version", "extra")

    def __init__(self, entries: dict[str, dict]) -> None:
        self.entries = entries

    @classmethod
    def from_store(cls, store, space_version: str) -> "StoreIndex":
        datasets = store.datasets()
        entries = {str(row["fingerprint"]): {**cls._empty(), "mf_version": str(row["metafeatures_version"]),
                                             "record": {k: row[k] for k in cls.FIELDS if k in row}}
                   for row in datasets.to_dict("records")} if len(datasets) else {}
        ev = store.evaluations(origin=CANDIDATE_ORIGIN)
        if len(ev):
            ev = ev[ev["space_version"].astype(str) == str(space_version)]
            for fp, cid in zip(ev["fingerprint"].astype(str), ev["config_id"].astype(str)):
                entries.setdefault(fp, cls._empty())["done"].add(cid)
        return cls(entries)

    @staticmethod
    def _empty() -> dict:
        # refreshed: processed by this job (with no candidates to evaluate, ``done`` alone cannot tell)
        return {"mf_version": None, "done": set(), "record": None, "refreshed": False}

    def state(self, fp: str) -> dict:
        entry = self.entries.get(fp, self._empty())
        return {**entry, "done": set(entry["done"])}

    def mark(self, fp: str, *, mf_version: str | None = None, done: Iterable[str] = (),
             record: dict | None = None, refreshed: bool = False) -> None:
        entry = self.entries.setdefault(fp, self._empty())
        entry["refreshed"] = entry["refreshed"] or refreshed
        if mf_version is not None:
            entry["mf_version"] = mf_version
        entry["done"].update(done)
        if record is not None:
            entry["record"] = record


def candidate_losses(tables: dict[str, pd.DataFrame], space_version: str) -> tuple[pd.DataFrame, dict[str, dict]]:
    """Full-fidelity candidate evaluations under our protocol: fingerprint, task, config_id, loss (failed: NaN)."""
    ev = tables["evaluations"]
    cols = ["fingerprint", "task", "config_id", "loss", "metric"]
    if len(ev) == 0:
        return pd.DataFrame(columns=cols), {}
    ev = ev[(ev["origin"] == CANDIDATE_ORIGIN) & (ev["fidelity"] >= 1.0) &
            (ev["space_version"].astype(str) == str(space_version))].copy()
    ev.loc[ev["status"] != "ok", "loss"] = np.nan
    configs = {cid: (json.loads(c) if isinstance(c, str) else dict(c)) for cid, c in zip(ev["config_id"], ev["config"])}
    return ev[cols], configs


def rebuild_portfolio(store=None, *, size: int = 16, out: str | Path | None = None) -> Path | None:
    """Greedy portfolio from the store's candidate evaluations, written next to the store (or to ``out``)."""
    import knowledge_base as kb
    from knowledge_base.portfolio import build_portfolios, portfolio_document, portfolio_path, save_portfolio
    from .space import SPACE_VERSION
    store = store if isinstance(store, kb.KnowledgeBase) else kb.open_store(store)
    # only the candidate evaluations are read (not every search trial of every fit)
    frame, configs = candidate_losses({"evaluations": store.evaluations(origin=CANDIDATE_ORIGIN)}, SPACE_VERSION)
    if frame.empty:
        log.info("no candidate evaluations yet: no portfolio built")
        return None
    built = build_portfolios(frame, configs, size=size)
    path = Path(out) if out is not None else portfolio_path(store.path)
    doc = portfolio_document(built, space_version=str(SPACE_VERSION), size=size,
                             source=f"greedy over candidate evaluations of {built['n_datasets']} dataset(s)")
    save_portfolio(doc, path)
    log.info("portfolio rebuilt from %s dataset(s): %s", built["n_datasets"], path)
    return path


# ============================================================================ public entry points
def refresh_from_dir(folder: str | Path, *, store=None, options: RefreshOptions | None = None,
                     callback: Callback | None = None) -> RefreshSummary:
    """Refresh the store at ``store`` (default: ``AUTOML_KB`` or the per-user store) from a folder."""
    options = options or RefreshOptions()
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"--from-dir {str(folder)!r} is not a folder")
    refresher = _Refresher(store, options, callback)
    items, problems = folder_items(folder)
    if not items and not problems:
        raise InputError(f"no dataset found in {str(folder)!r} (expected PMLB NAME.tsv.gz + summary.csv, or "
                         f"CSV/Parquet files with manifest.json / datasets.csv)")
    return refresher.run(items, problems, f"folder {folder}")


def refresh_from_openml(*, suite: int | str | None = None, tasks: Iterable[int] = (), store=None,
                        options: RefreshOptions | None = None, callback: Callback | None = None,
                        server: str | None = None, apikey: str | None = None, cache_dir: str | Path | None = None,
                        timeout: float = 60.0, n_retries: int = 3, import_runs: bool = True,
                        max_runs: int = 500) -> RefreshSummary:
    """Refresh from an OpenML suite and/or task ids, through the ``openml`` client and its cache."""
    from knowledge_base.sources.openml import TASK_MEASURE, OpenMLFetchError, OpenMLSource
    options = options or RefreshOptions()
    source = OpenMLSource(server=server, apikey=apikey, cache_dir=cache_dir, timeout=timeout, n_retries=n_retries)
    refresher = _Refresher(store, options, callback)
    task_ids = [int(t) for t in tasks]
    problems: list[tuple[str, str]] = []
    label = []
    if suite is not None:
        label.append(f"suite {suite}")
        try:
            task_ids = source.suite_task_ids(suite) + task_ids
        except OpenMLFetchError as exc:
            problems.append((f"suite {suite}", str(exc)))
    if tasks:
        label.append(f"tasks {','.join(str(t) for t in tasks)}")
    seen, ordered = set(), []
    for t in task_ids:
        if t not in seen:
            seen.add(t)
            ordered.append(t)
    if not ordered and not problems:
        raise InputError("no OpenML task to refresh: give --openml-suite or --openml-tasks")
    items = [_openml_item(source, tid, import_runs, max_runs, TASK_MEASURE) for tid in ordered]
    return refresher.run(items, problems, "OpenML " + " + ".join(label))


def _openml_item(source, tid: int, import_runs: bool, max_runs: int, measures: dict) -> Item:
    holder: dict = {}

    def load():
        data = source.fetch_task(tid)
        holder["data"] = data
        return data.frame, data.target, data.task

    def qualities():
        data = holder.get("data")
        if data is None:
            return {}
        return {"task_id": data.task_id, "dataset_id": data.dataset_id, "name": data.name,
                "estimation": data.estimation, "evaluation_measure": data.evaluation_measure,
                "qualities": dict(data.qualities)}

    def runs(task: str, n_rows: int, n_features: int):
        data = holder["data"]
        found = source.runs(tid, measures[task], flow_filter=lambda n: openml_flow_family(n) is not None,
                            max_runs=max_runs)
        return found, {"estimation": data.estimation}

    return Item(f"openml-task-{tid}", load, "openml", qualities, runs if import_runs else None)


# ============================================================================ small helpers
def _worker_init() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    warnings.filterwarnings("ignore")


def _resolve_n_jobs(n_jobs: int) -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cpus if n_jobs == -1 else max(1, min(int(n_jobs), cpus))


def _finite(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text and not isinstance(exc, (AutoMLError,)) else \
        (text[0] if text else type(exc).__name__)


__all__ = ["RefreshOptions", "RefreshSummary", "DatasetOutcome", "refresh_from_dir", "refresh_from_openml",
           "rebuild_portfolio", "portfolio_candidates", "load_candidates", "map_openml_run", "openml_flow_family",
           "evaluate_dataset", "prepare", "subsample_rows"]
