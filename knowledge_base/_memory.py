"""The same store in memory (one process, no file, no staging): a stand-in for unit tests.

It runs the DuckDB store's own SQL on an in-memory database, so the conformance suite holds for it
by construction; only connections (one, shared under a lock) and the staging area (none) differ.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ._connection import first_line
from ._duckdb import DuckDBStore
from ._errors import KnowledgeBaseError
from ._seed import create_schema, load_seed


class _NoStaging:
    """An empty staging area: an in-memory store is never busy, so nothing is ever staged."""

    root = Path(":memory:")

    def pending(self) -> list[Path]:
        return []

    def bad(self) -> list[Path]:
        return []

    def clean_stale(self) -> int:
        return 0


class MemoryStore(DuckDBStore):
    """The same store in memory (one process, no file, no staging): a stand-in for unit tests."""

    def __init__(self, *, seed_dir: str | os.PathLike | None = None) -> None:
        super().__init__(Path(":memory:"))
        self.staging = _NoStaging()
        self._con = duckdb.connect(":memory:")
        self._lock = threading.RLock()
        create_schema(self._con)
        load_seed(self._con, Path(seed_dir) if seed_dir is not None else None, warn=False)
        self._validated = True

    def __repr__(self) -> str:
        return "MemoryStore()"

    @contextmanager
    def _session(self, write: bool, patience: float | None = None):
        with self._lock:
            cursor = self._con.cursor()
            try:
                yield cursor
            except duckdb.Error as exc:
                raise KnowledgeBaseError(f"in-memory knowledge base: {type(exc).__name__}: "
                                         f"{first_line(exc)}") from exc
            finally:
                cursor.close()

    def _size(self) -> int:
        return 0

    def close(self) -> None:
        self._con.close()
