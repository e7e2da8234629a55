"""The knowledge base's error family (the CLI maps ``exit_code``)."""
from __future__ import annotations


class KnowledgeBaseError(Exception):
    exit_code = 1


class NotAKnowledgeBaseError(KnowledgeBaseError):
    """The file exists but is not a knowledge base (or is damaged); it is never overwritten."""

    exit_code = 2


class SchemaVersionError(KnowledgeBaseError):
    """The store was written by a newer version of this package."""

    exit_code = 2


class StoreBusyError(KnowledgeBaseError):
    """Another process held the store for longer than the retry window."""
