"""The knowledge base's error family (one-line messages; the CLI maps ``exit_code``).

``knowledge_base`` never imports ``automl``, so these do not derive from ``AutoMLError``;
the command line (``automl.commands._errors``) catches both families.
"""
from __future__ import annotations


class KnowledgeBaseError(Exception):
    """Base class of every error the knowledge base raises on purpose."""

    exit_code = 1


class NotAKnowledgeBaseError(KnowledgeBaseError):
    """The path holds something that is not a knowledge base (another file, another DuckDB database)."""

    exit_code = 2


class DamagedStoreError(NotAKnowledgeBaseError):
    """The file looks like a knowledge base but cannot be read (truncated, corrupted)."""

    exit_code = 2


class SchemaVersionError(KnowledgeBaseError):
    """The store was written by a newer version of this library (or needs a migration it cannot do)."""

    exit_code = 2


class StoreBusyError(KnowledgeBaseError):
    """Another process held the store for longer than this call was willing to wait."""

    exit_code = 1


class ReadOnlyStoreError(KnowledgeBaseError):
    """A write was asked of a store opened with ``read_only=True``."""

    exit_code = 1


class InvalidRecordError(KnowledgeBaseError, ValueError):
    """A record handed to the store breaks its contract (bad status, fidelity, task, ...)."""

    exit_code = 1


class ExchangeError(KnowledgeBaseError):
    """An export/import folder (or a staged write) is missing, incomplete or inconsistent."""

    exit_code = 2
