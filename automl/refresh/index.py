"""What the store already holds, as the refresh needs it: per fingerprint, the stored description and the
candidates evaluated under this space version; and the store's (or an export's) tables as DataFrames."""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from .candidates import CANDIDATE_ORIGIN


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


@dataclass(frozen=True)
class StoredState:
    """What the store holds of one dataset, for the refresh's decision."""

    mf_version: str | None = None  # meta-feature version of its stored description (None: not stored)
    done: frozenset[str] = frozenset()  # ids of the candidates evaluated on it under this space version
    record: dict | None = None  # the stored dataset record's fields (``StoreIndex.FIELDS``)
    refreshed: bool = False  # processed by this job (with no candidates to evaluate, ``done`` cannot tell)

    @property
    def known(self) -> bool:
        """Evaluated before (by an earlier refresh or this one)."""
        return bool(self.done) or self.refreshed


class StoreIndex:
    """What the refresh needs to know per fingerprint (:class:`StoredState`).

    Built once per job from the store and kept current as the job writes (fits writing to the same
    store meanwhile never add candidate evaluations, so they cannot make it wrong).
    """

    FIELDS = ("name", "source", "task", "n_rows", "n_features", "metafeatures", "metafeatures_version", "extra")

    def __init__(self, entries: dict[str, StoredState]) -> None:
        self.entries = entries

    @classmethod
    def from_store(cls, store, space_version: str) -> "StoreIndex":
        datasets = store.datasets()
        entries = {str(row["fingerprint"]): StoredState(str(row["metafeatures_version"]),
                                                        record={k: row[k] for k in cls.FIELDS if k in row})
                   for row in datasets.to_dict("records")} if len(datasets) else {}
        done: dict[str, set[str]] = {}
        ev = store.evaluations(origin=CANDIDATE_ORIGIN)
        if len(ev):
            ev = ev[ev["space_version"].astype(str) == str(space_version)]
            for fp, cid in zip(ev["fingerprint"].astype(str), ev["config_id"].astype(str)):
                done.setdefault(fp, set()).add(cid)
        for fp, ids in done.items():
            entries[fp] = replace(entries.get(fp, StoredState()), done=frozenset(ids))
        return cls(entries)

    def state(self, fp: str) -> StoredState:
        return self.entries.get(fp, StoredState())

    def mark(self, fp: str, *, mf_version: str | None = None, done: Iterable[str] = (),
             record: dict | None = None, refreshed: bool = False) -> None:
        entry = self.state(fp)
        self.entries[fp] = StoredState(mf_version if mf_version is not None else entry.mf_version,
                                       entry.done | frozenset(done),
                                       record if record is not None else entry.record,
                                       entry.refreshed or refreshed)

    @classmethod
    def fields_of(cls, dataset) -> dict:
        """The index's copy of a dataset record's fields."""
        return {k: getattr(dataset, k) for k in cls.FIELDS}
