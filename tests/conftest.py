"""Shared test setup: every test gets its own knowledge-base path; trials use one thread."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
PMLB = REPO.parent / "shared" / "datasets" / "pmlb"
EXAMPLE = REPO / "examples" / "customers.csv"


@pytest.fixture(autouse=True)
def _isolated_kb(tmp_path, monkeypatch):
    """Never touch the user's store: AUTOML_KB points into the test's temporary folder."""
    monkeypatch.setenv("AUTOML_KB", str(tmp_path / "kb" / "kb.duckdb"))
    yield


@pytest.fixture
def pmlb_dir() -> Path:
    if not (PMLB / "summary.csv").exists():
        pytest.skip(f"PMLB datasets not found at {PMLB}")
    return PMLB


@pytest.fixture
def faulty_family():
    """The test-only family whose trials fail on purpose, registered for one test."""
    from automl.models import REGISTRY
    from tests.fixtures.faulty_family import FAULTY
    REGISTRY.register(FAULTY)
    try:
        yield FAULTY
    finally:
        REGISTRY.unregister(FAULTY.key)
