"""Integrity of a store: what ``check()`` verifies and what ``compact()`` repairs.

Every check counts rows that break an invariant the writers keep (references, per-run and
per-metric counts, uniqueness of natural keys, one up-to-date vector per dataset), and every
configuration id must be the hash of its canonical JSON (re-hashed up to ``HASH_CHECK_SAMPLE``
configurations, else a repeatable sample).
"""
from __future__ import annotations

import json

from .canonical import config_id

HASH_CHECK_SAMPLE = 50_000

_CHECKS = [  # (a count of problems, what they are)
    ("SELECT count(*) FROM evaluations WHERE dataset_id NOT IN (SELECT dataset_id FROM datasets)",
     "evaluation(s) refer to a missing dataset"),
    ("SELECT count(*) FROM evaluations WHERE config_key NOT IN (SELECT config_key FROM configurations)",
     "evaluation(s) refer to a missing configuration"),
    ("SELECT count(*) FROM evaluations e JOIN configurations c USING (config_key) WHERE e.family <> c.family",
     "evaluation(s) whose family differs from their configuration's"),
    ("SELECT count(*) FROM (SELECT dataset_id, metric, count(*) AS n FROM evaluations WHERE status = 'ok' "
     "GROUP BY ALL) e FULL JOIN dataset_metrics m USING (dataset_id, metric) WHERE e.n IS DISTINCT FROM m.n_ok",
     "dataset/metric count(s) out of step with the evaluations"),
    ("SELECT count(*) FROM evaluations WHERE run_id NOT IN (SELECT run_id FROM runs)",
     "evaluation(s) belong to no run"),
    ("SELECT count(*) FROM runs r LEFT JOIN (SELECT run_id, count(*) AS n FROM evaluations GROUP BY run_id) e "
     "USING (run_id) WHERE coalesce(e.n, 0) <> r.n_evaluations",
     "run(s) whose stored evaluations do not match their count (a partial write)"),
    ("SELECT count(*) - count(DISTINCT (run_id, seq)) FROM evaluations", "duplicate evaluation(s)"),
    ("SELECT count(*) FROM evaluations WHERE status NOT IN ('ok', 'failed', 'timeout') OR NOT (fidelity > 0 "
     "AND fidelity <= 1)", "evaluation(s) with an invalid status or fidelity"),
    ("SELECT count(*) - count(DISTINCT fingerprint) FROM datasets", "duplicate dataset fingerprint(s)"),
    ("SELECT count(*) - count(DISTINCT dataset_id) FROM datasets", "duplicate dataset id(s)"),
    ("SELECT count(*) - count(DISTINCT config_key) FROM configurations", "duplicate configuration(s)"),
    ("SELECT count(*) - count(DISTINCT run_id) FROM runs", "duplicate run(s)"),
    ("SELECT count(*) - count(DISTINCT (dataset_id, metric)) FROM dataset_metrics",
     "duplicate dataset/metric count(s)"),
    ("SELECT count(*) FROM datasets d WHERE EXISTS (SELECT 1 FROM scalers s WHERE s.metafeatures_version = "
     "d.metafeatures_version) AND NOT EXISTS (SELECT 1 FROM vectors v WHERE v.dataset_id = d.dataset_id)",
     "dataset(s) without a meta-feature vector"),
    ("SELECT count(*) - count(DISTINCT dataset_id) FROM vectors", "duplicate meta-feature vector(s)"),
    ("SELECT count(*) FROM vectors WHERE scaler_id NOT IN (SELECT scaler_id FROM scalers)",
     "vector(s) scaled by an unknown scaler"),
    ("SELECT count(*) FROM vectors v JOIN datasets d USING (dataset_id) WHERE v.scaler_id <> "
     "(SELECT max(s.scaler_id) FROM scalers s WHERE s.metafeatures_version = d.metafeatures_version)",
     "vector(s) scaled by an outdated scaler"),
]


def integrity_problems(con) -> list[str]:
    """Integrity problems, one line each (empty when consistent)."""
    problems = [f"{n} {text}" for sql, text in _CHECKS if (n := int(con.execute(sql).fetchall()[0][0]))]
    bad, sampled = _misnamed_configurations(con)
    if bad:
        where = f" (in a sample of {HASH_CHECK_SAMPLE})" if sampled else ""
        problems.append(f"{bad} configuration(s) whose id is not the hash of their canonical JSON{where}")
    return problems


def _misnamed_configurations(con) -> tuple[int, bool]:
    """How many configurations' ids are not the hash of their JSON, and whether only a sample was read."""
    n_configs = int(con.execute("SELECT count(*) FROM configurations").fetchall()[0][0])
    sampled = n_configs > HASH_CHECK_SAMPLE
    sample = f" USING SAMPLE reservoir({HASH_CHECK_SAMPLE} ROWS) REPEATABLE (0)" if sampled else ""  # constants only
    bad = 0
    for cid, text in con.execute(f"SELECT printf('%016x', config_key), config FROM configurations{sample}").fetchall():
        try:
            if config_id(json.loads(text)) != cid:
                bad += 1
        except (ValueError, TypeError):
            bad += 1
    return bad, sampled


def remove_orphans(con) -> int:
    """Inside the caller's transaction: drop evaluations and vectors that lost their dataset or
    configuration and recount ``dataset_metrics``; returns the evaluations removed."""
    orphans = con.execute(
        "DELETE FROM evaluations WHERE dataset_id NOT IN (SELECT dataset_id FROM datasets) "
        "OR config_key NOT IN (SELECT config_key FROM configurations)").fetchall()[0][0]
    con.execute("DELETE FROM vectors WHERE dataset_id NOT IN (SELECT dataset_id FROM datasets)")
    con.execute("DELETE FROM dataset_metrics")
    con.execute("INSERT INTO dataset_metrics SELECT dataset_id, metric, count(*) FROM evaluations "
                "WHERE status = 'ok' GROUP BY ALL")
    return int(orphans)
