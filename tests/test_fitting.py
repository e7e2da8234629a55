"""What a caller hands ``AutoML.fit`` beside the data: where the table came from (``source``) and the start-up
phases it timed (``startup_clock``), both recorded with the fit."""
from __future__ import annotations

from automl import AutoML
from automl.table_source import TableSource
from automl.timing import PhaseClock
from tests.fixtures.tables import make_dataset

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
