"""The conditional space: conditions decide which parameters a configuration holds, and every path that
makes or encodes a configuration (sampling, defaults, mutation, neighbours, the surrogate) respects them."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from automl.models import REGISTRY
from automl.search.samplers import BOSampler, Encoder, RandomSampler
from automl.search.history import History
from automl.space import (INACTIVE, Categorical, Condition, Float, active, canonical, check_config, encode_params,
                          mutate_params, neighbours, param_from_json, param_to_json, sample_params, snap_unit)
from knowledge_base.canonical import config_id

PARAMS = (
    Categorical("penalty", ("l2", "l1", "elasticnet"), "l2"),
    Float("C", 1e-3, 100.0, 1.0, log=True, condition=Condition(tasks=("binary", "multiclass"))),
    Float("alpha", 1e-5, 10.0, 1e-3, log=True, condition=Condition(tasks=("regression",))),
    Float("l1_ratio", 0.0, 1.0, 0.5, condition=Condition(parent="penalty", values=("elasticnet",))),
    Categorical("bootstrap", (True, False), True),
    Float("max_samples", 0.3, 1.0, 1.0, condition=Condition(parent="bootstrap")),
)
TASKS = ("binary", "multiclass", "regression")


def test_active_follows_the_task_and_the_parent_value():
    config = {"penalty": "l2", "C": 2.0, "alpha": 0.1, "l1_ratio": 0.3, "bootstrap": False, "max_samples": 0.5}
    assert canonical(PARAMS, config, "binary") == {"penalty": "l2", "C": 2.0, "bootstrap": False}
    assert canonical(PARAMS, config, "regression") == {"penalty": "l2", "alpha": 0.1, "bootstrap": False}
    enet = {**config, "penalty": "elasticnet", "bootstrap": True}
    assert active(PARAMS, enet, "binary") == [True, True, False, True, True, True]
    # functionally equal configurations (they differ in inactive values only) share one id
    other = {**config, "alpha": 5.0, "l1_ratio": 0.9, "max_samples": 0.9}
    assert config_id(canonical(PARAMS, other, "binary")) == config_id(canonical(PARAMS, config, "binary"))
    assert check_config(PARAMS, config, "binary") == ["parameter 'alpha' is inactive here",
                                                      "parameter 'l1_ratio' is inactive here",
                                                      "parameter 'max_samples' is inactive here"]


def test_conditions_round_trip_through_json_and_are_validated():
    for p in PARAMS:
        assert param_from_json(json.loads(json.dumps(param_to_json(p)))) == p
    assert "condition" not in param_to_json(PARAMS[0])
    with pytest.raises(ValueError, match="not an earlier parameter"):
        REGISTRY.get("linear").__class__("x", ("binary",), PARAMS[3:4], lambda *a: None)
    with pytest.raises(ValueError, match="outside"):
        REGISTRY.get("linear").__class__("x", ("binary",), (PARAMS[0], Float(
            "r", 0.0, 1.0, 0.5, condition=Condition(parent="penalty", values=("l3",)))), lambda *a: None)
    with pytest.raises(ValueError, match="needs tasks"):
        Condition()


@pytest.mark.parametrize("task", TASKS)
def test_sampling_mutation_and_neighbours_never_hold_an_inactive_parameter(task):
    rng = np.random.default_rng(0)
    for _ in range(200):
        config = sample_params(PARAMS, rng, task)
        assert check_config(PARAMS, config, task) == []
        moved = mutate_params(PARAMS, config, rng, task=task)
        assert check_config(PARAMS, moved, task) == [] and moved == canonical(PARAMS, moved, task)
        for n in neighbours(PARAMS, config, rng, n=2, task=task):
            assert check_config(PARAMS, n, task) == []
    for key in REGISTRY.keys():
        family = REGISTRY.get(key)
        for _ in range(30):
            config = family.sample(rng, task)
            assert family.check(config, task) == []
            assert family.check(family.mutate(config, rng, task), task) == []
            assert all(family.check(c, task) == [] for c in family.neighbours(config, rng, task=task))
        assert family.check(family.default_config(task), task) == []


@pytest.mark.parametrize("task", TASKS)
def test_inactive_parameters_encode_as_the_sentinel_outside_the_cube(task):
    config = {"penalty": "elasticnet", "C": 1.0, "alpha": 1e-3, "l1_ratio": 0.2, "bootstrap": False}
    vec = encode_params(PARAMS, config, task)
    assert vec[4] == 0.75 and vec[5] == INACTIVE  # bootstrap False: max_samples off
    assert (vec[1] == INACTIVE) == (task == "regression") and (vec[2] == INACTIVE) != (task == "regression")
    assert 0.0 <= vec[3] <= 1.0
    U = snap_unit(PARAMS, np.random.default_rng(1).random((300, len(PARAMS))), task)
    for u in U:  # the candidates a surrogate scores: inactive columns at the sentinel, others decode back
        config = canonical(PARAMS, {p.name: p.from_unit(x) for p, x in zip(PARAMS, u)}, task)
        assert np.allclose(encode_params(PARAMS, config, task), u)


def test_samplers_propose_canonical_configurations_for_their_task():
    families = [REGISTRY.get(k) for k in ("linear", "svm", "random_forest")]
    for task in TASKS:
        rng = np.random.default_rng(3)
        random = RandomSampler(families, rng, task)
        for _ in range(40):
            config, _ = random.propose(History())
            assert REGISTRY.get(config["family"]).check(config, task) == []
        bo = BOSampler(families, rng, (), random_share=0.0, task=task)
        V = bo.candidate_vectors(History())
        encoder = Encoder(families, task)
        for v in V[:60]:
            config = encoder.decode(v)
            assert REGISTRY.get(config["family"]).check(config, task) == []
            assert np.allclose(encoder.encode(config, 1.0), v)


def test_a_family_without_conditions_behaves_as_before():
    # k-NN's own parameters carry no condition (its pipeline-step choices do: automl.models.steps)
    family = dataclasses.replace(REGISTRY.get("knn"), steps=())
    rng = np.random.default_rng(0)
    assert family.default_config() == family.default_config("regression")
    assert set(family.sample(rng)) == {"family", "n_neighbors", "weights", "p"}
