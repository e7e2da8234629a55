"""How far new data has moved from a model's training data (``automl drift``, ``automl retune``).

Per column, the population stability index (PSI) of the new rows over the profile's bins or categories,
missing values as one more bucket: PSI = sum((new - old) * ln(new / old)), shares floored at 1e-4.
Usual thresholds: below 0.1 no drift, 0.1 to 0.25 moderate, 0.25 and above major, applied to the PSI less
what sampling alone gives two samples of one distribution, (buckets - 1) * (1/n_before + 1/n_now) (else 120
equally common cities over 1,000 rows read as moderate drift). Beside it the change in
the missing share and, for categorical columns, the share of values the model never saw (which it
predicts as missing). The meta-feature distance is the knowledge base's distance (``metafeatures.scaling``:
robust scaling, root-mean-square difference) with the scaler fitted on the shipped seed's datasets of the
task, so 0 is identical and about 1.4 two unrelated datasets. The verdict is the worst column's.
"""
from __future__ import annotations

import enum
import functools
import json
import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .exceptions import InputError
from .profile import SAMPLE_ROWS, ColumnKind, DataProfile, bin_shares, binned_values, category_text

log = logging.getLogger("automl")

PSI_MODERATE = 0.1
PSI_MAJOR = 0.25
_FLOOR = 1e-4  # shares below this count as this (an empty bucket would make PSI infinite)


class Verdict(str, enum.Enum):
    NONE = "none"
    MODERATE = "moderate"
    MAJOR = "major"


def verdict_of(psi: float) -> Verdict:
    if psi >= PSI_MAJOR:
        return Verdict.MAJOR
    return Verdict.MODERATE if psi >= PSI_MODERATE else Verdict.NONE


@dataclass(frozen=True)
class ColumnDrift:
    name: str
    kind: ColumnKind
    psi: float
    noise: float  # the PSI two samples of one distribution would show (the verdict is on psi - noise)
    verdict: Verdict
    missing_share_before: float
    missing_share_now: float
    unseen_share: float | None = None  # categorical: share of the new values the model never saw

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind.value, "psi": round(self.psi, 6), "noise": round(self.noise, 6),
                "verdict": self.verdict.value,
                "missing_share_before": self.missing_share_before,
                "missing_share_now": round(self.missing_share_now, 6),
                "unseen_share": None if self.unseen_share is None else round(self.unseen_share, 6)}


@dataclass(frozen=True)
class DriftReport:
    verdict: Verdict
    n_rows_before: int
    n_rows_now: int
    columns: tuple[ColumnDrift, ...]  # the model's feature columns, most drifted first
    missing_columns: tuple[str, ...]  # in the training data, not in the new data (never a feature the model uses)
    added_columns: tuple[str, ...]  # in the new data only (ignored by the model)
    metafeature_distance: float | None  # None: the new data has no target column
    metafeatures_moved: tuple[tuple[str, float], ...]  # the features that moved most, in scaled units

    def drifted(self, at_least: Verdict = Verdict.MODERATE) -> list[str]:
        order = list(Verdict)
        return [c.name for c in self.columns if order.index(c.verdict) >= order.index(at_least)]

    def to_dict(self) -> dict:
        return {"verdict": self.verdict.value, "n_rows_before": self.n_rows_before, "n_rows_now": self.n_rows_now,
                "columns": [c.to_dict() for c in self.columns], "missing_columns": list(self.missing_columns),
                "added_columns": list(self.added_columns),
                "metafeature_distance": None if self.metafeature_distance is None
                else round(self.metafeature_distance, 6),
                "metafeatures_moved": {k: round(v, 4) for k, v in self.metafeatures_moved}}


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two share vectors over the same buckets."""
    e = np.maximum(np.asarray(expected, dtype=float), _FLOOR)
    a = np.maximum(np.asarray(actual, dtype=float), _FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def drift_report(profile: DataProfile, X: pd.DataFrame, encoder, y_codes: np.ndarray | None = None,
                 rows: np.ndarray | None = None) -> DriftReport:
    """The drift of the raw feature table ``X`` (target removed) against ``profile``. ``encoder``: the model's
    (a column it needs that ``X`` lacks is an ``InputError``); ``y_codes``: the new target as the
    meta-features take it, for the rows ``rows`` of ``X`` (None: every row; no ``y_codes``: no meta-feature
    distance)."""
    encoded = encoder.transform(X)  # InputError naming the model's columns X lacks
    encoded.index = pd.RangeIndex(len(encoded))
    n = max(1, len(X))
    known = {p.name: p for p in encoder.plans_}
    drifts = []
    for col in profile.columns:
        if col.kind is ColumnKind.DROPPED or col.name not in known:
            continue
        unseen = None
        if col.kind is ColumnKind.CATEGORICAL:
            text = category_text(X[col.name]).reset_index(drop=True)
            present = text.dropna()
            missing_now = 1 - len(present) / n
            counts = present.value_counts()
            listed = [float(counts.get(c, 0)) for c in col.categories]
            other = float(len(present)) - sum(listed)
            total = max(1.0, float(len(present)))
            now = np.array([*listed, other]) / total
            before = np.array([*col.shares, col.other_share])
            seen = set(known[col.name].categories)
            unseen = float((~present.isin(seen)).sum()) / total if len(present) else 0.0
        else:
            values = binned_values(col.name, col.kind, encoded)
            finite = values[np.isfinite(values)]
            missing_now = 1 - finite.size / n
            now, before = bin_shares(finite, col.edges), np.asarray(col.shares, dtype=float)
        m0 = col.missing_share
        expected, actual = np.append(before * (1 - m0), m0), np.append(now * (1 - missing_now), missing_now)
        value = psi(expected, actual)
        n_before = profile.n_rows if col.kind is ColumnKind.CATEGORICAL else min(profile.n_rows, SAMPLE_ROWS)
        used = int(np.count_nonzero((expected > 0) | (actual > 0)))
        noise = max(0, used - 1) * (1 / max(1, n_before) + 1 / n)
        drifts.append(ColumnDrift(col.name, col.kind, value, noise, verdict_of(value - noise), m0, missing_now,
                                  unseen))
    drifts.sort(key=lambda d: -d.psi)
    present = {str(c) for c in X.columns}
    profiled = {c.name for c in profile.columns}
    distance, moved = None, ()
    if y_codes is not None:
        labelled = encoded if rows is None else encoded.iloc[rows].reset_index(drop=True)
        distance, moved = _metafeature_distance(profile, labelled, y_codes)
    order = list(Verdict)
    verdict = max((d.verdict for d in drifts), key=order.index, default=Verdict.NONE)
    return DriftReport(verdict=verdict, n_rows_before=profile.n_rows, n_rows_now=int(len(X)), columns=tuple(drifts),
                       missing_columns=tuple(c.name for c in profile.columns if c.name not in present),
                       added_columns=tuple(sorted(present - profiled)),
                       metafeature_distance=distance, metafeatures_moved=moved)


def _metafeature_distance(profile: DataProfile, encoded: pd.DataFrame, y_codes: np.ndarray):
    import metafeatures
    if profile.metafeatures_version != metafeatures.METAFEATURES_VERSION or not profile.metafeatures:
        log.warning("the model's meta-features are of another version; no meta-feature distance")
        return None, ()
    now = metafeatures.compute(encoded, y_codes, profile.task)
    scaler = _seed_scaler(profile.task)
    before_vec = scaler.vector({k: (math.nan if v is None else v) for k, v in profile.metafeatures.items()})
    now_vec = scaler.vector(now)
    gaps = np.abs(now_vec - before_vec)
    top = np.argsort(-gaps, kind="stable")[:3]
    moved = tuple((scaler.names[i], float(gaps[i])) for i in top if gaps[i] > 0)
    return metafeatures.distance(before_vec, now_vec), moved


@functools.lru_cache(maxsize=4)
def _seed_scaler(task: str):
    """The robust scaler of the shipped seed's datasets of ``task`` (unit scaling if the seed cannot be read)."""
    import metafeatures
    from knowledge_base import SEED_DIR
    names = list(metafeatures.FEATURE_NAMES)
    try:
        seed = pd.read_parquet(SEED_DIR / "datasets.parquet", columns=["task", "metafeatures", "metafeatures_version"])
        seed = seed[(seed["task"] == task) & (seed["metafeatures_version"] == metafeatures.METAFEATURES_VERSION)]
        rows = [json.loads(text) for text in seed["metafeatures"]]
        matrix = [[np.nan if r.get(k) is None else r.get(k) for k in names] for r in rows]
    except Exception as exc:  # a damaged installation must not stop a drift report
        log.warning("cannot read the seed's meta-features (%s); meta-feature distance in unscaled units", exc)
        matrix = []
    return metafeatures.RobustScaler.fit(names, matrix)


def model_columns(model, table: pd.DataFrame, target: str | None = None) -> tuple[pd.DataFrame, pd.Series | None]:
    """``(features, target or None)`` of a new ``table`` for ``model``: the target (``target``, else the one the
    model was fitted with, when known) and the weight / groups columns of its fit are not features."""
    options = (getattr(model, "fit_info_", None) or {}).get("options") or {}
    target = target or options.get("target")
    not_features = [c for c in (options.get("weight_column"), options.get("groups")) if c and c in table.columns]
    y = None
    if target is not None and target in table.columns:
        y = table[target].reset_index(drop=True)
        not_features.append(target)
    return table.drop(columns=not_features).reset_index(drop=True), y


def model_profile(model) -> DataProfile | None:
    """The profile saved with ``model`` (None for a model saved before profiles were kept)."""
    return getattr(model, "profile_", None)


def model_drift(model, table: pd.DataFrame, target: str | None = None) -> DriftReport:
    """The drift of the new ``table`` (target optional) against ``model``'s training data; a model without a
    profile is an ``InputError``. The meta-feature distance needs the target (rows without one are left out)."""
    from .data import drop_missing_target, encode_target
    profile = model_profile(model)
    if profile is None:
        raise InputError("this model has no profile of its training data (it was saved by an older version); "
                         "refit it to measure drift")
    X, y = model_columns(model, table, target)
    codes = rows = None
    if y is not None:
        try:
            labelled, y, _ = drop_missing_target(X, y)
            codes, rows = encode_target(y, model.task_).y, labelled.index.to_numpy()
        except InputError as exc:
            log.warning("no meta-feature distance: %s", exc)
    return drift_report(profile, X, model.encoder_, codes, rows)
