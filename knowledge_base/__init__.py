"""The knowledge base: what the system has learned, in one DuckDB file that many processes share.

Past datasets (described by meta-features and a content fingerprint, never raw rows), pipeline
configurations (canonical JSON, keyed by hash), how each configuration scored on each dataset at each
fidelity, and the runs (fits, refresh jobs, imports) that wrote them. Every fit reads it once at the
start (:meth:`~KnowledgeBase.retrieve`: similar datasets, warm-start configurations, surrogate prior)
and writes once at the end (:meth:`~KnowledgeBase.record_run`, one transaction).

    import knowledge_base as kb
    store = kb.open_store()                         # --kb PATH, else $AUTOML_KB, else the per-user store
    neighbours = store.similar(mf, "binary", k=5)
    suggestions = store.suggest(mf, "binary", "roc_auc", n=10)
    store.record_run(run, dataset, evaluations)

The contract is :class:`KnowledgeBase`; :class:`DuckDBStore` implements it on a file and
:class:`MemoryStore` in memory (for unit tests). Imports run ``metafeatures`` <- ``knowledge_base``
<- ``automl``: this package never imports ``automl``. Library code logs to ``automl.kb``.

Where things are decided (each module's docstring has the details):

* ``_contract``: the abstract ``KnowledgeBase``: every method callers use, documented.
* ``_duckdb``: the DuckDB store and ``open_store``: sessions, staging fallback, reads and writes.
* ``_connection``: short connections: foreign-file refusal, retry/back-off, validation, migrations.
* ``_memory``: the in-memory store (the DuckDB store's SQL on an in-memory database).
* ``_seed``: creating a new store (schema + seed, built aside and linked into place).
* ``_ingest``: the one write path (record_run, import, staging, seed): idempotent merges.
* ``_integrity``: what ``check()`` verifies and ``compact()`` repairs.
* ``_nearest``: the SQL side of retrieval (nearest datasets, their evaluations).
* ``_schema``: the schema, its version and the migrations (old DDL kept verbatim for the tests).
* ``_exchange``: the Parquet exchange format shared by export/import, the seed and the staging area.
* ``_staging``: writes that could not get the file, merged idempotently by the next writer.
* ``_vectors``: meta-feature scaling (``metafeatures.scaling``), when it is refitted, the vectors.
* ``_retrieval``: normalised scores, similarity weighting, complementary suggestions (no SQL).
* ``_fingerprint``: content fingerprints (row and column order do not matter) and lineage keys (which
  table a dataset is a version of).

Queries compare datasets of one meta-feature version only: ``metafeatures_version=`` (keyword) names
it; by default it is ``metafeatures.METAFEATURES_VERSION``.
"""
from . import records
from ._errors import (DamagedStoreError, ExchangeError, InvalidRecordError, KnowledgeBaseError,
                      NotAKnowledgeBaseError, ReadOnlyStoreError, SchemaVersionError, StoreBusyError)
from ._fingerprint import fingerprint, lineage
from ._schema import SCHEMA_VERSION
from ._contract import TIMING_COLUMNS, KnowledgeBase
from ._duckdb import DuckDBStore, open_store, resolve_path
from ._memory import MemoryStore
from ._seed import SEED_DIR, SEED_ENV
from .canonical import canonical_json, config_id
from .records import (DEFAULT_METRICS, DatasetRecord, EvaluationRecord, Neighbour, PriorObservation, RunRecord,
                      Suggestion)

__all__ = ["open_store", "resolve_path", "fingerprint", "lineage", "records", "KnowledgeBase", "DuckDBStore",
           "MemoryStore", "TIMING_COLUMNS",
           "KnowledgeBaseError", "NotAKnowledgeBaseError", "DamagedStoreError", "SchemaVersionError",
           "StoreBusyError", "ReadOnlyStoreError", "InvalidRecordError", "ExchangeError",
           "DatasetRecord", "EvaluationRecord", "RunRecord", "Neighbour", "Suggestion", "PriorObservation",
           "DEFAULT_METRICS", "canonical_json", "config_id", "SCHEMA_VERSION", "SEED_DIR", "SEED_ENV"]
