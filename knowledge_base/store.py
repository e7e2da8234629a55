"""Compatibility module: the store lives in ``knowledge_base._store`` (import from ``knowledge_base``)."""
from ._store import (MAINTENANCE_PATIENCE, READ_PATIENCE, SEED_DIR, WRITE_PATIENCE, DuckDBStore, KnowledgeBase,
                     MemoryStore, open_store, resolve_path)

RETRY_SECONDS = WRITE_PATIENCE  # the first store's name; unused (see ``DuckDBStore.write_patience``)

__all__ = ["DuckDBStore", "KnowledgeBase", "MemoryStore", "open_store", "resolve_path", "SEED_DIR",
           "READ_PATIENCE", "WRITE_PATIENCE", "MAINTENANCE_PATIENCE"]
