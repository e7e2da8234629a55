"""The knowledge base: past datasets (meta-features, never raw rows), configurations and scores.

``open_store(path)`` returns a ``DuckDBStore``; see ``store.KnowledgeBase`` for the contract.
This package never imports ``automl`` (imports run metafeatures <- knowledge_base <- automl).
"""
from . import records
from .canonical import canonical_json, config_id
from .errors import KnowledgeBaseError, NotAKnowledgeBaseError, SchemaVersionError, StoreBusyError
from .fingerprint import fingerprint
from .records import DatasetRecord, EvaluationRecord, Neighbour, PriorObservation, RunRecord, Suggestion
from .schema import SCHEMA_VERSION
from .store import SEED_DIR, DuckDBStore, KnowledgeBase, open_store, resolve_path

__all__ = ["open_store", "resolve_path", "fingerprint", "records", "DuckDBStore", "KnowledgeBase",
           "KnowledgeBaseError", "NotAKnowledgeBaseError", "SchemaVersionError", "StoreBusyError",
           "DatasetRecord", "EvaluationRecord", "RunRecord", "Neighbour", "Suggestion", "PriorObservation",
           "canonical_json", "config_id", "SCHEMA_VERSION", "SEED_DIR"]
