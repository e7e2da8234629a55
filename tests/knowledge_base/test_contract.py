"""Conformance suite: the store contract, run on every implementation (DuckDB file, in memory)."""
from __future__ import annotations

import dataclasses
import math

import pytest

import knowledge_base as kb
from tests.knowledge_base.factories import (NAMES, VERSION, lgbm, make_dataset, make_evaluation, make_metafeatures,
                                            make_run, record)

Q = {"metafeatures_version": VERSION}


def counts(store) -> tuple[int, int, int, int]:
    info = store.info()
    return info["n_datasets"], info["n_configurations"], info["n_evaluations"], info["n_runs"]


def test_empty_store_info(store):
    info = store.info()
    assert counts(store) == (0, 0, 0, 0)
    assert info["schema_version"] == kb.SCHEMA_VERSION and info["by_task"] == {} and info["pending_staged"] == 0
    assert store.similar(make_metafeatures(0), "binary", **Q) == []
    assert store.suggest(make_metafeatures(0), "binary", "roc_auc", **Q) == []
    assert store.check() == []


def test_record_run_is_one_idempotent_write(store):
    evaluations = [make_evaluation(lgbm(leaves), -0.9 + leaves / 1000) for leaves in (7, 15, 31)]
    dataset = make_dataset("iris")
    assert store.record_run(make_run("r1"), dataset, evaluations) == 3
    assert store.record_run(make_run("r1"), dataset, evaluations) == 0  # same run id: nothing added
    assert counts(store) == (1, 3, 3, 1)
    assert store.check() == []


def test_same_data_is_one_dataset_and_same_config_is_one_row(store):
    config = lgbm(31)
    record(store, "a", 0.0, [(config, -0.8), (dict(config), -0.81)], run_id="first")
    record(store, "a", 0.0, [(dict(reversed(list(config.items()))), -0.79)], run_id="second")
    assert counts(store) == (1, 1, 3, 2)
    evals = store.evaluations()
    assert evals["config_id"].nunique() == 1 and evals["config_id"].iloc[0] == kb.config_id(config)


def test_dataset_upsert_keeps_name_and_takes_newer_metafeatures(store):
    store.record_run(make_run("r1"), make_dataset("named", 0.0, fingerprint="f" * 32), [])
    newer = kb.DatasetRecord(fingerprint="f" * 32, name=None, source="local", task="binary", n_rows=100,
                             n_features=5, metafeatures=make_metafeatures(5.0), metafeatures_version="synthetic-2")
    store.record_run(make_run("r2"), newer, [])
    got = store.dataset("f" * 32)
    assert got.name == "named" and got.source == "test"  # an unnamed record keeps name and source
    assert got.metafeatures_version == "synthetic-2" and got.metafeatures[NAMES[0]] == pytest.approx(5.0)
    assert store.has_dataset("f" * 32) and store.has_dataset("f" * 32, metafeatures_version="synthetic-2")
    assert not store.has_dataset("f" * 32, metafeatures_version=VERSION)
    assert not store.has_dataset("0" * 32)


def test_has_dataset_by_space_version(store):
    record(store, "a", 0.0, [(lgbm(), -0.8)])
    fp = make_dataset("a").fingerprint
    assert store.has_dataset(fp, space_version="1") and not store.has_dataset(fp, space_version="2")


@pytest.mark.parametrize("field, value", [("status", "crashed"), ("fidelity", 0.0), ("fidelity", 1.5),
                                          ("family", "")])
def test_invalid_evaluations_are_refused(field, value):
    fields = dict(config=lgbm(), family="lightgbm", space_version="1", fidelity=1.0, protocol="cv5",
                  metric="roc_auc", score=0.9, loss=-0.9, fit_seconds=1.0, status="ok", error=None, seed=0,
                  library_version="t")
    fields[field] = value
    with pytest.raises(kb.InvalidRecordError, match=field):
        kb.EvaluationRecord(**fields)


def test_invalid_writes_are_refused_and_write_nothing(store):
    with pytest.raises(kb.InvalidRecordError, match="task"):
        make_dataset("x", task="clustering")
    with pytest.raises(kb.InvalidRecordError, match="dataset"):
        store.record_run(make_run("r"), None, [make_evaluation(lgbm())])
    with pytest.raises(kb.InvalidRecordError, match="plain JSON"):
        store.record_run(make_run("r"), make_dataset("x"), [make_evaluation({"family": "lightgbm", "f": object()})])
    assert counts(store) == (0, 0, 0, 0)


def test_failures_are_kept_with_their_error_and_never_scored(store):
    evals = [make_evaluation(lgbm(7), -0.9), make_evaluation(lgbm(200), None, status="failed", error="boom\nline 2"),
             make_evaluation(lgbm(300), None, status="timeout", error="over 60s")]
    store.record_run(make_run("r"), make_dataset("a"), evals)
    frame = store.evaluations()
    assert sorted(frame["status"]) == ["failed", "ok", "timeout"]
    assert frame.set_index("status").loc["failed", "error"] == "boom\nline 2"
    suggested = store.suggest(make_metafeatures(0), "binary", "roc_auc", **Q)
    assert [s.config["num_leaves"] for s in suggested] == [7]
    assert {p.config_id for p in store.prior_observations(make_metafeatures(0), "binary", "roc_auc", **Q)} == \
        {kb.config_id(lgbm(7))}


def test_similar_nearest_first_same_task_and_exclusions(store):
    for i, centre in enumerate([0.0, 1.0, 3.0, 10.0]):
        record(store, f"d{centre}", centre, [(lgbm(), -0.8)])
    record(store, "regr", 0.0, [(lgbm(), 1.0)], task="regression", metric="rmse")
    query = make_metafeatures(0.9, jitter=0.01, seed=1)
    near = store.similar(query, "binary", k=3, **Q)
    assert [n.name for n in near] == ["d1.0", "d0.0", "d3.0"]
    assert near[0].distance < near[1].distance < near[2].distance
    assert all(0 < n.similarity <= 1 for n in near) and near[0].similarity > near[1].similarity
    assert near[0].similarity == pytest.approx(math.exp(-near[0].distance))
    assert [n.name for n in store.similar(query, "regression", **Q)] == ["regr"]
    fp = make_dataset("d1.0").fingerprint
    assert store.similar(query, "binary", k=1, exclude_fingerprint=fp, **Q)[0].name == "d0.0"
    assert store.similar(query, "binary", k=1, exclude_names=["d1.0"], **Q)[0].name == "d0.0"
    assert store.similar(query, "binary", k=2, metafeatures_version="another") == []


def test_suggest_ranks_by_similarity_weighted_normalised_score(store):
    good_here, good_there = lgbm(15), {"family": "linear", "C": 1.0}
    record(store, "here", 0.0, [(good_here, -0.95), (good_there, -0.70)])
    record(store, "there", 8.0, [(good_here, -0.60), (good_there, -0.99)])
    near_here = store.suggest(make_metafeatures(0.0), "binary", "roc_auc", n=2, k=2, **Q)
    near_there = store.suggest(make_metafeatures(8.0), "binary", "roc_auc", n=2, k=2, **Q)
    assert [s.config for s in near_here] == [good_here, good_there]
    assert [s.config for s in near_there] == [good_there, good_here]
    top = near_here[0]
    assert 0.5 < top.expected <= 1 and top.family == "lightgbm" and top.config_id == kb.config_id(good_here)
    assert top.sources[0][0] == "here" and top.sources[0][1] == 1.0 and top.sources[0][2] < top.sources[1][2]
    assert "here" in top.explanation and "distance" in top.explanation and "roc_auc" in top.explanation


def test_suggest_is_diverse_and_filters_families(store):
    variants = [lgbm(100 + i) for i in range(8)]  # near-duplicates of each other
    others = [{"family": "knn", "n_neighbors": 5}, {"family": "linear", "C": 1.0}, lgbm(8, 0.02)]
    record(store, "a", 0.0, [(c, -0.95 + i * 1e-4) for i, c in enumerate(variants)] +
           [(others[0], -0.9), (others[1], -0.85), (others[2], -0.8)])
    suggestions = store.suggest(make_metafeatures(0.0), "binary", "roc_auc", n=4, **Q)
    ids = [s.config_id for s in suggestions]
    assert len(ids) == len(set(ids)) == 4
    assert sum(s.config in variants for s in suggestions) == 1  # ten variants of one config are one suggestion
    assert {s.family for s in suggestions} == {"lightgbm", "knn", "linear"}
    only = store.suggest(make_metafeatures(0.0), "binary", "roc_auc", n=10, families={"knn", "linear"}, **Q)
    assert {s.family for s in only} == {"knn", "linear"}
    lots = store.suggest(make_metafeatures(0.0), "binary", "roc_auc", n=10, families=["lightgbm"], **Q)
    assert [s.config for s in lots] == [variants[0], others[2]]  # the family cap is relaxed, duplicates are not


def test_suggestions_complement_each_other_on_the_neighbours(store):
    """The second suggestion covers the neighbour the first does badly on, not the runner-up where the first
    is already good (the expected-score order would take the runner-up: it is second on average)."""
    best_on_two, runner_up, best_on_third = lgbm(15), {"family": "extra_trees", "n_estimators": 100}, \
        {"family": "linear", "C": 1.0}
    for name, centre in (("a", 0.0), ("b", 0.1)):
        record(store, name, centre, [(best_on_two, -0.95), (runner_up, -0.94), (best_on_third, -0.60)])
    record(store, "c", 0.2, [(best_on_two, -0.60), (runner_up, -0.61), (best_on_third, -0.95)])
    query = make_metafeatures(0.1)
    suggested = store.suggest(query, "binary", "roc_auc", n=3, k=3, **Q)
    assert [s.config for s in suggested] == [best_on_two, best_on_third, runner_up]  # in the order to try them
    assert suggested[1].expected < suggested[2].expected  # not the expected-score order
    assert [s.config for s in store.suggest(query, "binary", "roc_auc", n=2, k=3, **Q)] == [best_on_two,
                                                                                            best_on_third]


def test_after_the_first_suggestion_what_a_configuration_adds_per_second_decides(store):
    """The first suggestion is the best on the neighbours however slow; after it, a cheap configuration that
    covers the remaining neighbour nearly as well comes before a 40 x slower one that covers it best."""
    best_on_two, slow_for_c, cheap_for_c = lgbm(15), lgbm(200, 0.01), {"family": "linear", "C": 1.0}
    seconds = {kb.config_id(best_on_two): 5.0, kb.config_id(slow_for_c): 20.0, kb.config_id(cheap_for_c): 0.5}
    losses = {"a": (-0.95, -0.60, -0.60), "b": (-0.95, -0.60, -0.60), "c": (-0.60, -0.95, -0.93)}
    for (name, row), centre in zip(losses.items(), (0.0, 0.1, 0.2)):
        evaluations = [dataclasses.replace(make_evaluation(c, loss), fit_seconds=seconds[kb.config_id(c)])
                       for c, loss in zip((best_on_two, slow_for_c, cheap_for_c), row)]
        store.record_run(make_run(f"run-{name}"), make_dataset(name, centre), evaluations)
    suggested = store.suggest(make_metafeatures(0.1), "binary", "roc_auc", n=3, k=3, **Q)
    assert [s.config for s in suggested] == [best_on_two, cheap_for_c, slow_for_c]


def test_metrics_are_never_mixed_and_fallback_is_explained(store):
    a, b = lgbm(7), {"family": "linear", "C": 2.0}
    record(store, "auc", 0.0, [(a, -0.9), (b, -0.5)], metric="roc_auc")
    record(store, "acc", 0.1, [(a, -0.5), (b, -0.9)], metric="accuracy")
    by_acc = store.suggest(make_metafeatures(0.0), "binary", "accuracy", n=2, **Q)
    assert [s.config for s in by_acc] == [b, a] and all("accuracy" in s.explanation for s in by_acc)
    assert [s.sources[0][0] for s in by_acc] == ["acc", "acc"]
    by_f1 = store.suggest(make_metafeatures(0.0), "binary", "f1", n=2, **Q)  # nobody has f1: task default
    assert [s.config for s in by_f1] == [a, b]
    assert "no similar dataset has f1 evaluations" in by_f1[0].explanation and by_f1[0].metric == "roc_auc"
    prior = store.prior_observations(make_metafeatures(0.0), "binary", "accuracy", **Q)
    assert {p.fingerprint for p in prior} == {make_dataset("acc").fingerprint}


def test_prior_observations_are_normalised_per_dataset_and_weighted(store):
    configs = [lgbm(leaves) for leaves in (4, 8, 16, 32, 64, 128)]
    record(store, "near", 0.0, [(c, float(loss)) for c, loss in zip(configs, [-0.9, -0.8, -0.7, -0.6, -0.5, 5.0])])
    record(store, "far", 6.0, [(c, float(loss)) for c, loss in zip(configs, [100, 200, 300, 400, 500, 600])],
           metric="roc_auc", fidelity=0.5)
    prior = store.prior_observations(make_metafeatures(0.0), "binary", "roc_auc", k=2, **Q)
    assert len(prior) == 12 and all(0.0 <= p.normalised_score <= 1.0 for p in prior)
    near = {p.config["num_leaves"]: p for p in prior if p.fingerprint == make_dataset("near").fingerprint}
    assert near[4].normalised_score == 1.0 and near[128].normalised_score == 0.0
    assert near[8].normalised_score > 0.5  # one terrible loss (5.0) does not squash the others together
    far = [p for p in prior if p.fingerprint == make_dataset("far").fingerprint]
    assert {p.fidelity for p in far} == {0.5} and near[4].weight > far[0].weight > 0
    assert prior == sorted(prior, key=lambda p: (-p.weight, -p.normalised_score, p.config_id, p.fidelity))
    assert [p.family for p in store.prior_observations(make_metafeatures(0.0), "binary", "roc_auc",
                                                       families={"knn"}, **Q)] == []


def test_highest_fidelity_counts_for_suggestions(store):
    a, b = lgbm(7), lgbm(300, 0.5)
    record(store, "d", 0.0, [(a, -0.99), (b, -0.5)], fidelity=0.1, run_id="low")
    record(store, "d", 0.0, [(a, -0.6), (b, -0.95)], fidelity=1.0, run_id="full")
    assert [s.config for s in store.suggest(make_metafeatures(0.0), "binary", "roc_auc", n=2, **Q)] == [b, a]


def test_retrieve_is_the_three_reads_together(store):
    record(store, "a", 0.0, [(lgbm(7), -0.9), ({"family": "linear", "C": 1.0}, -0.7)])
    record(store, "b", 1.0, [(lgbm(7), -0.6)])
    query = make_metafeatures(0.2)
    neighbours, suggestions, prior = store.retrieve(query, "binary", "roc_auc", n=5, k=2, **Q)
    assert neighbours == store.similar(query, "binary", k=2, **Q)
    assert suggestions == store.suggest(query, "binary", "roc_auc", n=5, k=2, **Q)
    assert prior == store.prior_observations(query, "binary", "roc_auc", k=2, **Q)
    assert store.retrieve(query, "multiclass", "log_loss", **Q) == ([], [], [])


def test_values_that_look_like_sql_are_stored_verbatim(store):
    evil = "x'); DROP TABLE evaluations; -- \"; SELECT 1;"
    record(store, evil, 0.0, [({"family": "linear", "note": evil, evil: 1}, -0.7)], metric=evil,
           source=evil, metafeatures={**make_metafeatures(0.0), evil: 1.0})
    assert store.similar(make_metafeatures(0.0), "binary", **Q)[0].name == evil
    suggestion = store.suggest(make_metafeatures(0.0), "binary", evil, **Q)[0]
    assert suggestion.config == {"family": "linear", "note": evil, evil: 1}
    assert store.dataset(make_dataset(evil).fingerprint).metafeatures[evil] == 1.0
    assert store.info()["by_source"] == {evil: 1} and counts(store) == (1, 1, 1, 1)
    assert list(store.evaluations(metric=evil)["metric"]) == [evil] and store.check() == []


def test_export_import_round_trip_is_lossless(store, tmp_path):
    record(store, "a", 0.0, [(lgbm(7), -0.9), ({"family": "linear", "C": 1.0}, None)], extra={"openml": {"id": 61}})
    store.record_run(make_run("b-run", kind="refresh", note="x"), make_dataset("b", 2.0, task="regression"),
                     [make_evaluation(lgbm(9), 3.5, metric="rmse", status="failed", error="e"),
                      make_evaluation(lgbm(9), 2.5, metric="rmse", fidelity=1 / 3)])
    nan_mf = {**make_metafeatures(1.0), NAMES[3]: float("nan")}
    record(store, "c", 1.0, [(lgbm(11), -0.5)], metafeatures=nan_mf)
    first = tmp_path / "first"
    assert store.export(first) == {"datasets": 3, "configurations": 4, "runs": 3, "evaluations": 5}
    other = kb.MemoryStore()
    assert other.import_(first) == 5 and other.import_(first) == 0  # importing twice adds nothing
    second = tmp_path / "second"
    other.export(second)
    import pyarrow.parquet as pq
    for name in ("datasets", "configurations", "runs", "evaluations"):
        a, b = pq.read_table(first / f"{name}.parquet"), pq.read_table(second / f"{name}.parquet")
        assert a.replace_schema_metadata(None).equals(b.replace_schema_metadata(None)), name
    assert math.isnan(other.dataset(make_dataset("c").fingerprint).metafeatures[NAMES[3]])
    assert other.dataset(make_dataset("a").fingerprint).extra == {"openml": {"id": 61}}
    assert other.similar(make_metafeatures(0.0), "binary", **Q) == store.similar(make_metafeatures(0.0), "binary", **Q)


def test_timings_are_the_ok_evaluations_seconds_with_their_datasets_size(store):
    evals = [make_evaluation(lgbm(7), -0.9), make_evaluation(lgbm(15), -0.8, fidelity=0.25),
             make_evaluation(lgbm(200), None, status="failed", error="boom")]
    store.record_run(make_run("r"), make_dataset("a", n_rows=900, n_features=12), evals)
    store.record_run(make_run("s"), make_dataset("b", 2.0, n_rows=40), [make_evaluation(lgbm(7), -0.7)])
    timings = store.timings()
    assert list(timings.columns) == list(kb.TIMING_COLUMNS)
    key = ["fingerprint", "config_id", "fidelity"]
    default = kb.KnowledgeBase.timings(store)  # the contract's reading through evaluations() and datasets()
    assert timings.sort_values(key).reset_index(drop=True).astype(str).equals(
        default.sort_values(key).reset_index(drop=True).astype(str))
    assert sorted(timings["n_rows"]) == [40, 900, 900] and set(timings["fidelity"]) == {0.25, 1.0}
    assert (timings["fit_seconds"] > 0).all() and set(timings["protocol"]) == {"cv5"}
