"""What a refresh job is asked to do (:class:`RefreshOptions`) and what it reports (:class:`RefreshSummary`)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from ..exceptions import AutoMLError, InputError

Callback = Callable[[dict], None]


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


def one_line(exc: BaseException) -> str:
    """The first line of an error, prefixed by its type unless it is one of ours (whose text says it all)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text and not isinstance(exc, AutoMLError) else \
        (text[0] if text else type(exc).__name__)
