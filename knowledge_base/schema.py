"""Schema of the store and its migrations. The version lives in the ``meta`` table."""
from __future__ import annotations

SCHEMA_VERSION = 2
APP_MARKER = "automl-knowledge-base"

# Version 1: the first release. Kept verbatim: migration tests create v1 files from it.
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

# MIGRATIONS[v] takes a store from version v to v + 1 (run in one transaction with the version bump).
MIGRATIONS: dict[int, list[str]] = {
    1: [
        "ALTER TABLE evaluations ADD COLUMN origin VARCHAR",
        "ALTER TABLE evaluations ADD COLUMN source VARCHAR",
        "UPDATE evaluations SET source = 'local' WHERE source IS NULL",
    ],
}

TABLES = ("datasets", "configurations", "evaluations", "runs")
