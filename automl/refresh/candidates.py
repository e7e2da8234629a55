"""The candidate pool: the fixed, seeded configurations every refreshed dataset is evaluated on.

Plain data and deterministic for a seed; a grown pool appends candidates and keeps every earlier one, so a
store is topped up, not rebuilt (``docs/knowledge-base.md``, "The candidate pool").
"""
from __future__ import annotations

import json
import logging
import warnings
import zlib
from pathlib import Path

import numpy as np

from knowledge_base.canonical import config_id

log = logging.getLogger("automl.refresh")

CANDIDATES_FILE = Path(__file__).resolve().parents[2] / "knowledge_base" / "seed" / "candidates.json"
CANDIDATE_ORIGIN = "candidate"
# how many space samples per family join the family defaults in the candidate pool
CANDIDATE_SAMPLES = {"lightgbm": 10, "random_forest": 3, "extra_trees": 3, "linear": 3, "knn": 3, "mlp": 2}
# more samples per family, space-filling: each family's own scrambled Sobol sequence, whose first n points do
# not depend on how many are drawn, so raising a count appends candidates and keeps every earlier one (and
# its stored evaluations). They cover what the first samples hardly do (the SVM's C x gamma, the MLP's and
# k-NN's shapes)
CANDIDATE_EXTRA_SAMPLES = {"svm": 8, "mlp": 3, "knn": 2, "linear": 2}
# sampled forests and MLPs keep to the cheaper part of the space so a full PMLB build fits its CPU budget
CANDIDATE_LIMITS = {"n_estimators": 200, "hidden": 64}
# The growth appended after that first pool (:func:`grown_pool`), so a grown pool keeps every earlier candidate
# and its stored evaluations. Pipeline steps where they matter (the families fed scaled, dense features): the
# family's default with one slot changed (the step's own parameters at their defaults), so each variant's score
# pairs with the default's on every dataset
CANDIDATE_STEP_VARIANTS = {
    "linear": ({"numeric_transform": "quantile"}, {"numeric_transform": "yeo_johnson"}, {"selection": "l1"},
               {"construction": "nystroem"}, {"construction": "splines"}, {"categorical_encoding": "target"}),
    "svm": ({"numeric_transform": "quantile"}, {"numeric_transform": "robust"}, {"selection": "percentile"}),
    "knn": ({"numeric_transform": "quantile"}, {"numeric_transform": "yeo_johnson"}, {"selection": "percentile"},
            {"construction": "pca"}),
    "mlp": ({"numeric_transform": "quantile"}, {"numeric_transform": "yeo_johnson"}, {"construction": "splines"}),
}
# families that joined after the first pool (the optional boosting families, ``automl-meta[boost]``): their
# default and hand-chosen configurations, then this many space-filling samples no dearer than
# ``CANDIDATE_MAX_RELATIVE_COST`` times their default; only where the family is registered, so a seed built
# without the extra lacks them (docs/knowledge-base.md)
CANDIDATE_LATER_FAMILIES = {"catboost": 1, "xgboost": 1}
CANDIDATE_MAX_RELATIVE_COST = 2.0


def portfolio_candidates(seed: int = 0, samples: dict[str, int] | None = None,
                         extra: dict[str, int] | None = None) -> list[dict]:
    """The common candidate pool: every family's default and hand-chosen configurations, then seeded
    space samples per family (``CANDIDATE_SAMPLES``, one random stream for all families), then the extra
    samples (``CANDIDATE_EXTRA_SAMPLES``, :func:`_space_filling`), deduplicated by id; then the growth
    (:func:`grown_pool`). Plain data, deterministic."""
    from ..models import REGISTRY
    samples = CANDIDATE_SAMPLES if samples is None else samples
    extra = CANDIDATE_EXTRA_SAMPLES if extra is None else extra
    rng = np.random.default_rng(seed)
    keys = [k for k in REGISTRY.keys() if k not in CANDIDATE_LATER_FAMILIES]  # (those come with the growth)
    pool: list[dict] = []
    for key in keys:
        family = REGISTRY.get(key)
        pool.append(family.default_config())
        pool += [family.complete(c) for c in family.defaults]
    for key in keys:
        pool += [_sample(REGISTRY.get(key), rng) for _ in range(samples.get(key, 0))]
    for key in keys:
        pool += _space_filling(REGISTRY.get(key), extra.get(key, 0), seed, {config_id(c) for c in pool})
    return grown_pool(_unique(pool), seed)


def grown_pool(pool: list[dict], seed: int = 0) -> list[dict]:
    """``pool`` (kept as it is, in order) then the candidates of :func:`pool_growth` it lacks."""
    return _unique([*pool, *pool_growth(seed)])


def pool_growth(seed: int = 0) -> list[dict]:
    """What joined the pool after its first version, whatever pool it joins (so growing is idempotent): the step
    variants (``CANDIDATE_STEP_VARIANTS``), then each later family registered here (``CANDIDATE_LATER_FAMILIES``)."""
    from ..models import REGISTRY
    out: list[dict] = []
    for key, variants in CANDIDATE_STEP_VARIANTS.items():
        if key in REGISTRY:
            out += [_step_variant(REGISTRY.get(key), v) for v in variants]
    for key, n in CANDIDATE_LATER_FAMILIES.items():
        if key in REGISTRY:
            family = REGISTRY.get(key)
            own = [family.default_config(), *(family.complete(c) for c in family.defaults)]
            out += own + _space_filling(family, n, seed, {config_id(c) for c in own}, CANDIDATE_MAX_RELATIVE_COST)
    return _unique(out)


def _step_variant(family, steps: dict) -> dict:
    """``family``'s default with the pipeline ``steps`` (slot -> step key) chosen; ``ValueError`` for a step the
    family does not offer (the table is ours: a typo must not silently become the default)."""
    config = family.complete({**family.default_config(), **steps})
    if any(config.get(slot) != key for slot, key in steps.items()):
        raise ValueError(f"candidate step variant {steps} is not in family {family.key!r}'s space")
    return config


def _unique(pool: list[dict]) -> list[dict]:
    """``pool`` without repeated configuration ids, first occurrence kept."""
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
        config = _rounded(family.complete(family.sample(rng, steps=False)))
        if _within_limits(config):
            break
    return config


def _space_filling(family, n: int, seed: int, taken: set[str], max_cost: float | None = None) -> list[dict]:
    """The first ``n`` new points (not in ``taken``, within ``CANDIDATE_LIMITS`` and, given ``max_cost``, no
    dearer than that ``relative_cost``) of a scrambled Sobol sequence over ``family``'s unit cube, seeded by
    (seed, family key): the first n are the same whatever n is."""
    from scipy.stats import qmc

    from ..space import decode_params
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
            affordable = max_cost is None or family.relative_cost(config) <= max_cost
            if _within_limits(config) and affordable and config_id(config) not in taken:
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
    """The candidate pool: the one shipped with the seed when its first pool was made with the current settings
    (:func:`_first_pool_settings`), else a fresh one; grown (:func:`grown_pool`) either way."""
    return _loaded(path, seed)[0]


def _loaded(path: Path | None, seed: int) -> tuple[list[dict], dict | None]:
    """(the pool, the shipped document when the pool starts with its configurations)."""
    path = CANDIDATES_FILE if path is None else Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        settings = _first_pool_settings(seed)
        if {k: doc.get(k) for k in settings} == settings and doc.get("configs"):
            return grown_pool([dict(c) for c in doc["configs"]], seed), doc
        log.info("candidate file %s was made with other settings (%s; now %s): generating the pool",
                 path, {k: doc.get(k) for k in settings}, settings)
    except (OSError, ValueError, AttributeError):
        pass
    return portfolio_candidates(seed), None


def _first_pool_settings(seed: int = 0) -> dict:
    """What the first pool depends on (a shipped pool made with other settings is not used; the growth is
    appended to whichever pool is used)."""
    from ..space import SPACE_VERSION
    return {"space_version": str(SPACE_VERSION), "seed": seed, "samples_per_family": CANDIDATE_SAMPLES,
            "extra_samples_per_family": CANDIDATE_EXTRA_SAMPLES, "sample_limits": CANDIDATE_LIMITS}


def _pool_settings(seed: int = 0) -> dict:
    """What the pool depends on: the first pool's settings, then the growth's."""
    return {**_first_pool_settings(seed), "step_variants": CANDIDATE_STEP_VARIANTS,
            "later_families": CANDIDATE_LATER_FAMILIES, "max_relative_cost": CANDIDATE_MAX_RELATIVE_COST}


def candidates_document(configs: list[dict], seed: int = 0, task_ids: dict[str, list[str]] | None = None) -> dict:
    """The pool as shipped in ``candidates.json``: the settings that made it, the configurations, their ids, and
    per task the ids of the canonical forms a dataset of that task is evaluated on (``task_ids``; by default
    every configuration's form for the task, :func:`task_candidates`)."""
    if task_ids is None:
        task_ids = {task: [config_id(c) for c in task_candidates(configs, task)] for task in _tasks()}
    return {**_pool_settings(seed), "configs": configs, "config_ids": [config_id(c) for c in configs],
            "task_config_ids": {task: list(ids) for task, ids in task_ids.items()}}


def _tasks() -> tuple[str, ...]:
    from metafeatures import TASKS
    return tuple(TASKS)


def task_candidates(configs: list[dict], task: str, ids: list[str] | None = None) -> list[dict]:
    """The pool for datasets of ``task``: each configuration of a family that handles the task, in its canonical
    form for the task (``upgrade_config``: inactive parameters dropped, an earlier space version translated), so
    its id is the one the store holds for it; deduplicated by id, in pool order. ``ids`` (the seed's
    ``task_config_ids[task]``): only those forms, in that order (a migrated pool holds, next to a configuration,
    its form for the task where an earlier version built something else; the other form is not the task's)."""
    from ..models import REGISTRY, upgrade_config
    forms: dict[str, dict] = {}
    for c in configs:
        key = c.get("family")
        if key in REGISTRY and task in REGISTRY.get(key).tasks:
            form = upgrade_config(c, task)
            forms.setdefault(config_id(form), form)
    return list(forms.values()) if ids is None else [forms[i] for i in ids if i in forms]


def load_task_candidates(path: Path | None = None, seed: int = 0) -> dict[str, list[dict]]:
    """Per task, the pool's canonical forms a dataset of that task is evaluated on (:func:`task_candidates`): the
    shipped ``task_config_ids`` for the shipped configurations, when the shipped pool is used, then the forms of
    the growth it lacks."""
    configs, doc = _loaded(path, seed)
    shipped, task_ids = 0, {}
    if doc is not None and [config_id(c) for c in doc["configs"]] == doc.get("config_ids"):
        shipped, task_ids = len(doc["configs"]), dict(doc.get("task_config_ids") or {})
    return {task: _unique(task_candidates(configs[:shipped], task, task_ids.get(task))
                          + task_candidates(configs[shipped:], task)) for task in _tasks()}


def missing_candidates(candidates: list[dict], done: frozenset[str], task: str, n_rows: int) -> list[dict]:
    """The task's candidates (:func:`task_candidates`: canonical for ``task``) not yet evaluated on a dataset
    (``done``: the canonical ids stored for it) that its task and evaluated rows allow (as the worker's
    ``REGISTRY.for_task``)."""
    from ..models import REGISTRY, upgrade_config
    allowed = {f.key for f in REGISTRY.for_task(task, n_rows)}
    out = []
    for c in candidates:
        form = upgrade_config(c, task) if c.get("family") in allowed else None
        if form is not None and config_id(form) not in done:
            out.append(form)
    return out
