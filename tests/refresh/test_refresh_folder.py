"""Folder refresh: summary counts, a broken dataset reported, idempotent, resumable, version changes."""
from __future__ import annotations

import json

import pytest

import metafeatures
from automl import refresh as refresh_mod
from automl.refresh import refresh_from_dir, store_tables
from automl.refresh.candidates import pool_growth
from tests.refresh.conftest import ONE_CANDIDATE, TINY_POOL


def _by_status(summary):
    out = {}
    for o in summary.outcomes:
        out.setdefault(o.status, set()).add(o.name)
    return out


def test_folder_refresh_reports_and_is_idempotent(data_folder, store, options):
    events = []
    first = refresh_from_dir(data_folder, store=store, options=options(), callback=events.append)
    status = _by_status(first)
    assert status["added"] == {"analcatdata_aids", "iris", "1096_FacultySalaries", "customers"}
    assert status["failed"] == {"broken"}
    assert first.failed and first.count("added") == 4
    broken = next(o for o in first.outcomes if o.name == "broken")
    assert "decompress" in broken.reason  # one line saying why
    assert {e["event"] for e in events} >= {"start", "dataset_start", "dataset", "done"}
    info = store.info()
    assert info["n_datasets"] == 4
    assert info["n_evaluations"] == sum(o.n_evaluations for o in first.outcomes) > 0
    tables = store_tables(store)
    assert set(tables["evaluations"]["origin"]) == {"candidate"}
    assert set(tables["datasets"]["task"]) == {"binary", "multiclass", "regression"}
    assert first.portfolio and json.loads(open(first.portfolio).read())["portfolios"]
    assert first.check == {"problems": []}

    second = refresh_from_dir(data_folder, store=store, options=options())
    status = _by_status(second)
    assert status["skipped"] == {"analcatdata_aids", "iris", "1096_FacultySalaries", "customers"}
    assert status["failed"] == {"broken"} and "added" not in status
    assert store.info()["n_evaluations"] == info["n_evaluations"]  # nothing added the second time
    assert store.info()["n_runs"] == info["n_runs"]


def test_refresh_resumes_after_an_interrupted_run(data_folder, store, options):
    (data_folder / "broken.tsv.gz").unlink()

    def stop_after_first(event):
        if event["event"] == "dataset" and event["outcome"].status == "added":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        refresh_from_dir(data_folder, store=store, options=options(pool=ONE_CANDIDATE), callback=stop_after_first)
    assert store.info()["n_datasets"] == 1  # the finished dataset was written before the interruption
    resumed = refresh_from_dir(data_folder, store=store, options=options(pool=ONE_CANDIDATE))
    assert resumed.count("skipped") == 1 and resumed.count("added") == 3 and not resumed.failed
    assert store.info()["n_datasets"] == 4


def test_limit_processes_chunks(data_folder, store, options):
    (data_folder / "broken.tsv.gz").unlink()
    first = refresh_from_dir(data_folder, store=store, options=options(limit=2, pool=ONE_CANDIDATE))
    assert first.count("added") == 2 and first.not_reached == 2
    second = refresh_from_dir(data_folder, store=store, options=options(limit=2, pool=ONE_CANDIDATE))
    assert second.count("skipped") == 2 and second.count("added") == 2 and second.not_reached == 0


def test_version_changes_recompute_without_losing_evaluations(data_folder, store, options, monkeypatch):
    (data_folder / "broken.tsv.gz").unlink()
    refresh_from_dir(data_folder, store=store, options=options(limit=2, pool=ONE_CANDIDATE))
    before = store.info()["n_evaluations"]

    monkeypatch.setattr(metafeatures, "METAFEATURES_VERSION", "999-test")
    bumped = refresh_from_dir(data_folder, store=store, options=options(limit=4, pool=ONE_CANDIDATE))
    status = _by_status(bumped)
    assert len(status["updated"]) == 2 and len(status["added"]) == 2
    tables = store_tables(store)
    assert set(tables["datasets"]["metafeatures_version"]) == {"999-test"}
    updated_fps = {o.fingerprint for o in bumped.outcomes if o.status == "updated"}
    kept = tables["evaluations"][tables["evaluations"]["fingerprint"].isin(updated_fps)]
    assert len(kept) == before  # every evaluation of the re-described datasets is still there
    assert refresh_from_dir(data_folder, store=store, options=options(pool=ONE_CANDIDATE)).count("skipped") == 4

    # a new search-space version: the candidates are evaluated again, the old evaluations stay
    import automl.space
    monkeypatch.setattr(automl.space, "SPACE_VERSION", "999-space")
    n_before = store.info()["n_evaluations"]
    again = refresh_from_dir(data_folder, store=store, options=options(limit=1, pool=ONE_CANDIDATE))
    assert again.count("added") == 1
    assert store.info()["n_evaluations"] == n_before + again.outcomes[-1].n_evaluations


def test_short_search_runs_and_writes_its_trials(tmp_path, store, options):
    from tests.fixtures.tables import make_dataset
    folder = tmp_path / "one"
    folder.mkdir()
    make_dataset("binary", n=120, seed=5, messy=False).rename(columns={"y": "target"}).to_csv(
        folder / "plain.csv", index=False)
    summary = refresh_from_dir(folder, store=store, options=options(budget=60.0, search_trials=2,
                                                                       pool=TINY_POOL[:1]))
    assert summary.count("added") == 1, summary.outcomes
    origins = set(store_tables(store)["evaluations"]["origin"])
    assert "candidate" in origins and origins - {"candidate"}  # the search's own trials were recorded


def test_candidate_pool_is_fixed_plain_data():
    pool = refresh_mod.portfolio_candidates(0)
    assert 60 <= len(pool) <= 80  # 48 first, 16 step variants, 8 CatBoost / XGBoost where installed
    assert pool == refresh_mod.portfolio_candidates(0)  # seeded
    assert {c["family"] for c in pool} >= {"lightgbm", "random_forest", "extra_trees", "linear", "knn", "mlp", "svm"}
    json.dumps(pool)  # plain data
    assert len({refresh_mod.config_id(c) for c in pool}) == len(pool)


def test_more_extra_samples_append_to_the_pool_and_keep_every_earlier_candidate():
    from knowledge_base.canonical import config_id
    extra = dict(refresh_mod.CANDIDATE_EXTRA_SAMPLES)
    pool = [config_id(c) for c in refresh_mod.portfolio_candidates(0, extra=extra)]
    grown = [config_id(c) for c in refresh_mod.portfolio_candidates(0, extra={**extra, "svm": extra["svm"] + 4})]
    assert len(grown) == len(pool) + 4 and set(pool) <= set(grown)
    none = [config_id(c) for c in refresh_mod.portfolio_candidates(0, extra={})]
    growth = [config_id(c) for c in pool_growth(0)]  # (appended last, whatever the samples)
    assert none[len(none) - len(growth):] == growth == pool[len(pool) - len(growth):]
    none = none[:len(none) - len(growth)]
    assert pool[:len(none)] == none  # the extra samples come after the first pool, which they leave alone


def test_a_grown_pool_is_evaluated_on_the_stored_datasets_without_a_new_search(data_folder, store, options):
    (data_folder / "broken.tsv.gz").unlink()
    first = refresh_from_dir(data_folder, store=store, options=options(pool=TINY_POOL[1:]))  # (cheap: no linear)
    assert first.count("added") == 4
    n_runs = store.info()["n_runs"]

    # the pool grows by one configuration, and by one of a family no dataset allows (never "missing")
    grown = TINY_POOL[1:] + [{"family": "knn", "n_neighbors": 3, "weights": "uniform", "p": 1},
                             {"family": "no_such_family", "x": 1}]
    topped = refresh_from_dir(data_folder, store=store, options=options(pool=grown, budget=30.0, search_trials=1))
    assert topped.count("updated") == 4 and not topped.failed, topped.outcomes
    assert all(o.n_evaluations == 1 and refresh_mod.TOP_UP_NOTE in o.reason for o in topped.outcomes)
    ev = store_tables(store)["evaluations"]
    assert set(ev["origin"]) == {"candidate"}  # no search ran on the stored datasets
    assert (ev.groupby("fingerprint")["config_id"].nunique() == 3).all()
    runs = store.runs()
    assert len(runs) == n_runs + 4 and runs["settings"].map(lambda s: s.get("top_up")).sum() == 4

    again = refresh_from_dir(data_folder, store=store, options=options(pool=grown))
    assert again.count("skipped") == 4
    assert store.info()["n_evaluations"] == len(ev)


def test_large_data_is_subsampled_honestly():
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(2990, dtype=np.int64), np.ones(9, dtype=np.int64), [2]]  # class 2 has one row
    X = pd.DataFrame({"a": rng.normal(size=len(y))})
    Xs, ys, suffix = refresh_mod.subsample_rows(X, y, "binary", 500, seed=0)
    assert len(Xs) == len(ys) <= 505 and suffix == f";rows={len(ys)}/3000;seed=0"
    assert set(np.unique(ys)) == {0, 1} and (ys == 1).sum() >= 3  # rare class kept; lone class 2 dropped
    same = refresh_mod.subsample_rows(X, y, "binary", 500, seed=0)
    assert same[2] == suffix and same[0].equals(Xs)  # seeded
    assert refresh_mod.subsample_rows(X.head(100), y[:100], "binary", 500, 0)[2] == ""
