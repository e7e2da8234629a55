"""Knowledge-base refresh jobs: datasets from a folder or from OpenML -> meta-features, evaluations, write-back.

For every dataset: load and clean it exactly as ``automl fit`` does, fingerprint it, and skip it when the
store already holds it for the current meta-feature and search-space versions. Otherwise compute the
meta-features (on all rows), evaluate the common **portfolio candidates** (a fixed, seeded set of
configurations, see :func:`portfolio_candidates`) at full fidelity with the search's own trial function,
run a short real search, and write everything in one ``store.record_run`` transaction. From OpenML, the
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
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

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
    check: bool = True  # store.check() at the end (when the store offers it)

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
def portfolio_candidates(seed: int = 0, samples: dict[str, int] | None = None) -> list[dict]:
    """The common candidate pool: every family's default and hand-chosen configurations, then seeded
    space samples per family (``CANDIDATE_SAMPLES``), deduplicated by id. Plain data, deterministic."""
    from .models import REGISTRY
    samples = CANDIDATE_SAMPLES if samples is None else samples
    rng = np.random.default_rng(seed)
    pool: list[dict] = []
    for key in REGISTRY.keys():
        family = REGISTRY.get(key)
        pool.append(family.default_config())
        pool += [family.complete(c) for c in family.defaults]
    for key in REGISTRY.keys():
        family = REGISTRY.get(key)
        for _ in range(samples.get(key, 0)):
            pool.append(_rounded(family.complete(family.sample(rng))))
    seen, out = set(), []
    for c in pool:
        cid = config_id(c)
        if cid not in seen:
            seen.add(cid)
            out.append(c)
    return out


def _rounded(config: dict) -> dict:
    """Four significant digits for sampled floats: readable, and the id does not hinge on noise."""
    return {k: (float(f"{v:.4g}") if isinstance(v, float) else v) for k, v in config.items()}


def load_candidates(path: Path | None = None, seed: int = 0) -> list[dict]:
    """The candidate pool shipped with the seed when it matches the current space version, else a fresh one."""
    from .space import SPACE_VERSION
    path = CANDIDATES_FILE if path is None else Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if str(doc.get("space_version")) == str(SPACE_VERSION) and doc.get("configs"):
            return [dict(c) for c in doc["configs"]]
        log.info("candidate file %s is for space version %s (current %s): generating the pool",
                 path, doc.get("space_version"), SPACE_VERSION)
    except (OSError, ValueError, AttributeError):
        pass
    return portfolio_candidates(seed)


def candidates_document(configs: list[dict], seed: int = 0) -> dict:
    from .space import SPACE_VERSION
    return {"space_version": str(SPACE_VERSION), "seed": seed, "samples_per_family": CANDIDATE_SAMPLES,
            "configs": configs, "config_ids": [config_id(c) for c in configs]}


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
        idx = np.sort(idx)
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
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    warnings.filterwarnings("ignore")
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
                              suggestions=job.get("suggestions") or [], prior=job.get("prior") or [])
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
    source: str  # "folder" | "pmlb" | "openml"
    file_key: str | None = None  # path|size|mtime for the fingerprint cache
    qualities: Callable[[], dict] | None = None  # OpenML qualities (after load)
    openml_runs: Callable[[str, int, int], tuple[list, dict]] | None = None


def folder_items(folder: str | Path) -> tuple[list[Item], list[tuple[str, str]]]:
    from knowledge_base.sources.folder import discover
    sources, problems = discover(folder)
    items = []
    for src in sources:
        st = src.path.stat()

        def load(src=src):
            return data_mod.load_table(src.path), src.target, src.task
        items.append(Item(src.name, load, src.origin, f"{src.path.resolve()}|{st.st_size}|{st.st_mtime_ns}"))
    return items, [(p.name, p.reason) for p in problems]


# ============================================================================ the job
class _Refresher:
    def __init__(self, store_path: str | None, options: RefreshOptions, callback: Callback | None) -> None:
        import knowledge_base as kb
        import metafeatures
        from .space import SPACE_VERSION
        options.validate()
        self.kb = kb
        self.mf = metafeatures
        self.options = options
        self.callback = callback
        self.space_version = str(SPACE_VERSION)
        self.store_path = store_path
        self.candidates = load_candidates(seed=options.seed) if options.candidates else []
        self.candidate_ids = [config_id(c) for c in self.candidates]
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

    def open_store(self):
        return self.kb.open_store(self.store_path)

    @property
    def mf_version(self) -> str:
        return str(self.mf.METAFEATURES_VERSION)

    def run_id(self, fingerprint: str, kind: str) -> str:
        key = f"{kind}|{fingerprint}|{self.space_version}|{self.mf_version}|{self.options.seed}|" \
              f"{self.options.max_rows}|{','.join(self.candidate_ids)}"
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    # -- the loop
    def run(self, items: list[Item], problems: list[tuple[str, str]], source: str) -> RefreshSummary:
        summary = RefreshSummary(source=source, store=str(self.store_path or os.environ.get("AUTOML_KB") or "default"))
        for name, reason in problems:
            summary.outcomes.append(DatasetOutcome(name, "failed", reason))
            log.error("%s: %s", name, reason)
        self.emit({"event": "start", "total": len(items), "source": source, "problems": len(problems)})
        n_jobs = _resolve_n_jobs(self.options.n_jobs)
        pool = ProcessPoolExecutor(max_workers=n_jobs, initializer=_worker_init) if n_jobs > 1 else None
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
                for fut in done:
                    item, job = pending.pop(fut)
                    outcome = self.finish(item, job, fut.result)
                    summary.outcomes.append(outcome)
                    self.report(outcome, job["index"], len(items))
        finally:
            if pool is not None:
                for fut in pending:
                    fut.cancel()
                pool.shutdown(wait=True, cancel_futures=True)
        self.wrap_up(summary)
        summary.seconds = time.monotonic() - self.started
        self.emit({"event": "done", "summary": summary})
        return summary

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
            state = self.dataset_state(fp)
            if state["space_done"] and state["mf_version"] == self.mf_version:
                return DatasetOutcome(item.name, "skipped", "already in the store for these versions", fp,
                                      prepared.task, seconds=time.monotonic() - t0), None
            mf = self.mf.compute(prepared.X, prepared.y, prepared.task)
            dataset = self.dataset_record(item, prepared, fp, mf)
            if state["space_done"]:
                # only the meta-feature version changed: re-describe the dataset, keep every evaluation
                n = self.write(self.run_record(fp, "metafeatures", {"reason": "meta-feature version changed",
                                                                    "from": state["mf_version"]}), dataset, [])
                return DatasetOutcome(item.name, "updated", f"meta-features recomputed (version "
                                                            f"{state['mf_version']} -> {self.mf_version})", fp,
                                      prepared.task, n, seconds=time.monotonic() - t0), None
            openml_evals, openml_note = [], ""
            if item.openml_runs is not None:
                openml_evals, openml_note = self.openml_evaluations(item, prepared)
            metric = get_metric(None, prepared.task).name
            Xs, ys, suffix = subsample_rows(prepared.X, prepared.y, prepared.task, self.options.max_rows,
                                            self.options.seed)
            suggestions, prior = self.warm_material(mf, prepared.task, metric, fp)
            work = {"X": Xs, "y": ys, "task": prepared.task, "metric": metric, "seed": self.options.seed,
                    "candidates": self.candidates, "trial_seconds": self.options.trial_seconds,
                    "budget": self.options.budget, "suggestions": suggestions, "prior": prior}
            return None, {"work": work, "dataset": dataset, "fingerprint": fp, "suffix": suffix, "metric": metric,
                          "task": prepared.task, "t0": t0, "openml": openml_evals, "openml_note": openml_note,
                          "notes": prepared.notes, "n_rows_eval": len(ys)}
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            return DatasetOutcome(item.name, "failed", _one_line(exc), fp, seconds=time.monotonic() - t0), None

    # -- finish: evaluations -> records -> one write (parent process)
    def finish(self, item: Item, job: dict, get_result: Callable[[], dict]) -> DatasetOutcome:
        fp, t0 = job["fingerprint"], job["t0"]
        try:
            result = get_result()
            protocol = f"{result['protocol']}{job['suffix']}"
            rows = result["candidates"] + result["search"]
            evaluations = [self.evaluation_record(r, protocol, job["metric"]) for r in rows]
            settings = {"source": item.source, "name": item.name, "task": job["task"], "metric": job["metric"],
                        "protocol": protocol, "max_rows": self.options.max_rows, "rows_evaluated": job["n_rows_eval"],
                        "budget": self.options.budget, "n_candidates": len(result["candidates"]),
                        "candidate_ids": self.candidate_ids, "n_search_trials": len(result["search"]),
                        "search_error": result.get("search_error"), "notes": job["notes"]}
            n = self.write(self.run_record(fp, RUN_KIND, settings), job["dataset"], evaluations)
            n_openml = 0
            if job["openml"]:
                n_openml = self.write(self.run_record(fp, OPENML_RUN_KIND, {"source": "openml", "name": item.name}),
                                      job["dataset"], job["openml"])
            reason = "; ".join(x for x in [job["openml_note"], result.get("search_error") or ""] + job["notes"] if x)
            return DatasetOutcome(item.name, "added", reason, fp, job["task"], n, n_openml,
                                  seconds=time.monotonic() - t0)
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            return DatasetOutcome(item.name, "failed", _one_line(exc), fp, job["task"],
                                  seconds=time.monotonic() - t0)

    # -- records
    def dataset_record(self, item: Item, prepared: Prepared, fp: str, mf: dict):
        qualities = item.qualities() if item.qualities is not None else None
        return _dataset_record(self.kb, fingerprint=fp, name=item.name, source=item.source, task=prepared.task,
                               n_rows=len(prepared.y), n_features=prepared.X.shape[1], metafeatures=mf,
                               metafeatures_version=self.mf_version, qualities=qualities)

    def evaluation_record(self, row: dict, protocol: str, metric: str):
        return self.kb.records.EvaluationRecord(
            config=row["config"], family=row["config"].get("family", "unknown"), space_version=self.space_version,
            fidelity=float(row["fidelity"]), protocol=protocol, metric=metric, score=_finite(row.get("score")),
            loss=_finite(row.get("loss")), fit_seconds=float(row.get("fit_seconds") or 0.0),
            status=str(row.get("status") or "failed"), error=row.get("error"), seed=int(self.options.seed),
            library_version=__version__, created_at=None, origin=row.get("origin"))

    def run_record(self, fp: str, kind: str, settings: dict):
        now = datetime.now(timezone.utc)
        return self.kb.records.RunRecord(run_id=self.run_id(fp, kind), kind=kind, started_at=now, finished_at=now,
                                         budget_seconds=float(self.options.budget), settings=settings,
                                         versions={**library_versions(), "space": self.space_version,
                                                   "metafeatures": self.mf_version})

    def write(self, run, dataset, evaluations) -> int:
        return int(self.open_store().record_run(run, dataset, evaluations))

    # -- store queries
    def dataset_state(self, fp: str) -> dict:
        return _dataset_state(self.open_store(), fp, self.space_version)

    def warm_material(self, mf: dict, task: str, metric: str, fp: str) -> tuple[list, list]:
        if self.options.budget <= 0:
            return [], []
        try:
            store = self.open_store()
            suggestions = store.suggest(mf, task, metric, n=10, exclude_fingerprint=fp)
            prior = store.prior_observations(mf, task, metric, k=10)
        except Exception as exc:  # an empty or busy store means a cold search, never a failure
            log.debug("no warm start: %s", exc)
            return [], []
        return ([{"config": s.config, "origin": "kb", "explanation": getattr(s, "explanation", "")}
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
        changed = any(o.status in ("added", "updated") for o in summary.outcomes)
        if self.options.rebuild_portfolio and (changed or not _portfolio_exists(self.store_path)):
            try:
                path = rebuild_portfolio(self.store_path, size=self.options.portfolio_size)
                summary.portfolio = str(path) if path else None
            except Exception as exc:
                log.warning("portfolio not rebuilt: %s", _one_line(exc))
        if self.options.check:
            store = self.open_store()
            check = getattr(store, "check", None)
            if callable(check):
                try:
                    result = check()
                    summary.check = result if isinstance(result, dict) else {"result": str(result)}
                except Exception as exc:
                    summary.check = {"error": _one_line(exc)}


# ============================================================================ store adapters
def _dataset_record(kb, *, qualities: dict | None, **fields):
    cls = kb.records.DatasetRecord
    names = set(getattr(cls, "__dataclass_fields__", {}))
    if qualities is not None:
        for key in ("qualities", "openml_qualities", "extra"):
            if key in names:
                fields[key] = qualities
                break
    return cls(**{k: v for k, v in fields.items() if not names or k in names})


def _dataset_state(store, fp: str, space_version: str) -> dict:
    """``{"mf_version": str | None, "space_done": bool}`` for one fingerprint."""
    state = {"mf_version": None, "space_done": False}
    dataset = store.dataset(fp) if hasattr(store, "dataset") else None
    if dataset is None:
        return state
    state["mf_version"] = str(getattr(dataset, "metafeatures_version", None) or
                              (dataset.get("metafeatures_version") if isinstance(dataset, dict) else None))
    evals = store.evaluations(fingerprint=fp)
    if len(evals):
        mask = (evals["space_version"].astype(str) == space_version) & (evals["origin"] == CANDIDATE_ORIGIN)
        state["space_done"] = bool(mask.any())
    return state


def _portfolio_exists(store_path) -> bool:
    from knowledge_base.portfolio import portfolio_path
    try:
        return portfolio_path(_resolved_store_path(store_path)).exists()
    except Exception:
        return False


def _resolved_store_path(store_path) -> Path:
    import knowledge_base as kb
    resolve = getattr(kb, "store_path", None) or getattr(kb, "default_path", None)
    if store_path is not None:
        return Path(store_path)
    if os.environ.get("AUTOML_KB"):
        return Path(os.environ["AUTOML_KB"])
    if callable(resolve):
        return Path(resolve())
    raise AutoMLError("cannot tell where the knowledge base lives")


def candidate_losses(store, space_version: str) -> tuple[pd.DataFrame, dict[str, dict]]:
    """Full-fidelity candidate evaluations (one metric per task, our protocol) as a frame, and the configs."""
    evals = store.evaluations(origin=CANDIDATE_ORIGIN)
    if len(evals) == 0:
        return pd.DataFrame(columns=["fingerprint", "task", "config_id", "loss"]), {}
    evals = evals[(evals["space_version"].astype(str) == str(space_version)) & (evals["fidelity"] >= 1.0)]
    evals = evals.copy()
    evals.loc[evals["status"] != "ok", "loss"] = np.nan
    configs = {}
    for cid, cfg in zip(evals["config_id"], evals["config"]):
        if cid not in configs:
            configs[cid] = json.loads(cfg) if isinstance(cfg, str) else dict(cfg)
    return evals[["fingerprint", "task", "config_id", "loss"]], configs


def rebuild_portfolio(store_path=None, *, size: int = 16, out: str | Path | None = None) -> Path | None:
    """Greedy portfolio from the store's candidate evaluations, written next to the store (or to ``out``)."""
    import knowledge_base as kb
    from knowledge_base.portfolio import build_portfolios, portfolio_document, portfolio_path, save_portfolio
    from .space import SPACE_VERSION
    store = kb.open_store(store_path)
    frame, configs = candidate_losses(store, SPACE_VERSION)
    if frame.empty:
        log.info("no candidate evaluations yet: no portfolio built")
        return None
    built = build_portfolios(frame, configs, size=size)
    path = Path(out) if out is not None else portfolio_path(_resolved_store_path(store_path))
    doc = portfolio_document(built, space_version=str(SPACE_VERSION), size=size,
                             source=f"knowledge base ({built['n_datasets']})")
    save_portfolio(doc, path)
    log.info("portfolio rebuilt from %s dataset(s): %s", built["n_datasets"], path)
    return path


# ============================================================================ public entry points
def refresh_from_dir(folder: str | Path, *, store: str | None = None, options: RefreshOptions | None = None,
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


def refresh_from_openml(*, suite: int | str | None = None, tasks: Iterable[int] = (), store: str | None = None,
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
        return dict(holder["data"].qualities) if "data" in holder else {}

    def runs(task: str, n_rows: int, n_features: int):
        data = holder["data"]
        found = source.runs(tid, measures[task], flow_filter=lambda n: openml_flow_family(n) is not None,
                            max_runs=max_runs)
        return found, {"estimation": data.estimation}

    return Item(f"openml-task-{tid}", load, "openml", None, qualities, runs if import_runs else None)


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
