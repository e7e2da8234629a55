"""Factories for the knowledge-base tests: synthetic meta-features, records and stores."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import numpy as np
import knowledge_base as kb

VERSION = "synthetic-1"  # meta-feature version of the synthetic datasets (queries pass it explicitly)
NAMES = tuple(f"mf_{i:02d}" for i in range(12))
NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def make_metafeatures(centre: float, *, jitter: float = 0.0, seed: int = 0, names=NAMES) -> dict[str, float]:
    """A point of the synthetic meta-feature space: feature i = centre + i / 10 (+ noise)."""
    rng = np.random.default_rng(seed)
    return {n: float(centre + i / 10 + jitter * rng.normal()) for i, n in enumerate(names)}


def make_dataset(name: str, centre: float = 0.0, *, task: str = "binary", source: str = "test",
                 version: str = VERSION, fingerprint: str | None = None, **kw) -> kb.DatasetRecord:
    fp = fingerprint or hashlib.sha256(name.encode()).hexdigest()[:32]
    return kb.DatasetRecord(fingerprint=fp, name=name, source=source, task=task, n_rows=kw.pop("n_rows", 100),
                            n_features=kw.pop("n_features", 5),
                            metafeatures=kw.pop("metafeatures", None) or make_metafeatures(centre),
                            metafeatures_version=version, **kw)


def make_evaluation(config: dict, loss: float | None = -0.8, *, metric: str = "roc_auc", fidelity: float = 1.0,
                    status: str = "ok", error: str | None = None, space_version: str = "1",
                    origin: str | None = "test") -> kb.EvaluationRecord:
    return kb.EvaluationRecord(config=config, family=config["family"], space_version=space_version,
                               fidelity=fidelity, protocol="cv5", metric=metric,
                               score=None if loss is None else -loss, loss=loss, fit_seconds=0.25, status=status,
                               error=error, seed=0, library_version="test", created_at=NOW, origin=origin)


def make_run(run_id: str, kind: str = "fit", **settings) -> kb.RunRecord:
    return kb.RunRecord(run_id=run_id, kind=kind, started_at=NOW, finished_at=NOW, budget_seconds=10.0,
                        settings=settings, versions={"test": "1"})


def record(store, name: str, centre: float, configs_losses, *, metric: str = "roc_auc", task: str = "binary",
           fidelity: float = 1.0, run_id: str | None = None, **dataset_kw) -> int:
    """One run on dataset ``name`` with one evaluation per ``(config, loss)``."""
    evaluations = [make_evaluation(c, loss, metric=metric, fidelity=fidelity) for c, loss in configs_losses]
    return store.record_run(make_run(run_id or f"run-{name}-{metric}-{fidelity}"),
                            make_dataset(name, centre, task=task, **dataset_kw), evaluations)


def lgbm(leaves: int = 31, lr: float = 0.1) -> dict:
    return {"family": "lightgbm", "num_leaves": leaves, "learning_rate": lr}
