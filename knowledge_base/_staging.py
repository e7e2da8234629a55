"""The staging area: writes that could not get the store, waiting for the next writer to merge them.

``<store>.staging/run-<hash of run id>-<random>/`` is one run in the exchange format (four Parquet
files), written into a hidden ``.tmp-*`` folder and renamed into place, so a reader
sees a whole run or nothing (a kill mid-write leaves only a ``.tmp-*`` folder, removed later).
Merging is idempotent: runs already in the store are skipped, so a crash between the merge's commit
and the folder's removal loses and duplicates nothing. A folder that cannot be read is renamed
``.bad-*`` and reported by ``check()``; it is never deleted.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
import uuid
from pathlib import Path

import pyarrow as pa

from ._errors import ExchangeError, KnowledgeBaseError
from ._exchange import read_folder, write_folder
from ._schema import TABLES

log = logging.getLogger("automl.kb")

STALE_TMP_SECONDS = 3600.0


def _key(run_id: str) -> str:
    return hashlib.sha256(run_id.encode("utf-8")).hexdigest()[:16]


class Staging:
    def __init__(self, store_path: Path) -> None:
        self.root = store_path.with_name(store_path.name + ".staging")

    def pending(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        try:
            return sorted(p for p in self.root.iterdir() if p.name.startswith("run-") and p.is_dir())
        except OSError:
            return []

    def bad(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if p.name.startswith(".bad-"))

    def exists(self) -> bool:
        """Whether any staged run waits to be merged."""
        return bool(self.pending())

    def has_run(self, run_id: str) -> bool:
        prefix = f"run-{_key(run_id)}-"
        return any(p.name.startswith(prefix) for p in self.pending())

    def stage(self, run_id: str, tables: dict[str, pa.Table]) -> Path:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = self.root / f".tmp-{uuid.uuid4().hex}"
            write_folder(tmp, tables, extra={"run_id": run_id})
            final = self.root / f"run-{_key(run_id)}-{uuid.uuid4().hex[:8]}"
            os.rename(tmp, final)
        except OSError as exc:
            raise KnowledgeBaseError(f"the knowledge base is busy and its staging folder {self.root} cannot be "
                                     f"written: {exc}") from None
        return final

    def load(self, folders: list[Path]) -> tuple[dict[str, pa.Table], list[Path]]:
        """Concatenated tables of the readable folders (one per run id) and the folders they came from."""
        parts: dict[str, list[pa.Table]] = {name: [] for name in TABLES}
        used: list[Path] = []
        seen: set[str] = set()
        for folder in folders:
            try:
                tables = read_folder(folder)
            except (ExchangeError, OSError) as exc:
                self.quarantine(folder, str(exc))
                continue
            run_ids = set(tables["runs"].column("run_id").to_pylist())
            used.append(folder)
            if run_ids & seen:  # the same run staged twice: the first copy is enough
                continue
            seen |= run_ids
            for name in TABLES:
                parts[name].append(tables[name])
        merged = {name: pa.concat_tables(parts[name]) if parts[name] else None for name in TABLES}
        return merged, used

    def quarantine(self, folder: Path, reason: str) -> None:
        target = folder.with_name(f".bad-{folder.name}")
        try:
            os.rename(folder, target)
        except OSError:
            return
        log.error("staged write %s cannot be merged (%s); kept as %s", folder.name, reason, target)

    def discard(self, folders: list[Path]) -> None:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)

    def clean_stale(self, max_age: float = STALE_TMP_SECONDS) -> int:
        """Remove ``.tmp-*`` folders left by writers killed mid-stage."""
        if not self.root.is_dir():
            return 0
        removed = 0
        now = time.time()
        for p in self.root.iterdir():
            try:
                if p.name.startswith(".tmp-") and now - p.stat().st_mtime > max_age:
                    shutil.rmtree(p, ignore_errors=True)
                    removed += 1
            except OSError:
                continue
        return removed


__all__ = ["Staging"]
