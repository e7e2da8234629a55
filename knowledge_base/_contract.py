"""The store contract: everything the rest of the system may ask of a knowledge base.

One conformance suite (``tests/knowledge_base/test_contract.py``) runs over every implementation.
Callers (the estimator, the refresh job, the CLI, reports, benchmarks) use only these names, so a
wrapper that implements them (e.g. a benchmark's leave-one-out view) stands in for a store anywhere.
"""
from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Iterable

import pandas as pd

from .records import DatasetRecord, EvaluationRecord, Neighbour, PriorObservation, RunRecord, Suggestion


TIMING_COLUMNS = ("fingerprint", "name", "config_id", "family", "fidelity", "protocol", "fit_seconds", "origin",
                  "n_rows", "n_features", "lineage")


class KnowledgeBase(ABC):
    """What the rest of the system may ask of a knowledge base (one conformance suite tests every store).

    Scores are compared only within one metric; ``normalised`` scores are per dataset, 1 = best.
    Reads never fail because another process is writing for long: they raise ``StoreBusyError``
    after a few seconds and callers start cold. ``record_run`` is one transaction and idempotent.

    Retrieval leaves out the dataset with ``exclude_fingerprint`` and the datasets named in
    ``exclude_names`` (leave-one-out studies); ``metafeatures_version`` selects which datasets are
    comparable (default: the installed ``metafeatures.METAFEATURES_VERSION``).
    """

    path: Path
    """Where the store lives; files that belong to it (portfolio, refresh log, staging) sit beside it."""

    # -------------------------------------------------------------------------------------- retrieval
    @abstractmethod
    def similar(self, metafeatures: dict, task: str, k: int = 5, exclude_fingerprint: str | None = None, *,
                metafeatures_version: str | None = None, exclude_names: Iterable[str] = ()) -> list[Neighbour]:
        """The ``k`` nearest stored datasets of ``task`` (same meta-feature version), nearest first, a lineage
        counted once (its nearest version)."""

    @abstractmethod
    def suggest(self, metafeatures: dict, task: str, metric: str, n: int = 10, k: int = 10,
                families: set[str] | None = None, exclude_fingerprint: str | None = None, *,
                metafeatures_version: str | None = None, exclude_names: Iterable[str] = ()) -> list[Suggestion]:
        """Up to ``n`` diverse warm-start configurations from the ``k`` nearest datasets, best first."""

    @abstractmethod
    def prior_observations(self, metafeatures: dict, task: str, metric: str, k: int = 10,
                           families: set[str] | None = None, exclude_fingerprint: str | None = None, *,
                           metafeatures_version: str | None = None, exclude_names: Iterable[str] = (),
                           limit: int | None = None) -> list[PriorObservation]:
        """Normalised scores of configurations on the ``k`` nearest datasets, weighted by similarity."""

    def retrieve(self, metafeatures: dict, task: str, metric: str, n: int = 10, k: int = 10,
                 families: Iterable[str] | None = None, exclude_fingerprint: str | None = None, *,
                 metafeatures_version: str | None = None, exclude_names: Iterable[str] = (),
                 neighbours_k: int | None = None, prior_limit: int | None = None, lineage: str | None = None,
                 own_over_cap: frozenset[str] = frozenset()
                 ) -> tuple[list[Neighbour], list[Suggestion], list[PriorObservation]]:
        """``(similar, suggest, prior_observations)`` for one fit (a store may do it in one connection);
        ``similar`` takes ``neighbours_k`` datasets (default ``k``). With ``lineage`` (the query's
        :func:`knowledge_base.lineage`) a store that records lineages puts the stored versions of the
        query's own table first (suggestions with origin ``"previous version"``), passing over the configuration
        ids in ``own_over_cap`` (those the caller estimates cannot run at full fidelity within one of its trials)
        unless all of its candidates are (then its best alone); this default ignores both."""
        families = set(families) if families is not None else None
        common = dict(exclude_fingerprint=exclude_fingerprint, metafeatures_version=metafeatures_version,
                      exclude_names=exclude_names)
        return (self.similar(metafeatures, task, neighbours_k or k, **common),
                self.suggest(metafeatures, task, metric, n, k, families, **common),
                self.prior_observations(metafeatures, task, metric, k, families, limit=prior_limit, **common))

    # -------------------------------------------------------------------------------------- reading
    @abstractmethod
    def info(self) -> dict:
        """``path``, ``schema_version``, ``n_datasets``, ``n_configurations``, ``n_evaluations``, ``n_runs``,
        ``by_task`` (datasets), ``by_source`` (evaluations by dataset source), ``pending_staged``, ..."""

    @abstractmethod
    def has_dataset(self, fingerprint: str, metafeatures_version: str | None = None,
                    space_version: str | None = None) -> bool:
        """Whether the dataset is stored (with these meta-feature / search-space versions)."""

    @abstractmethod
    def dataset(self, fingerprint: str) -> DatasetRecord | None:
        """The stored dataset with this fingerprint, or None."""

    @abstractmethod
    def datasets(self) -> pd.DataFrame:
        """All datasets, oldest first; ``metafeatures`` and ``extra`` as dicts (NaN for missing values)."""

    @abstractmethod
    def evaluations(self, fingerprint: str | None = None, *, origin: str | None = None, metric: str | None = None,
                    run_id: str | None = None) -> pd.DataFrame:
        """Evaluations joined with their dataset (``fingerprint``, ``name``, ``task``) and configuration
        (``config`` as canonical JSON text, ``family``), ordered by run and position; optional equality
        filters."""

    def timings(self) -> pd.DataFrame:
        """Every ``ok`` evaluation with recorded seconds, with the size and lineage of its dataset:
        ``TIMING_COLUMNS`` (``protocol`` says the rows a subsample evaluation was measured on), in no particular
        order. What a cost model fits seconds against rows with; a store may answer it in one narrow read."""
        ev = self.evaluations()
        ev = ev[(ev["status"] == "ok") & (ev["fit_seconds"] > 0)]
        sizes = self.datasets()[["fingerprint", "n_rows", "n_features", "lineage"]]
        return ev.merge(sizes, on="fingerprint")[list(TIMING_COLUMNS)].reset_index(drop=True)

    def lineage_fingerprints(self, lineage: str) -> list[str]:
        """The stored datasets of ``lineage`` that have timings (rows of :meth:`timings`), sorted: whether a fit's
        own history was timed, without reading every timing (a store may answer it in one filtered query)."""
        timings = self.timings()
        return sorted(set(timings.loc[timings["lineage"] == lineage, "fingerprint"].astype(str)))

    @abstractmethod
    def runs(self) -> pd.DataFrame:
        """All runs in the order they were recorded; ``settings`` and ``versions`` as dicts."""

    # -------------------------------------------------------------------------------------- writing
    @abstractmethod
    def record_run(self, run: RunRecord, dataset: DatasetRecord | None,
                   evaluations: list[EvaluationRecord]) -> int:
        """Write (or stage) a run in one transaction; returns evaluations written; same run id twice: 0."""

    @abstractmethod
    def import_(self, directory: str | os.PathLike) -> int:
        """Merge an exported folder (idempotent); returns the number of new evaluations."""

    @abstractmethod
    def merge_staged(self) -> int:
        """Merge staged writes; returns the number of evaluations merged."""

    # -------------------------------------------------------------------------------------- maintenance
    @abstractmethod
    def export(self, directory: str | os.PathLike) -> dict[str, int]:
        """Write the store as Parquet (exchange format); returns row counts per table."""

    @abstractmethod
    def check(self) -> list[str]:
        """Integrity problems, one line each (empty when consistent)."""

    @abstractmethod
    def compact(self) -> dict:
        """Merge staged writes, drop unusable rows, checkpoint; returns what was done."""
