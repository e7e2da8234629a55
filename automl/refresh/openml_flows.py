"""OpenML flows onto our space, and OpenML qualities next to our meta-features.

Prior runs of scikit-learn forests become ``origin="openml"`` evaluations with OpenML's own metric and
protocol, so they are never compared with our scores without calibration (``docs/knowledge-base.md``).
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from knowledge_base.canonical import config_id
from knowledge_base.records import finite_or_none

from ..kb_records import evaluation_record
from ..search.messages import Status

OPENML_ORIGIN = "openml"

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
_FOREST_MAPPED = {"n_estimators", "max_features", "min_samples_leaf", "bootstrap", "class_weight"}


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
    from ..models import REGISTRY, upgrade_config
    forest, reason = _forest_step(parameters, task)
    if forest is None:
        return None, reason
    key, regressor, values = forest
    frac = _max_features_fraction(values.get("max_features", "sqrt" if not regressor else 1.0), regressor,
                                  max(1, int(n_features)))
    if isinstance(frac, str):
        return None, frac
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
    return upgrade_config(config, task), ""  # canonical for the task: a regressor holds no class_weight


def _forest_step(parameters: dict[str, dict[str, str]], task: str) -> tuple[tuple[str, bool, dict] | None, str]:
    """``((family key, is a regressor, parsed parameters), "")`` for the flow's one forest, or ``(None, reason)``
    when there is none, another step has no counterpart, or a parameter is outside our space."""
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
    unknown = sorted(set(values) - (set(_FOREST_FIXED) | _FOREST_IGNORED | _FOREST_MAPPED))
    if unknown:
        return None, f"unknown parameter {unknown[0]!r}"
    return (key, regressor, values), ""


def _max_features_fraction(mf: Any, regressor: bool, p: int) -> float | str:
    """scikit-learn's ``max_features`` as a fraction of the ``p`` features, or the reason it does not map."""
    if mf == "auto":
        mf = 1.0 if regressor else "sqrt"
    if mf is None:
        return 1.0
    if mf == "sqrt":
        return max(1, int(math.sqrt(p))) / p
    if mf == "log2":
        return max(1, int(math.log2(p))) / p
    if isinstance(mf, bool) or not isinstance(mf, (int, float)):
        return f"max_features={mf!r} is not understood"
    if isinstance(mf, int):
        return min(mf, p) / p
    return float(mf)


def openml_evaluations(runs: list, meta: dict, task: str, n_rows: int, n_features: int,
                       space_version: str) -> tuple[list, str]:
    """OpenML runs mapped onto our space, averaged per configuration, as evaluation records with OpenML's
    measure and protocol; and a note counting what mapped and what did not."""
    from knowledge_base.sources.openml import MEASURES
    by_config: dict[str, list] = {}
    skipped: dict[str, int] = {}
    for run in runs:
        config, reason = map_openml_run(run.parameters, task, n_rows, n_features)
        if config is None:
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        by_config.setdefault(config_id(config), [config, []])[1].append(run)
    records = []
    for config, group in by_config.values():
        name, greater = MEASURES.get(group[0].function, (f"openml:{group[0].function}", True))
        value = float(np.mean([r.value for r in group]))
        row = {"config": config, "fidelity": 1.0, "status": Status.OK, "score": value,
               "loss": -value if greater else value, "fit_seconds": 0.0, "error": None, "origin": OPENML_ORIGIN}
        records.append(evaluation_record(
            row, space_version=space_version, protocol=f"openml:{meta.get('estimation', '')}", metric=name, seed=0,
            library_version=f"openml-runs:{','.join(str(r.run_id) for r in group[:20])}"))
    n_skipped = sum(skipped.values())
    note = ""
    if runs:
        note = f"{len(runs)} OpenML run(s): {len(runs) - n_skipped} mapped onto {len(records)} configuration(s)"
        if skipped:
            top = sorted(skipped.items(), key=lambda kv: -kv[1])[0]
            note += f", {n_skipped} not mappable (e.g. {top[1]}x {top[0]})"
    return records, note


def _missing_cells(v: float, q: dict) -> float:
    """OpenML's PercentageOfMissingValues counts the target column's cells too (d + 1 columns); ours does
    not (d columns). OpenML datasets have no missing targets in their tasks, so ours = v/100 * (d+1)/d."""
    columns = float(q.get("NumberOfFeatures", float("nan")))  # OpenML: features + the target
    return v / 100.0 * columns / (columns - 1) if columns > 1 else float("nan")


# OpenML quality -> (our meta-feature, convert(value, all qualities) into our units). Computed differently
# (ours on capped subsamples, OpenML on all rows and counting the target as a feature): stored side by side,
# never merged
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
            out[ours] = {"openml_quality": quality, "openml": value, "ours": finite_or_none(metafeatures.get(ours))}
    return out
