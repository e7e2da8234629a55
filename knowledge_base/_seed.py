"""How a new store comes to exist: the current schema plus the seed, built aside and linked into place.

The seed is a folder in the exchange format (``knowledge_base/seed`` in the package, or
``$AUTOML_KB_SEED``); nothing is ever written into it. A new store is built in a temporary file and
hard-linked into place, so a kill during creation or seeding leaves no half-made store, and of two
processes creating the same store at once one wins and the other uses its file.
"""
from __future__ import annotations

import logging
import os
import time
import uuid
from pathlib import Path

import duckdb

from ._connection import transaction
from ._errors import NotAKnowledgeBaseError
from ._exchange import has_tables, now_utc, read_folder
from ._ingest import ingest
from ._schema import APP_MARKER, DDL_CURRENT, SCHEMA_VERSION

log = logging.getLogger("automl.kb")

SEED_DIR = Path(__file__).resolve().parent / "seed"
SEED_ENV = "AUTOML_KB_SEED"
STALE_CREATION_SECONDS = 3600.0


def default_seed_dir() -> Path:
    """``$AUTOML_KB_SEED``, else the package's ``knowledge_base/seed``."""
    env = os.environ.get(SEED_ENV)
    return Path(env) if env else SEED_DIR


def create_schema(con) -> None:
    """The current schema and the knowledge-base marker, in one transaction."""
    with transaction(con):
        for ddl in DDL_CURRENT:
            con.execute(ddl)
        con.execute("INSERT INTO meta VALUES ('app', ?), ('schema_version', ?), ('created_at', ?)",
                    [APP_MARKER, str(SCHEMA_VERSION), now_utc().isoformat(timespec="seconds") + "Z"])


def load_seed(con, seed_dir: Path | None, warn: bool = True) -> str:
    """Load the seed folder in one transaction; returns what was loaded, for the log."""
    if seed_dir is None:
        return "no seed"
    if not has_tables(seed_dir):
        if warn:
            log.warning("no knowledge-base seed in %s: the new store starts empty (fits warm-start from the "
                        "default portfolio until it learns)", seed_dir)
        return "empty seed"
    tables = read_folder(seed_dir)
    with transaction(con):
        added = ingest(con, tables)
    return f"seeded from {seed_dir}: {added.datasets} dataset(s), {added.evaluations} evaluation(s)"


def create_store_file(path: Path, seed_dir: Path | None) -> None:
    """Build a new store (schema + seed) in a temporary file and link it into place atomically."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NotAKnowledgeBaseError(f"cannot create knowledge base at {path}: {exc.strerror or exc}") from None
    _remove_stale_creations(path)
    tmp = path.with_name(f".{path.name}.creating-{uuid.uuid4().hex[:12]}")
    try:
        con = duckdb.connect(str(tmp))
        try:
            create_schema(con)
            seeded = load_seed(con, seed_dir)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        if _link_into_place(tmp, path):
            log.info("created knowledge base %s (%s)", path, seeded)
    except OSError as exc:
        raise NotAKnowledgeBaseError(f"cannot create knowledge base at {path}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".wal").unlink(missing_ok=True)


def _remove_stale_creations(path: Path) -> None:
    """Temporary files left by a killed creator, once they are old enough not to be in use."""
    for stale in path.parent.glob(f".{path.name}.creating-*"):
        try:
            if time.time() - stale.stat().st_mtime > STALE_CREATION_SECONDS:
                stale.unlink()
        except OSError:
            pass


def _link_into_place(tmp: Path, path: Path) -> bool:
    """Whether ``tmp`` became ``path`` (False: another process created the store meanwhile)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        log.debug("knowledge base %s was created by another process meanwhile", path)
        return False
    except OSError:  # no hard links on this file system: rename (a tiny race instead of none)
        if path.exists():
            return False
        os.replace(tmp, path)
    return True
