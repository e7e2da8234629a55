"""Short-lived DuckDB connections to a store file: refusal of foreign files, retry, validation, migration.

DuckDB lets one process hold a file read-write, and while it does, every other process's open fails
at once (even read-only). So nothing keeps a connection: each use opens, works and closes, and opens
retry with jittered exponential back-off (5 ms doubling to 100 ms) until the caller's patience runs
out (then ``StoreBusyError``). A path that is not a DuckDB file (checked from its header before
DuckDB touches it), a DuckDB database without the knowledge-base marker, or an unreadable file gives
a one-line ``KnowledgeBaseError`` and is never written to.
"""
from __future__ import annotations

import logging
import os
import random
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from ._errors import DamagedStoreError, KnowledgeBaseError, NotAKnowledgeBaseError, SchemaVersionError, StoreBusyError
from ._exchange import now_utc
from ._schema import APP_MARKER, MIGRATIONS, SCHEMA_VERSION
from ._vectors import refresh_vectors

log = logging.getLogger("automl.kb")

_FIRST_DELAY, _MAX_DELAY = 0.005, 0.1
_HEADER_BYTES = 3 * 4096  # DuckDB's main header and its two database headers


class NeedsMigration(Exception):
    """A read-only connection found an older schema: the caller reconnects for writing to migrate it."""

    def __init__(self, version: int) -> None:
        super().__init__(version)
        self.version = version


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def file_size(path: Path) -> int:
    """The file's size in bytes, 0 when it cannot be read."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


@contextmanager
def transaction(con) -> Iterator[None]:
    """``BEGIN`` ... ``COMMIT``, rolled back on any exception (a kill leaves the file as it was)."""
    con.execute("BEGIN")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def process_lock(path: Path) -> threading.RLock:
    """Threads of one process take turns on a file (DuckDB shares one database per process)."""
    key = os.path.abspath(path)
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.RLock())


def check_file(path: Path) -> None:
    """Refuse anything that is not a DuckDB file before DuckDB opens (and could initialise) it."""
    try:
        if path.is_dir():
            raise NotAKnowledgeBaseError(f"{path} is a folder, not a knowledge-base file")
        with open(path, "rb") as fh:
            head = fh.read(12)
    except FileNotFoundError:
        raise KnowledgeBaseError(f"no knowledge base at {path}") from None
    except OSError as exc:
        raise NotAKnowledgeBaseError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(head) < 12 or head[8:12] != b"DUCK":
        raise NotAKnowledgeBaseError(f"{path} is not a knowledge base (not a DuckDB database file); "
                                     f"it was left untouched")


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc)
    return "Could not set lock" in text or "Conflicting lock" in text


def connect(path: Path, write: bool, patience: float) -> duckdb.DuckDBPyConnection:
    """A connection to ``path``, retried while another process holds the file, for ``patience`` seconds."""
    deadline = time.monotonic() + max(0.0, patience)
    delay = _FIRST_DELAY
    while True:
        check_file(path)
        try:
            return duckdb.connect(str(path), read_only=not write)
        except duckdb.IOException as exc:
            if not _is_lock_error(exc):
                raise DamagedStoreError(f"cannot open knowledge base {path}: {first_line(exc)}") from None
        except duckdb.ConnectionException as exc:
            raise KnowledgeBaseError(f"knowledge base {path} is already open in this process with other "
                                     f"settings: {first_line(exc)}") from None
        except duckdb.Error as exc:
            raise DamagedStoreError(f"cannot open knowledge base {path}: {first_line(exc)}") from None
        if time.monotonic() >= deadline:
            raise StoreBusyError(f"knowledge base {path} is busy: another process held it for more than "
                                 f"{patience:.1f}s")
        time.sleep(delay * random.uniform(0.5, 1.5))
        delay = min(_MAX_DELAY, delay * 2)


def validate(con, path: Path, write: bool) -> None:
    """Accept a knowledge base of this schema version (migrating an older one when ``write``).

    Raises ``NeedsMigration`` for an older store on a read-only connection, and a one-line
    ``KnowledgeBaseError`` subclass for anything else it must not use.
    """
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_schema = 'main'").fetchall()}
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall()) if "meta" in tables else {}
    except duckdb.Error as exc:
        raise DamagedStoreError(f"knowledge base {path} cannot be read: {first_line(exc)}") from None
    if meta.get("app") != APP_MARKER:
        raise NotAKnowledgeBaseError(f"{path} is not a knowledge base (a DuckDB database without the "
                                     f"knowledge-base marker); it was left untouched")
    try:
        version = int(meta.get("schema_version", ""))
    except ValueError:
        raise DamagedStoreError(f"knowledge base {path} has an unreadable schema version "
                                f"{meta.get('schema_version')!r}") from None
    _check_size(con, path)
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(f"knowledge base {path} has schema version {version}, newer than "
                                 f"version {SCHEMA_VERSION} that this library reads; upgrade automl-meta "
                                 f"or use another --kb")
    if version < SCHEMA_VERSION:
        if not write:
            raise NeedsMigration(version)
        _migrate(con, path, version)


def _check_size(con, path: Path) -> None:
    """A file shorter than its used blocks is damaged (truncated); a pending WAL is not checked.

    Every used block lies inside the file, so ``header + used_blocks * block_size`` is a lower bound
    of its size (``total_blocks`` is not: a checkpoint may cut free trailing blocks off the file).
    Damage this misses (or corrupt bytes) surfaces as ``DamagedStoreError`` when the blocks are read.
    """
    if Path(str(path) + ".wal").exists():
        return
    cursor = con.execute("PRAGMA database_size")
    row = dict(zip([d[0] for d in cursor.description], cursor.fetchall()[0]))
    expected = _HEADER_BYTES + int(row["used_blocks"]) * int(row["block_size"])
    size = file_size(path)
    if size < expected:
        raise DamagedStoreError(f"knowledge base {path} is damaged (truncated to {size} bytes, its data "
                                f"needs at least {expected}); it was left untouched")


def _migrate(con, path: Path, version: int) -> None:
    """Every migration from ``version`` and the version bump in one transaction."""
    if any(v not in MIGRATIONS for v in range(version, SCHEMA_VERSION)):
        raise SchemaVersionError(f"knowledge base {path} has schema version {version}, which this library "
                                 f"cannot migrate to {SCHEMA_VERSION}")
    try:
        with transaction(con):
            for v in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[v]:
                    con.execute(statement)
            con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION)])
            con.execute("INSERT INTO meta VALUES ('migrated_at', ?) ON CONFLICT (key) DO UPDATE SET value = "
                        "EXCLUDED.value", [now_utc().isoformat(timespec="seconds") + "Z"])
            refresh_vectors(con, None)
    except Exception as exc:
        raise SchemaVersionError(f"migrating knowledge base {path} from schema {version} to "
                                 f"{SCHEMA_VERSION} failed, the file is unchanged: {first_line(exc)}") from None
    log.warning("knowledge base %s migrated from schema %d to %d", path, version, SCHEMA_VERSION)
