"""Fixtures for the search tests: small cleaned problems and the test-only faulty family."""
from __future__ import annotations

import pytest

from automl.data import TableEncoder, encode_target
from automl.metrics import get_metric
from automl.models import REGISTRY
from automl.search import SearchProblem
from tests.fixtures.tables import make_dataset


def make_problem(task: str = "binary", n: int = 200, seed: int = 0, n_jobs: int = 1, families=None,
                 metric=None) -> SearchProblem:
    frame = make_dataset(task, n=n, seed=seed)
    X = TableEncoder().fit_transform(frame.drop(columns=["y"]))
    target = encode_target(frame["y"], None)
    return SearchProblem(X, target.y, target.task, get_metric(metric, target.task), seed=seed, n_jobs=n_jobs,
                         families=families)


@pytest.fixture
def faulty_family():
    from tests.search.faulty import FAULTY
    REGISTRY.register(FAULTY)
    try:
        yield FAULTY
    finally:
        REGISTRY.unregister(FAULTY.key)
