"""Content fingerprint of a dataset: the same data fitted twice is one dataset.

``fingerprint(X, y)`` hashes the multiset of rows: column names, dtypes, every value of ``X`` and
the target. Row order and column order do NOT matter (a shuffled copy of a table is the same
dataset); a changed value, an added or dropped row, column or duplicate, a renamed column or a
different dtype (float vs category) gives another fingerprint. Per-row hashes come from
``pandas.util.hash_pandas_object`` (categories by value, NaN hashed consistently), are combined
with the target's, sorted and fed to sha256; 32 hex characters (128 bits).

``lineage(columns, target, task)`` names the table a dataset is a version of: it hashes the input
columns' names with their kinds as the encoder sees them, the target's name and the task, never a value,
so versions of one table (rows added, removed or changed) share it and a renamed, added or re-typed
column, another target or task does not.
"""
from __future__ import annotations

import hashlib
import json
from typing import Mapping

import numpy as np
import pandas as pd

from ._errors import InvalidRecordError

_LINEAGE_PREFIX = b"automl-kb-lineage-1\x00"
_PREFIX = b"automl-kb-fingerprint-1\x00"
_MIX = np.uint64(0x9E3779B97F4A7C15)


def fingerprint(X: pd.DataFrame, y) -> str:
    """Row- and column-order-independent sha256 of ``X`` (names, dtypes, values) and ``y``, 32 hex."""
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
    target = pd.Series(np.asarray(y).ravel() if not isinstance(y, pd.Series) else y.to_numpy())
    if len(target) != len(frame):
        raise InvalidRecordError(f"fingerprint: X has {len(frame)} rows but y has {len(target)}")
    order = sorted(range(frame.shape[1]), key=lambda i: (str(frame.columns[i]), str(frame.dtypes.iloc[i]), i))
    columns = frame.iloc[:, order]
    h = hashlib.sha256(_PREFIX)
    h.update(json.dumps([[str(c), str(t)] for c, t in zip(columns.columns, columns.dtypes)]).encode("utf-8"))
    h.update(f"|{len(frame)}|{target.dtype}|".encode("utf-8"))
    if columns.shape[1]:
        rows = pd.util.hash_pandas_object(columns.reset_index(drop=True), index=False).to_numpy(dtype=np.uint64)
    else:
        rows = np.zeros(len(frame), dtype=np.uint64)
    targets = pd.util.hash_pandas_object(target.reset_index(drop=True), index=False).to_numpy(dtype=np.uint64)
    with np.errstate(over="ignore"):
        combined = (rows * _MIX) ^ targets
    h.update(np.sort(combined).tobytes())
    return h.hexdigest()[:32]


def lineage(columns: Mapping[str, str], target: str | None, task: str) -> str:
    """sha256 of the sorted ``(input column name, kind)`` pairs, the target's name and the task, 32 hex.

    ``target`` is None for an unnamed target (an array), so unnamed targets with the same columns and
    task share a lineage. Column order does not matter.
    """
    text = json.dumps({"columns": sorted([str(name), str(kind)] for name, kind in columns.items()),
                       "target": None if target is None else str(target), "task": str(task)})
    return hashlib.sha256(_LINEAGE_PREFIX + text.encode("utf-8")).hexdigest()[:32]


__all__ = ["fingerprint", "lineage"]
