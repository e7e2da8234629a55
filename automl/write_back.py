"""The last step of a fit: what it learned, written to the knowledge base in one ``record_run`` (one
transaction): the table (meta-features, fingerprint, lineage), every trial it ran (not those replayed from
the search it resumed: their own run wrote them) and the run's settings."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from .kb_records import evaluation_record
from .metrics import get_metric

if TYPE_CHECKING:
    from knowledge_base.records import DatasetRecord, RunRecord

    from .estimator import AutoMLBase
    from .warm_start import WarmStart

log = logging.getLogger("automl")


def write_back(est: "AutoMLBase", warm: "WarmStart", started_at: datetime) -> int:
    """Write the fitted ``est``'s run; returns the number of evaluations written. Nothing is written (0)
    without meta-features or trials, when the validation score is perfect (a leak of the target rather than
    evidence of what works), or, with a warning, when the store cannot be written."""
    if warm.metafeatures is None or not est.trials_:
        return 0
    if get_metric(est.metric, est.task_).is_perfect(est.best_score_):
        log.warning("nothing written to the knowledge base: the validation %s is perfect (%g), which points "
                    "to a leak of the target rather than evidence of what works", est.metric_, est.best_score_)
        return 0
    import knowledge_base as kb

    from .space import SPACE_VERSION
    dataset = _dataset_record(est, warm)
    evaluations = [evaluation_record(t, space_version=SPACE_VERSION, protocol=str(est.validation_ or "unknown"),
                                     metric=est.metric_, seed=est.seed)
                   for t in est.trials_ if not t.get("replayed")]
    run = _run_record(est, started_at)
    try:
        return int(est._open_kb().record_run(run, dataset, evaluations))
    except kb.KnowledgeBaseError as exc:
        log.warning("could not write the evaluations back to the knowledge base: %s", exc)
        return 0


def _dataset_record(est: "AutoMLBase", warm: "WarmStart") -> "DatasetRecord":
    import knowledge_base as kb
    import metafeatures
    return kb.records.DatasetRecord(
        fingerprint=warm.fingerprint, name=None, source="local", task=est.task_,
        n_rows=est.fit_info_["n_rows"], n_features=est.fit_info_["n_features"],
        metafeatures=warm.metafeatures, metafeatures_version=metafeatures.METAFEATURES_VERSION,
        lineage=warm.lineage)


def _run_record(est: "AutoMLBase", started_at: datetime) -> "RunRecord":
    import knowledge_base as kb
    info = est.fit_info_
    return kb.records.RunRecord(
        run_id=est.run_id_, kind="fit", started_at=started_at, finished_at=datetime.now(timezone.utc),
        budget_seconds=float(est.time_budget),
        settings={"metric": est.metric_, "task": est.task_, "strategy": info["strategy"],
                  "seed": int(est.seed), "max_trials": est.max_trials, "n_jobs": info["n_jobs"],
                  "families": list(est.families_) if est.families_ else None,
                  "options": info["options"], "resumed_from": est.resumed_from_,
                  "sample_weight": info["sample_weight"],
                  "class_distribution": est.class_distribution_,
                  "decision_threshold": est.decision_threshold_,
                  "validation": info["validation"]},
        versions=info["versions"])


__all__ = ["write_back"]
