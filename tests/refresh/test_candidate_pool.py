"""The candidate pool grows by appending: the shipped pool keeps its ids and order (so the seed's evaluations still
match), the growth (pipeline-step variants, the optional boosting families where installed) follows, canonical and
unique (that a seed dataset lacks none of them: tests/refresh/test_canonical_configs.py)."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from automl.models import REGISTRY, upgrade_config
from automl.models.steps import SLOTS
from automl.refresh.candidates import (CANDIDATE_LATER_FAMILIES, CANDIDATE_MAX_RELATIVE_COST, CANDIDATES_FILE,
                                       CANDIDATE_STEP_VARIANTS, _step_variant, grown_pool, load_candidates,
                                       load_task_candidates, pool_growth, portfolio_candidates,
                                       task_candidates)
from knowledge_base.canonical import config_id
from tests.conftest import REPO

# sha256 of the space-separated ids of the first pool per task (48 each, as shipped since space version 2): the
# seed's candidate evaluations are stored under these ids, so a grown pool must start with them, in this order
FIRST_POOL = {"binary": (48, "2f536cc2a860e8d9"), "multiclass": (48, "2f536cc2a860e8d9"),
              "regression": (48, "5d8b882c67a5f8c1")}
LATER_REGISTERED = [k for k in CANDIDATE_LATER_FAMILIES if k in REGISTRY]


def _digest(ids: list[str]) -> str:
    return hashlib.sha256(" ".join(ids).encode()).hexdigest()[:16]


def test_the_first_pool_keeps_its_ids_and_order_per_task_and_the_growth_follows():
    pools = load_task_candidates()
    growth = pool_growth()
    for task, (n, digest) in FIRST_POOL.items():
        ids = [config_id(c) for c in pools[task]]
        assert _digest(ids[:n]) == digest, task
        assert ids[n:] == [config_id(c) for c in task_candidates(growth, task)], task
    doc = json.loads(CANDIDATES_FILE.read_text(encoding="utf-8"))
    assert [config_id(c) for c in load_candidates()[:len(doc["configs"])]] == doc["config_ids"]


def test_the_growth_is_canonical_unique_and_varies_one_step_of_a_family_default():
    growth = pool_growth()
    ids = [config_id(c) for c in growth]
    assert len(set(ids)) == len(ids)
    n_variants = sum(len(v) for v in CANDIDATE_STEP_VARIANTS.values())
    assert len(growth) == n_variants + sum(3 + n for k, n in CANDIDATE_LATER_FAMILIES.items() if k in REGISTRY)
    for config in growth:
        family = REGISTRY.get(config["family"])
        assert family.complete(config) == config and not family.check(config), config
        for task in family.tasks:
            assert upgrade_config(upgrade_config(config, task), task) == upgrade_config(config, task)
    for config, variant in zip(growth, [v for vs in CANDIDATE_STEP_VARIANTS.values() for v in vs]):
        default = REGISTRY.get(config["family"]).default_config()
        assert {k: v for k, v in config.items() if k not in SLOTS} == default, config
        assert {k: v for k, v in config.items() if k in SLOTS} == variant, config
    later = growth[n_variants:]
    assert [c["family"] for c in later] == [k for k in LATER_REGISTERED for _ in range(3 + CANDIDATE_LATER_FAMILIES[k])]
    assert all(REGISTRY.get(c["family"]).relative_cost(c) <= CANDIDATE_MAX_RELATIVE_COST for c in later)
    with pytest.raises(ValueError, match="not in family 'knn'"):  # the Nystroem map serves the linear family only
        _step_variant(REGISTRY.get("knn"), {"construction": "nystroem"})


def test_growing_is_idempotent_and_appends_to_a_generated_pool_too():
    shipped, pool = load_candidates(), portfolio_candidates(0)
    assert grown_pool(shipped) == shipped and grown_pool(pool) == pool
    growth = [config_id(c) for c in pool_growth()]
    assert [config_id(c) for c in pool[-len(growth):]] == growth
    assert not {c["family"] for c in pool[:-len(growth)]} & set(CANDIDATE_LATER_FAMILIES)


WITHOUT_BOOST = """
import json, sys
sys.modules["catboost"] = None
sys.modules["xgboost"] = None
from automl.refresh.candidates import load_task_candidates
from knowledge_base.canonical import config_id
print(json.dumps({task: [config_id(c) for c in pool] for task, pool in load_task_candidates().items()}))
"""


@pytest.mark.skipif(not LATER_REGISTERED, reason="neither CatBoost nor XGBoost is installed")
def test_the_boost_families_join_the_pool_only_where_registered():
    done = subprocess.run([sys.executable, "-c", WITHOUT_BOOST], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    without = json.loads(done.stdout.splitlines()[-1])
    for task, pool in load_task_candidates().items():
        assert {c["family"] for c in pool} >= set(LATER_REGISTERED)
        assert without[task] == [config_id(c) for c in pool if c["family"] not in CANDIDATE_LATER_FAMILIES], task
