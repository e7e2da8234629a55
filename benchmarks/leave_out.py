"""Leave-one-out for benchmarks: a knowledge base that hides some stored datasets from every read.

    from leave_out import LeaveOut
    model = AutoML(knowledge_base=LeaveOut(kb.open_store(), ("credit_g", "german")), write_back=False)

A measured dataset (and its copies stored under other names: ``bench_search.left_out``) must never be
retrieved, or the warm start is flattered. The view hides datasets by stored name: retrieval never
returns them or draws configurations from them, and the listings (``datasets``, ``evaluations``,
``timings``, ``runs``, ``dataset``, ``has_dataset``) leave them out. ``info``, ``check``, ``export`` and the writes
go to the store unchanged (they describe or change the whole store).
"""
from __future__ import annotations

import os
from typing import Iterable

import pandas as pd

from knowledge_base import KnowledgeBase
from knowledge_base.records import DatasetRecord, EvaluationRecord, Neighbour, PriorObservation, RunRecord, Suggestion


class LeaveOut(KnowledgeBase):
    """``store`` without the datasets named in ``names``."""

    def __init__(self, store: KnowledgeBase, names: Iterable[str] = ()) -> None:
        self.store = store
        self.names = tuple(str(n) for n in names)
        self.path = store.path

    @classmethod
    def keeping(cls, store: KnowledgeBase, keep: Iterable[str], hide: Iterable[str] = ()) -> "LeaveOut":
        """``store`` cut to the stored datasets named in ``keep`` (unnamed ones, such as a local fit's, stay),
        less those in ``hide``: a smaller store without building one (``bench_store_learns.py``)."""
        keep = set(map(str, keep)) - set(map(str, hide))
        names = store.datasets()["name"].dropna().astype(str)
        return cls(store, sorted(set(names) - keep))

    def __repr__(self) -> str:
        return f"LeaveOut({self.store!r}, {self.names!r})"

    def _hidden(self, exclude_names: Iterable[str]) -> tuple[str, ...]:
        return (*self.names, *exclude_names)

    # ------------------------------------------------------------------------------------ retrieval
    def similar(self, metafeatures: dict, task: str, k: int = 5, exclude_fingerprint: str | None = None, *,
                metafeatures_version: str | None = None, exclude_names: Iterable[str] = ()) -> list[Neighbour]:
        return self.store.similar(metafeatures, task, k, exclude_fingerprint, metafeatures_version=metafeatures_version,
                                  exclude_names=self._hidden(exclude_names))

    def suggest(self, metafeatures: dict, task: str, metric: str, n: int = 10, k: int = 10,
                families: set[str] | None = None, exclude_fingerprint: str | None = None, *,
                metafeatures_version: str | None = None, exclude_names: Iterable[str] = ()) -> list[Suggestion]:
        return self.store.suggest(metafeatures, task, metric, n, k, families, exclude_fingerprint,
                                  metafeatures_version=metafeatures_version, exclude_names=self._hidden(exclude_names))

    def prior_observations(self, metafeatures: dict, task: str, metric: str, k: int = 10,
                           families: set[str] | None = None, exclude_fingerprint: str | None = None, *,
                           metafeatures_version: str | None = None, exclude_names: Iterable[str] = (),
                           limit: int | None = None) -> list[PriorObservation]:
        return self.store.prior_observations(metafeatures, task, metric, k, families, exclude_fingerprint,
                                             metafeatures_version=metafeatures_version,
                                             exclude_names=self._hidden(exclude_names), limit=limit)

    def retrieve(self, metafeatures: dict, task: str, metric: str, n: int = 10, k: int = 10,
                 families: Iterable[str] | None = None, exclude_fingerprint: str | None = None, *,
                 metafeatures_version: str | None = None, exclude_names: Iterable[str] = (),
                 neighbours_k: int | None = None, prior_limit: int | None = None, lineage: str | None = None,
                 own_over_cap: frozenset[str] = frozenset()
                 ) -> tuple[list[Neighbour], list[Suggestion], list[PriorObservation]]:
        return self.store.retrieve(metafeatures, task, metric, n, k, families, exclude_fingerprint,
                                   metafeatures_version=metafeatures_version,
                                   exclude_names=self._hidden(exclude_names), neighbours_k=neighbours_k,
                                   prior_limit=prior_limit, lineage=lineage, own_over_cap=own_over_cap)

    # ------------------------------------------------------------------------------------ listings
    def dataset(self, fingerprint: str) -> DatasetRecord | None:
        record = self.store.dataset(fingerprint)
        return None if record is None or record.name in self.names else record

    def has_dataset(self, fingerprint: str, metafeatures_version: str | None = None,
                    space_version: str | None = None) -> bool:
        return self.dataset(fingerprint) is not None and \
            self.store.has_dataset(fingerprint, metafeatures_version, space_version)

    def datasets(self) -> pd.DataFrame:
        frame = self.store.datasets()
        return frame[~frame["name"].isin(self.names)].reset_index(drop=True)

    def evaluations(self, fingerprint: str | None = None, *, origin: str | None = None, metric: str | None = None,
                    run_id: str | None = None) -> pd.DataFrame:
        frame = self.store.evaluations(fingerprint, origin=origin, metric=metric, run_id=run_id)
        return frame[~frame["name"].isin(self.names)].reset_index(drop=True)

    def timings(self) -> pd.DataFrame:
        frame = self.store.timings()
        return frame[~frame["name"].isin(self.names)].reset_index(drop=True)

    def lineage_fingerprints(self, lineage: str) -> list[str]:
        return [fp for fp in self.store.lineage_fingerprints(lineage) if self.dataset(fp) is not None]

    def runs(self) -> pd.DataFrame:
        frame, stored = self.store.runs(), self.store.datasets()
        hidden = stored.loc[stored["name"].isin(self.names), "fingerprint"]
        return frame[~frame["fingerprint"].isin(hidden)].reset_index(drop=True)

    # ------------------------------------------------------------------------------------ the whole store
    def info(self) -> dict:
        return self.store.info()

    def record_run(self, run: RunRecord, dataset: DatasetRecord | None, evaluations: list[EvaluationRecord]) -> int:
        return self.store.record_run(run, dataset, evaluations)

    def import_(self, directory: str | os.PathLike) -> int:
        return self.store.import_(directory)

    def merge_staged(self) -> int:
        return self.store.merge_staged()

    def export(self, directory: str | os.PathLike) -> dict[str, int]:
        return self.store.export(directory)

    def check(self) -> list[str]:
        return self.store.check()

    def compact(self) -> dict:
        return self.store.compact()
