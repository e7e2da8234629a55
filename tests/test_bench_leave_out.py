"""The benchmarks' leave-one-out: which datasets a measurement leaves out (the measured one and its copies
stored under other names), and the knowledge-base view that hides them from every read, which the estimator
takes as its ``knowledge_base``."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone

import knowledge_base as kb
import metafeatures
from automl import AutoML
from automl.data import TableEncoder
from tests.knowledge_base.factories import VERSION, lgbm, make_dataset, make_metafeatures, make_run, record

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

Q = {"metafeatures_version": VERSION}


def _table(rng, n: int, kind: str) -> pd.DataFrame:
    if kind == "normal":
        frame = pd.DataFrame(rng.normal(size=(n, 5)), columns=[f"f{i}" for i in range(5)])
        return frame.assign(target=(frame.f0 + rng.normal(size=n) > 0).astype(int))
    frame = pd.DataFrame(rng.integers(0, 3, size=(n, 5)), columns=[f"f{i}" for i in range(5)])
    return frame.assign(target=(rng.random(n) < 0.1).astype(int))


def _record(store, folder: Path, name: str, frame: pd.DataFrame) -> None:
    frame.to_csv(folder / f"{name}.tsv.gz", sep="\t", index=False)
    X, y = TableEncoder().fit_transform(frame.drop(columns=["target"])), frame["target"].to_numpy()
    dataset = kb.DatasetRecord(fingerprint=kb.fingerprint(X, y), name=name, source="pmlb", task="binary",
                               n_rows=len(X), n_features=X.shape[1],
                               metafeatures=metafeatures.compute(X, y, "binary"),
                               metafeatures_version=metafeatures.METAFEATURES_VERSION)
    store.record_run(make_run(f"run-{name}"), dataset, [])


def test_leave_one_out_also_leaves_out_copies_of_the_measured_dataset(tmp_path, monkeypatch):
    """PMLB stores some datasets twice (wdbc is breast_cancer_wisconsin, pima is diabetes): measuring one
    while the other is retrievable flatters the warm start. A copy under another name is left out; a
    dataset of the same shape with other contents, and the same data with fewer rows, are not."""
    from bench_search import left_out
    rng = np.random.default_rng(0)
    a = _table(rng, 300, "normal")
    store = kb.open_store(tmp_path / "kb.duckdb", seed_dir=None)
    copy = a[["f4", "f3", "f2", "f1", "f0", "target"]].rename(columns=lambda c: c if c == "target" else c.upper())
    tables = {"a": a, "copy_of_a": copy, "same_shape": _table(rng, 300, "integer"), "fewer_rows": a.iloc[:200],
              "other": _table(rng, 500, "integer")}
    for name, frame in tables.items():
        _record(store, tmp_path, name, frame)
    monkeypatch.setenv("AUTOML_KB", str(tmp_path / "kb.duckdb"))
    task_of = {name: "binary" for name in tables}
    assert left_out(tmp_path, "a", task_of) == ("a", "copy_of_a")
    assert left_out(tmp_path, "same_shape", task_of) == ("same_shape",)


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
    assert set(view.timings()["name"]) == {"other"} and set(store.timings()["name"]) == {"measured", "copy", "other"}
    assert len(view.runs()) == 1 and view.dataset(make_dataset("measured").fingerprint) is None
    assert not view.has_dataset(make_dataset("copy").fingerprint)
    assert view.has_dataset(make_dataset("other").fingerprint)
    assert [n.name for n in store.similar(query, "binary", k=3, **Q)] == ["measured", "copy", "other"]


def test_leave_out_hides_the_named_datasets_from_a_lineages_timed_versions(tmp_path):
    from leave_out import LeaveOut
    store = kb.open_store(tmp_path / "kb.duckdb", seed_dir=None)
    record(store, "measured", 0.0, [(lgbm(7), -0.95)], lineage="L")
    record(store, "other", 3.0, [(lgbm(15), -0.9)], lineage="L")
    view = LeaveOut(store, ("measured",))
    assert store.lineage_fingerprints("L") == sorted(make_dataset(n).fingerprint for n in ("measured", "other"))
    assert view.lineage_fingerprints("L") == [make_dataset("other").fingerprint] == \
        kb.KnowledgeBase.lineage_fingerprints(view, "L")  # as the contract reads it from the view's timings


def test_the_estimator_takes_a_knowledge_base_object(tmp_path):
    store = kb.open_store(tmp_path / "kb.duckdb", seed_dir=None)
    model = AutoML(knowledge_base=store)
    assert model._open_kb() is store
    assert isinstance(clone(model).get_params()["knowledge_base"], kb.KnowledgeBase)
    assert AutoML(knowledge_base=str(tmp_path / "kb.duckdb"))._open_kb().path == store.path
