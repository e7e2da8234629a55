"""Compatibility module: the error family lives in ``knowledge_base._errors``."""
from ._errors import (DamagedStoreError, ExchangeError, InvalidRecordError, KnowledgeBaseError,
                      NotAKnowledgeBaseError, ReadOnlyStoreError, SchemaVersionError, StoreBusyError)

__all__ = ["KnowledgeBaseError", "NotAKnowledgeBaseError", "DamagedStoreError", "SchemaVersionError",
           "StoreBusyError", "ReadOnlyStoreError", "InvalidRecordError", "ExchangeError"]
