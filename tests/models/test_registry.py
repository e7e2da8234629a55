"""The model registry: explicit order, refused duplicates, helpful lookups, a test-only family."""
from __future__ import annotations

import pytest

from automl.exceptions import InputError
from automl.models import REGISTRY, Family, Registry
from automl.space import Float


def _family(key="toy", tasks=("binary",)):
    return Family(key, tasks, (Float("x", 0.0, 1.0, 0.5),), lambda config, task, n, k, seed: None)


def test_builtin_families_in_order():
    assert REGISTRY.keys()[:7] == ["lightgbm", "linear", "extra_trees", "random_forest", "knn", "mlp", "svm"]
    assert REGISTRY.get("lightgbm").iterations == "n_estimators"


def test_duplicate_keys_are_refused_and_unknown_keys_list_the_valid_ones():
    registry = Registry()
    registry.register(_family())
    with pytest.raises(ValueError, match="already registered"):
        registry.register(_family())
    with pytest.raises(InputError, match="valid: toy"):
        registry.get("nope")
    with pytest.raises(TypeError):
        registry.register("toy")  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs, message", [
    ({"key": "not a key"}, "identifier"),
    ({"tasks": ("ranking",)}, "tasks"),
])
def test_family_declarations_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _family(**kwargs)


def test_task_and_size_filter():
    small_only = {f.key for f in REGISTRY.for_task("binary", 100)} - {f.key for f in REGISTRY.for_task("binary", 10**6)}
    assert {"knn", "mlp", "svm"} <= small_only
    assert all("regression" in f.tasks for f in REGISTRY.for_task("regression", 100))


def test_a_user_family_is_registered_shipped_and_removed(faulty_family):
    assert faulty_family.key in REGISTRY
    assert faulty_family in REGISTRY.user_families()
    assert all(f.key != "lightgbm" for f in REGISTRY.user_families())
