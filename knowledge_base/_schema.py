"""Schema of the store, its version and the migrations from every older version.

The version lives in the ``meta`` table (DuckDB has no ``PRAGMA user_version``) next to the marker
``app = automl-knowledge-base`` that tells a knowledge base from any other DuckDB file.

History (the DDL of every released version is kept verbatim: migration tests build old files from it):

* 1: first layout (text dataset ids = fingerprints, ``config_json``, ``eval_id`` keys).
* 2: evaluations gained ``origin`` and ``source``.
* 3: integer dataset ids (fingerprint unique); configurations keyed by ``config_key``, the
  64-bit configuration id (16 hex digits) as an unsigned integer, so lookups scan integers; ``(run_id,
  seq)`` identifies an evaluation, which carries its ``space_version`` and the configuration's
  ``family``; ``updated_at`` on datasets; scaled meta-feature vectors in ``vectors`` (``FLOAT[]``, one
  row per dataset, with the ``scalers`` row that scaled it); ``dataset_metrics`` counts the ``ok``
  evaluations per dataset and metric (which neighbours have scores under a metric, without scanning
  the evaluations); CHECK constraints on task, status and fidelity. No index: keys (fingerprint,
  configuration key, run id) are kept unique by the writer, which is alone on the file (DuckDB's
  lock) and inserts with anti-joins; an ART index over 700,000 configurations cost more to load
  at every write than the whole write. ``check()`` verifies the uniqueness.
* 4: current. ``datasets.lineage`` (``knowledge_base.lineage``: the table a dataset is a version of),
  NULL for rows written before; retrieval counts a lineage once and puts the query's own lineage first.

A migration runs in one transaction together with the version bump (DuckDB DDL is transactional):
a failure or a kill leaves the file at the old version.
"""
from __future__ import annotations

SCHEMA_VERSION = 4
APP_MARKER = "automl-knowledge-base"
TABLES = ("datasets", "configurations", "runs", "evaluations")  # the exported (primary) tables, in load order

# --------------------------------------------------------------------------------------------- v1 (verbatim)
DDL_V1 = [
    "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    """CREATE TABLE datasets (dataset_id VARCHAR PRIMARY KEY, name VARCHAR, source VARCHAR, task VARCHAR,
        n_rows BIGINT, n_features BIGINT, metafeatures_version VARCHAR, metafeatures VARCHAR,
        mf_values DOUBLE[], extra VARCHAR, created_at TIMESTAMP)""",
    """CREATE TABLE configurations (config_id VARCHAR PRIMARY KEY, family VARCHAR, space_version VARCHAR,
        config_json VARCHAR, created_at TIMESTAMP)""",
    """CREATE TABLE evaluations (eval_id VARCHAR PRIMARY KEY, run_id VARCHAR, dataset_id VARCHAR,
        config_id VARCHAR, fidelity DOUBLE, protocol VARCHAR, metric VARCHAR, score DOUBLE, loss DOUBLE,
        normalised_score DOUBLE, fit_seconds DOUBLE, status VARCHAR, error VARCHAR, seed BIGINT,
        library_version VARCHAR, created_at TIMESTAMP)""",
    """CREATE TABLE runs (run_id VARCHAR PRIMARY KEY, kind VARCHAR, source VARCHAR, started_at TIMESTAMP,
        finished_at TIMESTAMP, budget_seconds DOUBLE, settings VARCHAR, versions VARCHAR, dataset_id VARCHAR,
        n_evaluations BIGINT)""",
]

# --------------------------------------------------------------------------------------------- v3 (verbatim)
DDL_V3 = [
    "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    "CREATE SEQUENCE dataset_ids START 1",
    """CREATE TABLE datasets (
        dataset_id INTEGER NOT NULL DEFAULT nextval('dataset_ids'),
        fingerprint VARCHAR NOT NULL,
        name VARCHAR,
        source VARCHAR NOT NULL,
        task VARCHAR NOT NULL CHECK (task IN ('binary', 'multiclass', 'regression')),
        n_rows BIGINT,
        n_features BIGINT,
        metafeatures VARCHAR NOT NULL,
        metafeatures_version VARCHAR NOT NULL,
        extra VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        updated_at TIMESTAMP NOT NULL)""",
    """CREATE TABLE configurations (
        config_key UBIGINT NOT NULL,
        config VARCHAR NOT NULL,
        family VARCHAR NOT NULL,
        space_version VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL)""",
    """CREATE TABLE runs (
        run_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        started_at TIMESTAMP,
        finished_at TIMESTAMP,
        budget_seconds DOUBLE,
        settings VARCHAR NOT NULL,
        versions VARCHAR NOT NULL,
        fingerprint VARCHAR,
        n_evaluations INTEGER NOT NULL,
        recorded_at TIMESTAMP NOT NULL)""",
    """CREATE TABLE evaluations (
        run_id VARCHAR NOT NULL,
        seq INTEGER NOT NULL,
        dataset_id INTEGER NOT NULL,
        config_key UBIGINT NOT NULL,
        family VARCHAR NOT NULL,
        space_version VARCHAR NOT NULL,
        fidelity DOUBLE NOT NULL CHECK (fidelity > 0 AND fidelity <= 1),
        protocol VARCHAR NOT NULL,
        metric VARCHAR NOT NULL,
        score DOUBLE,
        loss DOUBLE,
        fit_seconds DOUBLE NOT NULL,
        status VARCHAR NOT NULL CHECK (status IN ('ok', 'failed', 'timeout')),
        error VARCHAR,
        seed BIGINT NOT NULL,
        library_version VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        origin VARCHAR)""",
    """CREATE TABLE scalers (
        scaler_id INTEGER NOT NULL,
        metafeatures_version VARCHAR NOT NULL,
        params VARCHAR NOT NULL,
        n_fitted INTEGER NOT NULL,
        fitted_at TIMESTAMP NOT NULL)""",
    "CREATE TABLE vectors (dataset_id INTEGER NOT NULL, scaler_id INTEGER NOT NULL, vec FLOAT[] NOT NULL)",
    "CREATE TABLE dataset_metrics (dataset_id INTEGER NOT NULL, metric VARCHAR NOT NULL, n_ok INTEGER NOT NULL)",
]

# --------------------------------------------------------------------------------------------- v4 (current)
# a new store is the version-3 layout plus the step that migrates one, so the two never differ
_V3_TO_V4 = ["ALTER TABLE datasets ADD COLUMN lineage VARCHAR"]
DDL_CURRENT = [*DDL_V3, *_V3_TO_V4]

# --------------------------------------------------------------------------------------------- migrations
# MIGRATIONS[v]: SQL taking a store from version v to v + 1. After the SQL of the last step the store
# recomputes the meta-feature vectors (Python, same transaction).
MIGRATIONS: dict[int, list[str]] = {
    1: [
        "ALTER TABLE evaluations ADD COLUMN origin VARCHAR",
        "ALTER TABLE evaluations ADD COLUMN source VARCHAR",
        "UPDATE evaluations SET source = 'local' WHERE source IS NULL",
    ],
    2: [
        "ALTER TABLE datasets RENAME TO datasets_v2",
        "ALTER TABLE configurations RENAME TO configurations_v2",
        "ALTER TABLE evaluations RENAME TO evaluations_v2",
        "ALTER TABLE runs RENAME TO runs_v2",
        *DDL_V3[1:],
        """INSERT INTO datasets (fingerprint, name, source, task, n_rows, n_features, metafeatures,
               metafeatures_version, extra, created_at, updated_at)
           SELECT dataset_id, name, coalesce(source, 'local'), task, n_rows, n_features, coalesce(metafeatures, '{}'),
               coalesce(metafeatures_version, ''), coalesce(extra, '{}'), coalesce(created_at, now()::TIMESTAMP),
               coalesce(created_at, now()::TIMESTAMP)
           FROM datasets_v2 ORDER BY created_at, dataset_id""",
        """INSERT INTO configurations SELECT ('0x' || config_id)::UBIGINT, config_json, coalesce(family, 'unknown'),
               coalesce(space_version, ''), coalesce(created_at, now()::TIMESTAMP) FROM configurations_v2""",
        """INSERT INTO runs SELECT r.run_id, coalesce(r.kind, 'fit'), coalesce(r.source, 'local'), r.started_at,
               r.finished_at, r.budget_seconds, coalesce(r.settings, '{}'), coalesce(r.versions, '{}'), r.dataset_id,
               coalesce(r.n_evaluations, (SELECT count(*) FROM evaluations_v2 e WHERE e.run_id = r.run_id)),
               coalesce(r.finished_at, now()::TIMESTAMP)
           FROM runs_v2 r""",
        """INSERT INTO evaluations SELECT e.run_id,
               (row_number() OVER (PARTITION BY e.run_id ORDER BY e.eval_id) - 1)::INTEGER, d.dataset_id,
               ('0x' || e.config_id)::UBIGINT, coalesce(c.family, 'unknown'), coalesce(c.space_version, ''),
               e.fidelity, coalesce(e.protocol, 'unknown'), e.metric,
               e.score, e.loss, coalesce(e.fit_seconds, 0), e.status, e.error, coalesce(e.seed, 0),
               coalesce(e.library_version, ''), coalesce(e.created_at, now()::TIMESTAMP), e.origin
           FROM evaluations_v2 e JOIN datasets d ON d.fingerprint = e.dataset_id
           LEFT JOIN configurations_v2 c ON c.config_id = e.config_id""",
        # evaluations without a known dataset cannot be used: runs count what they really kept
        "UPDATE runs SET n_evaluations = (SELECT count(*) FROM evaluations e WHERE e.run_id = runs.run_id)",
        """INSERT INTO dataset_metrics SELECT dataset_id, metric, count(*) FROM evaluations WHERE status = 'ok'
           GROUP BY dataset_id, metric""",
        "DROP TABLE evaluations_v2",
        "DROP TABLE runs_v2",
        "DROP TABLE configurations_v2",
        "DROP TABLE datasets_v2",
    ],
    3: _V3_TO_V4,
}

__all__ = ["SCHEMA_VERSION", "APP_MARKER", "TABLES", "DDL_V1", "DDL_V3", "DDL_CURRENT", "MIGRATIONS"]
