"""Search-space primitives: validation, JSON round trip, unit-cube encoding, sampling, canonical ids."""
from __future__ import annotations

import json

import numpy as np
import pytest

from automl.models import REGISTRY
from automl.space import (SPACE_VERSION, Categorical, Float, Int, check_config, encode_params, neighbours,
                          param_from_json, param_to_json, sample_params, space_from_json, space_to_json)
from knowledge_base.canonical import config_id


@pytest.mark.parametrize("make, message", [
    (lambda: Float("lr", 0.3, 0.01, 0.1), "low < high"),
    (lambda: Float("lr", 0.0, 1.0, 0.5, log=True), "log scale"),
    (lambda: Float("lr", 0.01, 0.3, 0.5), "default"),
    (lambda: Float("lr", 0.01, float("nan"), 0.1), "finite"),
    (lambda: Float("", 0.0, 1.0, 0.5), "identifier"),
    (lambda: Int("k", 1, 10, 2.5), "integer"),
    (lambda: Int("k", 0, 10, 3, log=True), "log scale"),
    (lambda: Categorical("c", (), None), "non-empty"),
    (lambda: Categorical("c", ("a", "a"), "a"), "distinct"),
    (lambda: Categorical("c", ("a", "b"), "z"), "default"),
    (lambda: Categorical("c", ([1], 2), 2), "JSON scalars"),
])
def test_invalid_domains_are_refused_with_a_message(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_domains_are_frozen():
    p = Float("lr", 0.01, 0.3, 0.1, log=True)
    with pytest.raises(Exception):
        p.low = 0.5  # type: ignore[misc]


@pytest.mark.parametrize("family", REGISTRY.keys())
def test_every_family_space_round_trips_through_json(family):
    params = REGISTRY.get(family).params
    for p in params:
        assert param_from_json(json.loads(json.dumps(param_to_json(p)))) == p
    doc = json.loads(json.dumps(space_to_json([REGISTRY.get(family)])))
    assert doc["version"] == SPACE_VERSION
    assert space_from_json(doc)[family] == params


def test_space_of_another_version_is_refused():
    doc = space_to_json([REGISTRY.get("knn")])
    doc["version"] = "0"
    with pytest.raises(ValueError, match="version"):
        space_from_json(doc)


def test_log_scale_and_integer_encoding():
    lr = Float("lr", 0.001, 1.0, 0.01, log=True)
    assert lr.to_unit(0.001) == pytest.approx(0.0) and lr.to_unit(1.0) == pytest.approx(1.0)
    assert lr.to_unit(np.sqrt(0.001)) == pytest.approx(0.5)  # geometric midpoint
    k = Int("k", 1, 4, 1)
    assert [k.from_unit(u) for u in (0.0, 0.3, 0.6, 0.99, 1.0)] == [1, 2, 3, 4, 4]
    assert all(k.from_unit(k.to_unit(v)) == v for v in range(1, 5))
    c = Categorical("c", ("a", "b", "c"), "a")
    assert all(c.from_unit(c.to_unit(v)) == v for v in c.choices)


def test_sampling_is_seeded_and_inside_the_domain():
    params = REGISTRY.get("lightgbm").params
    a = [sample_params(params, np.random.default_rng(3)) for _ in range(2)]
    assert a[0] == a[1]
    for _ in range(50):
        config = sample_params(params, np.random.default_rng(_))
        assert check_config(params, config) == []
        vec = encode_params(params, config)
        assert all(0.0 <= v <= 1.0 for v in vec)


def test_neighbours_change_exactly_one_value():
    params = REGISTRY.get("random_forest").params
    base = REGISTRY.get("random_forest").default_config()
    base.pop("family")
    found = neighbours(params, base, np.random.default_rng(0), n=2)
    assert found
    for config in found:
        changed = {k for k in base.keys() & config.keys() if config[k] != base[k]}
        assert len(changed) == 1
        if changed != {"bootstrap"}:  # only bootstrap switches another parameter (max_samples) on or off
            assert config.keys() == base.keys()
        assert check_config(params, config) == []


def test_complete_fills_defaults_drops_unknown_keys_and_clips():
    family = REGISTRY.get("lightgbm")
    config = family.complete({"family": "lightgbm", "learning_rate": 5.0, "num_leaves": 31.0, "bogus": 1,
                              "class_weight": "sometimes"})
    assert family.check(config) == []
    assert config["learning_rate"] == 0.3 and config["num_leaves"] == 31 and isinstance(config["num_leaves"], int)
    assert config["class_weight"] == "none" and "bogus" not in config
    assert family.check({"num_leaves": 1000, "bogus": 1}) == ["unknown parameter 'bogus'",
                                                               "num_leaves=1000 is outside its domain"]


def test_canonical_id_is_stable():
    config = {"family": "lightgbm", "learning_rate": 0.05, "num_leaves": 15}
    assert config_id(config) == "1619d308a68acb0b"  # golden: ids are keys in every knowledge base
    assert config_id(dict(reversed(list(config.items())))) == config_id(config)
    assert config_id({**config, "learning_rate": 0.05 + 1e-15}) == config_id(config)
    assert config_id({**config, "num_leaves": 16}) != config_id(config)
    # a completed configuration has one id, whatever the order its values arrived in
    family = REGISTRY.get("lightgbm")
    assert config_id(family.complete(config)) == config_id(family.complete(dict(reversed(list(config.items())))))


@pytest.mark.parametrize("family", REGISTRY.keys())
def test_snapped_unit_points_decode_and_encode_back_exactly(family):
    from automl.space import decode_params, snap_unit
    params = REGISTRY.get(family).params
    U = snap_unit(params, np.random.default_rng(0).random((200, len(params))))
    for u in U:
        config = decode_params(params, u)
        assert check_config(params, config) == []
        assert np.allclose(encode_params(params, config), u, atol=1e-9)
