"""Plain records exchanged with the knowledge base."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class DatasetRecord:
    fingerprint: str
    name: str | None
    source: str
    task: str
    n_rows: int
    n_features: int
    metafeatures: dict[str, float]
    metafeatures_version: str
    extra: dict = field(default_factory=dict)


@dataclass
class EvaluationRecord:
    config: dict
    family: str
    space_version: str
    fidelity: float
    protocol: str
    metric: str
    score: float | None
    loss: float | None
    fit_seconds: float
    status: str  # ok | failed | timeout
    error: str | None
    seed: int
    library_version: str
    created_at: datetime | None = None
    origin: str | None = None


@dataclass
class RunRecord:
    run_id: str
    kind: str  # fit | refresh | import
    started_at: datetime
    finished_at: datetime
    budget_seconds: float | None
    settings: dict
    versions: dict
    source: str = "local"


@dataclass
class Neighbour:
    fingerprint: str
    name: str | None
    source: str
    task: str
    n_rows: int
    n_features: int
    distance: float
    similarity: float


@dataclass
class Suggestion:
    config: dict
    config_id: str
    family: str
    expected: float
    explanation: str
    sources: list = field(default_factory=list)


@dataclass
class PriorObservation:
    config: dict
    config_id: str
    family: str
    fidelity: float
    normalised_score: float
    weight: float
