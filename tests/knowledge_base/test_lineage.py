"""Lineage on every store: near copies of one table are one dataset, retrieval counts a lineage once,
and the stored versions of the query's own table come first."""
from __future__ import annotations

import dataclasses

import knowledge_base as kb
from knowledge_base._ingest import NEAR_COPY_DISTANCE
from knowledge_base._retrieval import OWN_HISTORY_N
from tests.knowledge_base.factories import (VERSION, lgbm, make_dataset, make_evaluation, make_metafeatures,
                                            make_run, record)

Q = {"metafeatures_version": VERSION}
LINEAR = {"family": "linear", "C": 1.0}


def others(store, centres) -> None:
    """Datasets of their own lineages, each with two scored configurations."""
    for i, centre in enumerate(centres):
        record(store, f"other{i}", centre, [(lgbm(7 + i), -0.8), (LINEAR, -0.6)], lineage=f"L-other{i}")


def test_lineage_key_is_the_columns_target_and_task_never_the_values():
    columns = {"age": "numeric", "city": "category"}
    key = kb.lineage(columns, "churned", "binary")
    assert kb.lineage(dict(reversed(list(columns.items()))), "churned", "binary") == key  # order does not matter
    assert len({key, kb.lineage({**columns, "age": "category"}, "churned", "binary"),
                kb.lineage({**columns, "plan": "category"}, "churned", "binary"),
                kb.lineage(columns, "left", "binary"), kb.lineage(columns, None, "binary"),
                kb.lineage(columns, "churned", "multiclass")}) == 6


def test_a_near_copy_of_a_lineage_adds_its_evaluations_to_the_stored_dataset(store):
    others(store, range(10, 20))
    record(store, "a", 3.0, [(lgbm(7), -0.9)], lineage="LA")
    fold = make_dataset("a-fold", metafeatures=make_metafeatures(3.0, jitter=0.001, seed=1), lineage="LA")
    assert record(store, "a-fold", 3.0, [(lgbm(15), -0.85)], lineage="LA",
                  metafeatures=fold.metafeatures) == 1
    a = make_dataset("a").fingerprint
    assert store.info()["n_datasets"] == 11
    assert not store.has_dataset(fold.fingerprint)
    assert len(store.evaluations(a)) == 2
    assert store.runs()["fingerprint"].tolist().count(a) == 2
    assert store.check() == []
    # the same point under another lineage, and the same lineage far away, are datasets of their own
    record(store, "b", 3.0, [(lgbm(7), -0.9)], lineage="LB", metafeatures=fold.metafeatures)
    record(store, "a-far", 8.0, [(lgbm(7), -0.9)], lineage="LA")
    assert store.info()["n_datasets"] == 13


def test_near_copy_distance_is_measured_as_retrieval_measures_it(store):
    others(store, range(10, 20))
    record(store, "a", 3.0, [(lgbm(7), -0.9)], lineage="LA")
    near = store.similar(make_metafeatures(3.0, jitter=0.001, seed=1), "binary", k=1, **Q)[0]
    assert near.name == "a" and near.distance < NEAR_COPY_DISTANCE and near.lineage == "LA"


def test_retrieval_counts_a_lineage_once(store):
    others(store, range(10, 20))
    for i, centre in enumerate((3.0, 4.0, 5.0, 6.0, 7.0)):  # five copies of A, apart enough to be stored apart
        record(store, f"a{i}", centre, [(lgbm(31), -0.95)], lineage="LA")
    assert store.info()["n_datasets"] == 15
    query = make_metafeatures(3.2)
    names = [nb.name for nb in store.similar(query, "binary", k=5, **Q)]
    assert names == ["a0", "other0", "other1", "other2", "other3"]
    neighbours, suggestions, _ = store.retrieve(query, "binary", "roc_auc", n=10, k=5, **Q)
    assert [nb.name for nb in neighbours] == names
    sources = {label for s in suggestions for label, *_ in s.sources}
    assert sources == {"a0", "other0", "other1", "other2", "other3"}


def test_the_stored_versions_of_the_query_lineage_come_first(store):
    others(store, range(10, 20))
    record(store, "near", 3.0, [(lgbm(7), -0.95), (LINEAR, -0.5)], lineage="L-near")
    mine = [({"family": "linear", "C": 2.0}, -0.9), (lgbm(63), -0.85), (lgbm(127), -0.8), (lgbm(255), -0.75),
            (lgbm(5), -0.1)]
    record(store, "mine-v1", 15.5, mine, lineage="L-mine")  # far from the query: its lineage brings it first
    query = make_metafeatures(3.0)
    _, plain, _ = store.retrieve(query, "binary", "roc_auc", n=6, k=3, **Q)
    assert plain[0].config == lgbm(7) and {s.origin for s in plain} == {"kb"}
    _, suggestions, prior = store.retrieve(query, "binary", "roc_auc", n=6, k=3, lineage="L-mine", **Q)
    own = [s for s in suggestions if s.origin == kb.records.OWN_HISTORY_ORIGIN]
    assert suggestions[:len(own)] == own and len(own) == OWN_HISTORY_N
    assert [s.config for s in own] == [c for c, _ in mine[:OWN_HISTORY_N]]
    assert suggestions[len(own)].config == lgbm(7) and len(suggestions) <= 6
    assert prior[0].fingerprint == make_dataset("mine-v1").fingerprint


def test_the_own_history_picks_pass_over_what_cannot_run_within_a_trial(store):
    others(store, range(10, 20))
    mine = [({"family": "linear", "C": 2.0}, -0.9), (lgbm(63), -0.85), (lgbm(127), -0.8), (lgbm(255), -0.75),
            (lgbm(5), -0.1)]
    record(store, "mine-v1", 15.5, mine, lineage="L-mine")
    ids = [kb.config_id(c) for c, _ in mine]
    query, kw = make_metafeatures(3.0), dict(n=6, k=3, lineage="L-mine", **Q)

    def own(over: frozenset[str]) -> list[dict]:
        _, suggestions, _ = store.retrieve(query, "binary", "roc_auc", own_over_cap=over, **kw)
        return [s.config for s in suggestions if s.origin == kb.records.OWN_HISTORY_ORIGIN]

    assert store.retrieve(query, "binary", "roc_auc", **kw) == \
        store.retrieve(query, "binary", "roc_auc", own_over_cap=frozenset(), **kw)  # nothing over: unchanged
    assert own(frozenset()) == [c for c, _ in mine[:OWN_HISTORY_N]]
    assert own(frozenset(ids[:1])) == [c for c, _ in mine[1:1 + OWN_HISTORY_N]]  # the best is over: the next ones
    assert own(frozenset(ids[:4])) == [mine[4][0]]  # only one within: that one alone
    assert own(frozenset(ids)) == [mine[0][0]]  # every one over: the best alone


def test_a_lineages_timed_datasets_are_its_rows_of_the_timings(store):
    others(store, range(10, 14))
    record(store, "mine-v1", 3.0, [(lgbm(7), -0.9)], lineage="L-mine")
    untimed = [dataclasses.replace(make_evaluation(lgbm(7), -0.9), fit_seconds=0.0),
               make_evaluation(lgbm(15), None, status="failed", error="boom")]
    store.record_run(make_run("v2"), make_dataset("mine-v2", 5.0, lineage="L-mine"), untimed)  # no timing
    store.record_run(make_run("v3"), make_dataset("mine-v3", 7.0, lineage="L-mine"),
                     [make_evaluation(lgbm(7), -0.9, origin="openml")])  # in the timings (cost priors drop it)
    record(store, "unversioned", 9.0, [(lgbm(7), -0.9)])  # no lineage
    timings = store.timings()
    for lineage in ("L-mine", "L-other0", "L-unknown"):
        rows = sorted(set(timings.loc[timings["lineage"] == lineage, "fingerprint"].astype(str)))
        assert store.lineage_fingerprints(lineage) == rows == kb.KnowledgeBase.lineage_fingerprints(store, lineage)
    assert store.lineage_fingerprints("L-mine") == sorted(make_dataset(n).fingerprint for n in ("mine-v1", "mine-v3"))
    assert store.lineage_fingerprints("L-unknown") == []
