"""Store fixtures: every implementation of the contract, empty, in a temporary folder."""
from __future__ import annotations

import pytest

import knowledge_base as kb


@pytest.fixture(params=["duckdb", "memory"])
def store(request, tmp_path):
    """Every implementation of the store contract, empty."""
    if request.param == "duckdb":
        yield kb.open_store(tmp_path / "kb.duckdb", seed_dir=None)
    else:
        memory = kb.MemoryStore()
        yield memory
        memory.close()


@pytest.fixture
def duck(tmp_path):
    return kb.open_store(tmp_path / "kb.duckdb", seed_dir=None)
