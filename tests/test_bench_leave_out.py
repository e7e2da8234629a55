"""The benchmarks' leave-one-out view: a knowledge base that hides named datasets from every read, which the
estimator takes as its ``knowledge_base``."""
from __future__ import annotations

import sys
from pathlib import Path

from sklearn.base import clone

import knowledge_base as kb
from automl import AutoML
from tests.knowledge_base.factories import VERSION, lgbm, make_dataset, make_metafeatures, record

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

Q = {"metafeatures_version": VERSION}


def test_leave_out_hides_the_named_datasets_from_every_read(tmp_path):
    from leave_out import LeaveOut
    store = kb.open_store(tmp_path / "kb.duckdb", seed_dir=None)
    record(store, "measured", 0.0, [(lgbm(7), -0.95), (lgbm(15), -0.7)])
    record(store, "copy", 0.05, [(lgbm(7), -0.95)])
    record(store, "other", 3.0, [(lgbm(15), -0.9), (lgbm(7), -0.6)])
    view = LeaveOut(store, ("measured", "copy"))
    assert isinstance(view, kb.KnowledgeBase) and view.path == store.path
    query = make_metafeatures(0.0)
    assert [n.name for n in view.similar(query, "binary", k=3, **Q)] == ["other"]
    suggestions = view.suggest(query, "binary", "roc_auc", n=2, **Q)
    assert suggestions and all(label == "other" for s in suggestions for label, *_ in s.sources)
    assert {p.fingerprint for p in view.prior_observations(query, "binary", "roc_auc", **Q)} == \
        {make_dataset("other").fingerprint}
    neighbours, suggested, prior = view.retrieve(query, "binary", "roc_auc", n=2, **Q)
    assert [n.name for n in neighbours] == ["other"] and suggested == suggestions
    assert list(view.datasets()["name"]) == ["other"] and set(view.evaluations()["name"]) == {"other"}
    assert len(view.runs()) == 1 and view.dataset(make_dataset("measured").fingerprint) is None
    assert not view.has_dataset(make_dataset("copy").fingerprint)
    assert view.has_dataset(make_dataset("other").fingerprint)
    assert [n.name for n in store.similar(query, "binary", k=3, **Q)] == ["measured", "copy", "other"]


def test_the_estimator_takes_a_knowledge_base_object(tmp_path):
    store = kb.open_store(tmp_path / "kb.duckdb", seed_dir=None)
    model = AutoML(knowledge_base=store)
    assert model._open_kb() is store
    assert isinstance(clone(model).get_params()["knowledge_base"], kb.KnowledgeBase)
    assert AutoML(knowledge_base=str(tmp_path / "kb.duckdb"))._open_kb().path == store.path
