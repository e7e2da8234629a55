"""Plain records going into the store (datasets, evaluations, runs) and coming out of retrieval.

Records are frozen dataclasses checked on construction (``InvalidRecordError``, a ``ValueError``).
Non-finite ``score`` / ``loss`` become ``None``; only ``status == "ok"`` rows with a finite loss count
in retrieval.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from metafeatures import TASKS

from ._errors import InvalidRecordError

OWN_HISTORY_ORIGIN = "previous version"  # suggestions from the query's own lineage (Suggestion.origin)
STATUSES = ("ok", "failed", "timeout")
RUN_KINDS = ("fit", "refresh", "import")  # the usual kinds; any non-empty string is accepted
DEFAULT_METRICS = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}


def _fail(record: str, message: str) -> None:
    raise InvalidRecordError(f"{record}: {message}")


def finite_or_none(value: Any) -> float | None:
    """``value`` as a finite float, or None (missing, not a number, NaN or infinite)."""
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class _DatasetSummary:
    """The columns every stored dataset has: which table it is and how large (records and retrieval results)."""

    fingerprint: str
    name: str | None
    source: str
    task: str
    n_rows: int
    n_features: int


@dataclass(frozen=True)
class DatasetRecord(_DatasetSummary):
    """A dataset described by its meta-features (never its rows).

    ``lineage`` (:func:`knowledge_base.lineage`): the table this dataset is a version of; None when
    unknown (rows written before schema 4, refresh and imported datasets without one).
    """

    metafeatures: dict[str, float]
    metafeatures_version: str
    extra: dict = field(default_factory=dict)
    lineage: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.fingerprint, str) or not self.fingerprint:
            _fail("DatasetRecord", f"fingerprint must be a non-empty string; got {self.fingerprint!r}")
        if self.task not in TASKS:
            _fail("DatasetRecord", f"task must be one of {', '.join(TASKS)}; got {self.task!r}")
        if not isinstance(self.source, str) or not self.source:
            _fail("DatasetRecord", f"source must be a non-empty string; got {self.source!r}")
        if self.name is not None and not isinstance(self.name, str):
            _set(self, "name", str(self.name))
        if self.lineage is not None and (not isinstance(self.lineage, str) or not self.lineage):
            _fail("DatasetRecord", f"lineage must be a non-empty string or None; got {self.lineage!r}")
        if not isinstance(self.metafeatures, dict):
            _fail("DatasetRecord", f"metafeatures must be a dict; got {type(self.metafeatures).__name__}")
        values = {}
        for key, value in self.metafeatures.items():
            if value is None:
                values[str(key)] = math.nan
                continue
            try:
                values[str(key)] = float(value)
            except (TypeError, ValueError):
                _fail("DatasetRecord", f"meta-feature {key!r} must be a number; got {value!r}")
        _set(self, "metafeatures", values)
        _set(self, "metafeatures_version", str(self.metafeatures_version))
        _set(self, "n_rows", int(self.n_rows))
        _set(self, "n_features", int(self.n_features))
        _set(self, "extra", dict(self.extra or {}))


@dataclass(frozen=True)
class EvaluationRecord:
    """One configuration evaluated once on the run's dataset at one fidelity."""

    config: dict
    family: str
    space_version: str
    fidelity: float
    protocol: str
    metric: str
    score: float | None
    loss: float | None
    fit_seconds: float
    status: str
    error: str | None
    seed: int
    library_version: str
    created_at: datetime | None = None
    origin: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.config, dict):
            _fail("EvaluationRecord", f"config must be a dict; got {type(self.config).__name__}")
        if self.status not in STATUSES:
            _fail("EvaluationRecord", f"status must be one of {', '.join(STATUSES)}; got {self.status!r}")
        try:
            fidelity = float(self.fidelity)
        except (TypeError, ValueError):
            fidelity = math.nan
        if not (0.0 < fidelity <= 1.0):
            _fail("EvaluationRecord", f"fidelity must be in (0, 1]; got {self.fidelity!r}")
        for name in ("family", "metric", "protocol"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                _fail("EvaluationRecord", f"{name} must be a non-empty string; got {getattr(self, name)!r}")
        _set(self, "fidelity", fidelity)
        _set(self, "space_version", str(self.space_version))
        _set(self, "score", finite_or_none(self.score))
        _set(self, "loss", finite_or_none(self.loss))
        _set(self, "fit_seconds", finite_or_none(self.fit_seconds) or 0.0)
        _set(self, "seed", int(self.seed))
        _set(self, "library_version", str(self.library_version))
        if self.error is not None and not isinstance(self.error, str):
            _set(self, "error", str(self.error))


@dataclass(frozen=True)
class RunRecord:
    """One fit, refresh or import: the manifest of a write-back (versions, settings, budget)."""

    run_id: str
    kind: str
    started_at: datetime
    finished_at: datetime
    budget_seconds: float | None
    settings: dict
    versions: dict
    source: str = "local"

    def __post_init__(self) -> None:
        if not isinstance(self.run_id, str) or not self.run_id or len(self.run_id) > 128:
            _fail("RunRecord", f"run_id must be a non-empty string of at most 128 characters; got {self.run_id!r}")
        if not isinstance(self.kind, str) or not self.kind:
            _fail("RunRecord", f"kind must be a non-empty string such as {', '.join(RUN_KINDS)}; got {self.kind!r}")
        for name in ("started_at", "finished_at"):
            if not isinstance(getattr(self, name), datetime):
                _fail("RunRecord", f"{name} must be a datetime; got {getattr(self, name)!r}")
        _set(self, "budget_seconds", finite_or_none(self.budget_seconds))
        _set(self, "settings", dict(self.settings or {}))
        _set(self, "versions", dict(self.versions or {}))


# ---------------------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Neighbour(_DatasetSummary):
    """A past dataset near the query; ``similarity = exp(-distance / sqrt(dimensions))`` in (0, 1]."""

    distance: float
    similarity: float
    lineage: str | None = None


@dataclass(frozen=True)
class Suggestion:
    """A warm-start configuration and where it came from.

    ``sources``: ``(dataset name or fingerprint, normalised score on it, distance)`` per similar dataset.
    ``origin``: ``"previous version"`` when it comes from stored versions of the query's own lineage (an
    earlier version of the data, or the same data fitted before), ``"kb"`` from other similar datasets.
    """

    config: dict
    config_id: str
    family: str
    expected: float
    explanation: str
    sources: list[tuple[str, float, float]]
    metric: str = ""
    origin: str = "kb"


@dataclass(frozen=True)
class PriorObservation:
    """One configuration at one fidelity on one similar dataset, for the surrogate's prior."""

    config: dict
    config_id: str
    family: str
    fidelity: float
    normalised_score: float
    weight: float
    fingerprint: str = ""
    metric: str = ""


__all__ = ["TASKS", "OWN_HISTORY_ORIGIN", "STATUSES", "RUN_KINDS", "DEFAULT_METRICS", "finite_or_none",
           "DatasetRecord", "EvaluationRecord", "RunRecord", "Neighbour", "Suggestion", "PriorObservation"]
