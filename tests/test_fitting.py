"""What a caller hands ``AutoML.fit`` beside the data: where the table came from (``source``) and the start-up
phases it timed (``startup_clock``), both recorded with the fit."""
from __future__ import annotations

import gc
import weakref

import numpy as np
import pandas as pd
import pytest

from automl import AutoML
from automl.search import optimizer
from automl.table_source import HandedOver, TableSource
from automl.timing import PhaseClock
from tests.fixtures.tables import make_dataset
from tests.search.test_shared_data import _file_backed

FAST = dict(time_budget=20, max_trials=1, seed=0, warm_start=False, write_back=False, n_jobs=1)


def test_the_tables_source_and_the_callers_start_up_are_recorded_with_the_fit():
    frame = make_dataset(n=120, seed=1)
    clock = PhaseClock()
    clock.lap("load")
    source = TableSource(target="y", weight_column="w", groups_column=None, valid_file="valid.csv")
    model = AutoML(**FAST).fit(frame.drop(columns="y"), frame["y"], source=source, startup_clock=clock)
    options = model.fit_info_["options"]
    assert {k: options[k] for k in ("target", "weight_column", "groups", "valid")} == \
        {"target": "y", "weight_column": "w", "groups": None, "valid": "valid.csv"}
    assert options["max_trials"] == 1 and "callback" not in options
    startup = model.fit_info_["timings"]["startup"]
    assert list(startup)[:2] == ["load", "encode"]  # the caller's phases first, then the fit's own
    again = AutoML(**FAST).fit(frame.drop(columns="y"), frame["y"])  # no source: nothing about one recorded
    assert not {"target", "weight_column", "groups", "valid"} & set(again.fit_info_["options"])
    assert "load" not in again.fit_info_["timings"]["startup"]


def test_a_store_that_cannot_be_read_leaves_the_fit_to_the_hand_written_portfolio(tmp_path, caplog):
    frame = make_dataset(n=120, seed=2)
    not_a_store = tmp_path / "kb.duckdb"
    not_a_store.write_text("not a knowledge base\n")
    params = {**FAST, "warm_start": True, "write_back": True, "knowledge_base": str(not_a_store)}
    with caplog.at_level("WARNING", logger="automl"):
        model = AutoML(**params).fit(frame.drop(columns="y"), frame["y"])
    assert model.fit_info_["warm_start_note"].startswith("knowledge base unavailable: ")
    assert model.neighbours_ == [] and model.warm_start_configs_ == [] and model.n_evaluations_written_ == 0
    assert model.fit_info_["data_fingerprint"] is not None  # described for the write-back all the same
    assert "could not write the evaluations back" in caplog.text
    assert not_a_store.read_text() == "not a knowledge base\n"


@pytest.fixture
def at_search_start(monkeypatch) -> dict:
    """Filled in when a search has mapped its data file: ``private frames``, the shapes of the frames of at least
    ``rows`` rows, with most of the table's ``columns``, whose numbers are not that file's (``rows`` and ``columns``
    set by the test: frames other tests of the session keep alive are not this table's), and what ``check``
    returns."""
    seen: dict = {"rows": 1, "columns": set(), "check": lambda: None}

    def of_the_table(f: pd.DataFrame) -> bool:
        return len(f) >= seen["rows"] and 2 * len(set(map(str, f.columns)) & seen["columns"]) >= len(seen["columns"])

    start_early = optimizer._Search._start_early

    def observed(search, data):
        gc.collect()
        seen["checked"] = seen["check"]()
        seen["private frames"] = [f.shape for f in gc.get_objects() if isinstance(f, pd.DataFrame)
                                  and of_the_table(f) and not all(_file_backed(b.values) for b in f._mgr.blocks
                                                                         if isinstance(b.values, np.ndarray))]
        return start_early(search, data)

    monkeypatch.setattr(optimizer._Search, "_start_early", observed)
    return seen


def test_a_handed_over_table_is_freed_and_no_copy_of_the_rows_stays_while_the_search_runs(at_search_start):
    frame = make_dataset(n=400, seed=3)
    X, y = frame.drop(columns="y"), frame["y"].copy()
    del frame
    raw, holder = weakref.ref(X), HandedOver(X)
    del X
    at_search_start.update(rows=400, columns=set(map(str, raw().columns)), check=lambda: raw() is not None)
    model = AutoML(**FAST).fit(holder, y)
    assert at_search_start["checked"] is False  # the raw table is gone ...
    assert at_search_start["private frames"] == []  # ... and the rows live only in the search's mapped file
    assert model.n_features_in_ == 7 and len(model.predict(make_dataset(n=20, seed=4))) == 20
    with pytest.raises(ValueError, match="taken already"):
        holder.take()


def test_automl_fit_keeps_no_copy_of_the_table_while_the_search_runs(at_search_start, tmp_path):
    from click.testing import CliRunner

    from cli import main
    frame = make_dataset(n=400, seed=3)
    frame.to_csv(tmp_path / "t.csv", index=False)
    at_search_start.update(rows=400, columns=set(map(str, frame.columns)) - {"y"})
    del frame
    args = ["fit", tmp_path / "t.csv", "--target", "y", "--time-budget", 20, "--max-trials", 1, "--no-warm-start",
            "--kb", tmp_path / "kb.duckdb", "--out", tmp_path / "model", "--quiet"]
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert at_search_start["private frames"] == []
