"""Package rules: imports run metafeatures <- knowledge_base <- automl; the public names exist."""
from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import knowledge_base as kb

REPO = Path(__file__).resolve().parents[2]


@functools.cache
def _loaded_by_reading_a_store() -> frozenset[str]:
    """The modules a fresh interpreter holds once it imported ``knowledge_base`` and read a store (run once)."""
    code = "import sys, knowledge_base as kb; kb.MemoryStore().info(); print(' '.join(sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return frozenset(result.stdout.split())


def test_knowledge_base_never_imports_automl():
    bad = sorted(m for m in _loaded_by_reading_a_store() if m == "automl" or m.startswith("automl."))
    assert not bad, bad
    for path in (REPO / "knowledge_base").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import automl" not in text and "from automl" not in text, path


def test_knowledge_base_loads_without_the_model_libraries():
    """Opening and reading a store (every ``automl kb`` command) does not pay for scikit-learn and scipy (about
    1 CPU s a process): the meta-features' landmarkers are imported when meta-features are computed."""
    assert not {"sklearn", "scipy", "lightgbm"} & _loaded_by_reading_a_store()


def test_public_api():
    for name in ("open_store", "resolve_path", "fingerprint", "records", "KnowledgeBase", "DuckDBStore", "MemoryStore",
                 "KnowledgeBaseError", "SchemaVersionError", "NotAKnowledgeBaseError", "StoreBusyError",
                 "DatasetRecord", "EvaluationRecord", "RunRecord", "SCHEMA_VERSION"):
        assert hasattr(kb, name), name
    assert issubclass(kb.DuckDBStore, kb.KnowledgeBase) and issubclass(kb.MemoryStore, kb.KnowledgeBase)
    for cls in (kb.NotAKnowledgeBaseError, kb.DamagedStoreError, kb.SchemaVersionError, kb.StoreBusyError):
        assert issubclass(cls, kb.KnowledgeBaseError)
    assert kb.NotAKnowledgeBaseError.exit_code == kb.SchemaVersionError.exit_code == 2
    assert kb.StoreBusyError.exit_code == kb.KnowledgeBaseError.exit_code == 1
    assert kb.records.EvaluationRecord is kb.EvaluationRecord
