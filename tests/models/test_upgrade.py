"""Space version 1 -> 2: real seed rows keep every evaluation; configurations that built the same pipeline
collapse into one id; renamed meanings are translated; the shipped seed is in the current version."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from automl.models import REGISTRY, upgrade_config, upgrade_tables
from automl.space import SPACE_VERSION
from knowledge_base.canonical import config_id

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "seed_v1_sample.json"
SEED = Path(__file__).resolve().parents[2] / "knowledge_base" / "seed"


def test_real_v1_seed_rows_keep_every_evaluation_and_collapse_copies():
    doc = json.loads(SAMPLE.read_text())
    configurations = pd.DataFrame(doc["configurations"]).assign(created_at=pd.Timestamp("2026-11-28"))
    evaluations = pd.DataFrame(doc["evaluations"])
    configs, evals, report = upgrade_tables(configurations, evaluations, doc["tasks"])
    assert report["evaluations_before"] == report["evaluations_after"] == len(evals) == 360
    assert report["dropped"] == {}
    assert sorted(zip(evals.run_id, evals.seq)) == sorted(zip(evaluations.run_id, evaluations.seq))
    assert evals["loss"].equals(evaluations["loss"]) and set(evals.space_version) == {SPACE_VERSION}
    pairs = {(cid, doc["tasks"][fp]) for cid, fp in zip(evaluations.config_id, evaluations.fingerprint)}
    assert len(configs) < len(pairs)  # functionally equal copies became one configuration
    by_id = {cid: json.loads(text) for cid, text in zip(configs.config_id, configs.config)}
    assert set(evals.config_id) == set(by_id)
    for cid, fp in zip(evals.config_id, evals.fingerprint):
        config, task = by_id[cid], doc["tasks"][fp]
        assert config_id(config) == cid and REGISTRY.get(config["family"]).check(config, task) == []


def test_v1_linear_configurations_keep_the_model_they_built():
    v1 = {"family": "linear", "C": 0.5, "alpha": 0.01, "l1_ratio": 0.3, "class_weight": "balanced"}
    assert upgrade_config(v1, "binary") == {"family": "linear", "penalty": "l2", "C": 0.5, "class_weight": "balanced"}
    assert upgrade_config(v1, "regression") == {"family": "linear", "penalty": "elasticnet", "alpha": 0.01,
                                                "l1_ratio": 0.3}
    current = upgrade_config(v1, "regression")
    assert upgrade_config(current, "regression") == current  # idempotent on the current version
    rf = {"family": "random_forest", "n_estimators": 100, "max_features": 0.5, "min_samples_leaf": 1,
          "bootstrap": True, "class_weight": "balanced"}
    assert upgrade_config(rf, "regression") == {**{k: v for k, v in rf.items() if k != "class_weight"},
                                                "max_samples": 1.0}
    assert upgrade_config({"family": "no_such_family"}, "binary") is None


def test_the_shipped_seed_is_in_the_current_space():
    info = json.loads((SEED / "seed_info.json").read_text())
    assert info["space_version"] == SPACE_VERSION
    configs = pq.read_table(SEED / "configurations.parquet").to_pandas()
    evals = pq.read_table(SEED / "evaluations.parquet").to_pandas()
    tasks = dict(zip(*pq.read_table(SEED / "datasets.parquet", columns=["fingerprint", "task"]).to_pandas().T.values))
    assert set(configs.space_version) == set(evals.space_version) == {SPACE_VERSION}
    # the 12,584 the migration from version 1 kept, grown by the pool's top-up (docs/knowledge-base.md)
    assert len(evals) == info["counts"]["evaluations"] == 18156
    by_id = {cid: json.loads(text) for cid, text in zip(configs.config_id, configs.config)}
    for cid, task in {(c, tasks[f]) for c, f in zip(evals.config_id, evals.fingerprint)}:
        assert REGISTRY.get(by_id[cid]["family"]).check(by_id[cid], task) == []
    portfolio = json.loads((SEED / "portfolio.json").read_text())
    assert portfolio["space_version"] == SPACE_VERSION
    for task in ("binary", "multiclass", "regression"):
        assert all(REGISTRY.get(c["family"]).check(c, task) == [] for c in portfolio["portfolios"][task])
