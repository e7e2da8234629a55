"""The search data reaches the workers through one shared, memory-mapped file, not a private copy per worker;
trials score exactly as they do on the in-memory table."""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from automl.models import REGISTRY
from automl.search.runner import LocalRunner, load_search_data, write_search_data
from automl.search.messages import TrialRequest
from automl.search.trial import fit_one, fold_rows, predict_one, run_trial
from automl.search.validation import make_splits
from tests.search.conftest import make_problem, run_linear_trials


def _data(n: int = 300) -> dict:
    p = make_problem(n=n)
    return {"X": p.X, "y": p.y, "task": p.task, "metric": p.metric, "seed": 0,
            "splits": make_splits(p.y, p.task, "cv3", 0), "user_families": REGISTRY.user_families()}


def test_loaded_table_is_memory_mapped_read_only(tmp_path):
    data = _data()
    assert any(isinstance(data["X"][c].dtype, pd.CategoricalDtype) for c in data["X"].columns)
    loaded = load_search_data(write_search_data(data, str(tmp_path)))
    X = loaded["X"]
    assert list(X.columns) == list(data["X"].columns) and list(X.dtypes) == list(data["X"].dtypes)
    assert X.equals(data["X"])
    for column in X.columns:  # the column blocks and category codes are views of the file, not unpickled copies
        values = X[column].array.codes if isinstance(X[column].dtype, pd.CategoricalDtype) else X[column].to_numpy()
        assert _file_backed(values), column
    for array in (loaded["y"], loaded["splits"][0][0]):
        assert _file_backed(array)


def _file_backed(array: np.ndarray) -> bool:
    """A read-only view whose memory is a mapped file (somewhere down its chain of bases)."""
    base = array
    while base is not None and not isinstance(base, np.memmap):
        base = getattr(base, "base", None)
    return base is not None and not array.flags.writeable


@pytest.mark.parametrize("config", [REGISTRY.get("lightgbm").default_config(),
                                    REGISTRY.get("extra_trees").default_config(),
                                    REGISTRY.get("linear").default_config()])
def test_trials_score_the_same_on_the_mapped_table(tmp_path, config):
    data = _data()
    mapped = load_search_data(write_search_data(data, str(tmp_path)))
    request = TrialRequest(trial_id=0, config=config, fidelity=1.0, seconds=60, keep_models_dir=None)
    in_memory, shared = run_trial(request, data), run_trial(request, mapped)
    assert in_memory.status == shared.status == "ok"
    assert in_memory.score == shared.score
    np.testing.assert_array_equal(in_memory.oof, shared.oof)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/PID/maps")
def test_every_worker_maps_the_one_data_file(tmp_path):
    data = _data()
    runner = LocalRunner(data, 2, str(tmp_path), memory_limit=3 << 30)
    try:
        # one trial per worker: both have loaded the data by the time they answer
        assert run_linear_trials(runner, 2) == ["ok", "ok"]
        for worker in runner.workers:
            with open(f"/proc/{worker.process.pid}/maps") as maps:
                assert runner.data_path in maps.read()
    finally:
        runner.close()


def test_the_driver_keeps_no_copy_of_its_own_after_the_workers_start():
    from automl.deadline import Deadline
    from automl.search import optimize
    p = make_problem(n=300, families=("linear",))
    original = p.X
    result = optimize(p, Deadline(30), strategy="bo", max_trials=2)
    assert [t.status for t in result.trials] == ["ok", "ok"]
    assert p.X is not original and p.X.equals(original)  # the search's table is now the workers' mapped file
    assert _file_backed(p.X[p.X.select_dtypes(exclude="category").columns[0]].to_numpy())


def test_the_driver_hands_the_freed_table_memory_back_once_the_table_is_mapped(monkeypatch):
    from automl.deadline import Deadline
    from automl.search import optimize, optimizer
    p = make_problem(n=300, families=("linear",))
    released = []
    number = p.X.select_dtypes(exclude="category").columns[0]
    monkeypatch.setattr(optimizer, "release_unused_memory",
                        lambda: released.append(_file_backed(p.X[number].to_numpy())))
    optimize(p, Deadline(30), strategy="bo", max_trials=1)
    assert released == [True]  # once, after the driver's private table was swapped for the mapped one


def test_data_mapped_from_the_work_folder_is_not_written_again(tmp_path):
    import os
    path = write_search_data(_data(), str(tmp_path))
    before = os.stat(path).st_mtime_ns
    mapped = load_search_data(path)
    runner = LocalRunner(mapped, 1, str(tmp_path), memory_limit=3 << 30)
    try:
        assert runner.data_path == path and os.stat(path).st_mtime_ns == before
        assert run_linear_trials(runner, 1) == ["ok"]
    finally:
        runner.close()


@pytest.mark.parametrize("config", [REGISTRY.get("lightgbm").default_config(),
                                    {"family": "lightgbm", "learning_rate": 0.2, "max_bin": 63,
                                     "class_weight": "balanced"}])
def test_lightgbm_fits_a_fold_of_the_mapped_table_from_one_copy_of_its_rows_into_the_same_model(tmp_path, config):
    import pickle
    config = REGISTRY.get("lightgbm").complete(config, "binary")
    data = load_search_data(write_search_data(_data(400), str(tmp_path)))
    X, y = data["X"], data["y"]
    tr, va = np.arange(0, 400, 3), np.setdiff1d(np.arange(400), np.arange(0, 400, 3))
    Xtr, Xev, categories = fold_rows(config, X, tr, va)
    assert categories == {c: list(X[c].cat.categories) for c in X.columns
                          if isinstance(X[c].dtype, pd.CategoricalDtype)}
    matrix = Xtr.to_numpy(dtype=np.float64, copy=False)  # what LightGBM converts the rows to: no second copy
    assert np.shares_memory(matrix, Xtr._mgr.blocks[0].values) and matrix.flags.f_contiguous
    coded = fit_one(config, Xtr, y[tr], "binary", 2, 0, eval_set=(Xev, y[va]), categories=categories)
    table = fit_one(config, X.iloc[tr], y[tr], "binary", 2, 0, eval_set=(X.iloc[va], y[va]))
    assert pickle.dumps(coded) == pickle.dumps(table)  # the same model, predicting tables
    np.testing.assert_array_equal(predict_one(coded, X.iloc[va], "binary", 2),
                                  predict_one(table, X.iloc[va], "binary", 2))
    every_row, _, categories = fold_rows(config, X, None)  # a refit on every row
    refit = fit_one(config, every_row, y, "binary", 2, 0, iterations=30, categories=categories)
    assert pickle.dumps(refit) == pickle.dumps(fit_one(config, X, y, "binary", 2, 0, iterations=30))
    with_text = X.assign(note=pd.array(["some words here"] * len(X), dtype="string"))
    assert fold_rows(config, with_text, tr, None)[2] is None  # (text columns go through the text step as a table)
