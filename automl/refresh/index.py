"""What the store already holds, as the refresh needs it: per fingerprint, the stored description and the
candidates evaluated under this space version; and the store's (or an export's) tables as DataFrames."""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from ..search.validation import evaluated_rows
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
    # candidate id -> the most rows it was evaluated on (``validation.evaluated_rows``) under this space version
    rows: Mapping[str, int] = field(default_factory=dict)
    record: dict | None = None  # the stored dataset record's fields (``StoreIndex.FIELDS``)
    refreshed: bool = False  # processed by this job (with no candidates to evaluate, ``done`` cannot tell)

    @property
    def done(self) -> frozenset[str]:
        """The candidates evaluated on it, at any size."""
        return frozenset(self.rows)

    def done_at(self, n_rows: int) -> frozenset[str]:
        """The candidates evaluated on it on at least ``n_rows`` rows: "done" is keyed by candidate and size, so a
        refresh with a larger ``max_rows`` evaluates them again on more rows and a smaller one adds nothing."""
        return frozenset(cid for cid, n in self.rows.items() if n >= n_rows)

    @property
    def known(self) -> bool:
        """Evaluated before (by an earlier refresh or this one)."""
        return bool(self.rows) or self.refreshed


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
        n_rows = {fp: int((e.record or {}).get("n_rows") or 0) for fp, e in entries.items()}
        done: dict[str, dict[str, int]] = {}
        ev = store.evaluations(origin=CANDIDATE_ORIGIN)
        if len(ev):
            ev = ev[ev["space_version"].astype(str) == str(space_version)]
            for fp, cid, protocol in zip(ev["fingerprint"].astype(str), ev["config_id"].astype(str), ev["protocol"]):
                sizes = done.setdefault(fp, {})
                sizes[cid] = max(sizes.get(cid, 0), evaluated_rows(protocol, n_rows.get(fp, 0)))
        for fp, sizes in done.items():
            entries[fp] = replace(entries.get(fp, StoredState()), rows=sizes)
        return cls(entries)

    def state(self, fp: str) -> StoredState:
        return self.entries.get(fp, StoredState())

    def mark(self, fp: str, *, mf_version: str | None = None, done: Iterable[str] = (), n_rows: int = 0,
             record: dict | None = None, refreshed: bool = False) -> None:
        """Record what the job wrote for ``fp``: the candidates ``done`` on ``n_rows`` rows, its description."""
        entry = self.state(fp)
        rows = dict(entry.rows)
        for cid in done:
            rows[cid] = max(rows.get(cid, 0), int(n_rows))
        self.entries[fp] = StoredState(mf_version if mf_version is not None else entry.mf_version, rows,
                                       record if record is not None else entry.record,
                                       entry.refreshed or refreshed)

    @classmethod
    def fields_of(cls, dataset) -> dict:
        """The index's copy of a dataset record's fields."""
        return {k: getattr(dataset, k) for k in cls.FIELDS}
