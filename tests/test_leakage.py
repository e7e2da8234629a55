"""Columns that leak the target (issue 29): found before the search, named, dropped unless kept; perfect
validations are not written back to the knowledge base; the user's own exclusions."""
from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import knowledge_base as kb
from automl import AutoML, AutoMLRegressor
from automl.data import TableEncoder
from automl.exceptions import InputError
from automl.leakage import LeakKind, check_columns, find_leaks, screen_columns
from cli import main
from tests.conftest import EXAMPLE


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def titanic_like(path):
    """customers.csv with ``alive``: the churn target relabelled (yes/no swapped), like Titanic's alive/survived."""
    frame = pd.read_csv(EXAMPLE)
    frame["alive"] = np.where(frame["churned"] == "yes", "no", "yes")
    frame.to_csv(path, index=False)
    return frame


def taxi_like(n=600, seed=0):
    """A regression table whose ``fare`` is ``total`` minus a small tip, and an honest strong feature."""
    rng = np.random.default_rng(seed)
    distance = rng.gamma(2.0, 3.0, n)
    minutes = distance * 3 + rng.normal(0, 4, n)
    total = 3 + 2.5 * distance + 0.3 * minutes + rng.normal(0, 3, n)
    return pd.DataFrame({
        "distance": distance, "minutes": minutes, "passengers": rng.integers(1, 5, n).astype(float),
        "fare": total - rng.uniform(0, 0.5, n),  # almost a formula of the target
        "total": total,
    })


def encoded(frame, target):
    X = frame.drop(columns=[target])
    encoder = TableEncoder().fit(X)
    return encoder.transform(X), encoder


def test_honest_tables_report_nothing():
    frame = pd.read_csv(EXAMPLE)
    Xc, encoder = encoded(frame, "churned")
    assert check_columns(Xc, (frame["churned"] == "yes").to_numpy(int), "binary", encoder.sources, set()) == []
    taxi = taxi_like().drop(columns=["fare"])
    Xc, encoder = encoded(taxi, "total")
    # distance explains most of the total (R^2 ~0.9) and is an honest feature
    assert check_columns(Xc, taxi["total"].to_numpy(), "regression", encoder.sources, set()) == []


def test_a_near_formula_of_a_regression_target_is_dropped_unless_kept(caplog):
    taxi = taxi_like()
    Xc, encoder = encoded(taxi, "total")
    found = check_columns(Xc, taxi["total"].to_numpy(), "regression", encoder.sources, set())
    assert [(f.column, f.kind, f.measure) for f in found] == [("fare", LeakKind.SINGLE_FEATURE, "r2")]
    assert found[0].score >= 0.99
    X, y = taxi.drop(columns=["total"]), taxi["total"]
    with caplog.at_level("WARNING", logger="automl"):
        # one trial of a cheap family: the test is about the columns, not the model
        model = AutoMLRegressor(time_budget=4, max_trials=1, write_back=False, include=("linear",)).fit(X, y)
    assert "'fare'" in caplog.text and "dropped as a likely leak" in caplog.text
    schema = model.encoder_.schema
    assert "fare" not in schema["used"] and "leaks the target" in schema["dropped"]["fare"]
    assert model.fit_info_["leakage"][0]["column"] == "fare" and not model.fit_info_["leakage"][0]["kept"]
    model.predict(X.drop(columns=["fare"]))  # predict no longer needs the dropped column
    kept = AutoMLRegressor(time_budget=4, max_trials=1, write_back=False, include=("linear",),
                           keep_columns=("fare",)).fit(X, y)
    assert "fare" in kept.encoder_.schema["used"] and kept.fit_info_["leakage"][0]["kept"]


def test_relabelled_target_is_named_dropped_and_reported(tmp_path):
    titanic_like(tmp_path / "t.csv")
    out = tmp_path / "m"
    result = invoke("fit", tmp_path / "t.csv", "--target", "churned", "--time-budget", 5, "--max-trials", 2,
                    "--include", "linear", "--out", out, "--json", "--report")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["leakage"] == [{"column": "alive", "kind": "mapping", "score": 1.0,
                                   "measure": "balanced_accuracy", "kept": False}]
    assert "warning: column 'alive'" in result.stderr and "dropped as a likely leak" in result.stderr
    assert "alive" in summary["dropped_columns"] and summary["best_score"] < 0.99
    assert summary["n_evaluations_written"] > 0  # an honest run is evidence
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["fit"]["leakage"][0]["column"] == "alive"
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Leakage check" in page and "alive predicts the target alone" in page


def test_kept_leak_gives_a_perfect_validation_that_is_not_written_back(tmp_path):
    titanic_like(tmp_path / "t.csv")
    before = kb.open_store().info()  # the tests' DuckDB store (AUTOML_KB), filled from the seed
    result = invoke("fit", tmp_path / "t.csv", "--target", "churned", "--keep-columns", "alive", "--time-budget", 5,
                    "--max-trials", 2, "--include", "linear", "--out", tmp_path / "m", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["leakage"][0]["kept"] is True and summary["best_score"] == 1.0
    assert summary["n_evaluations_written"] == 0
    assert "nothing written to the knowledge base" in result.stderr and "perfect" in result.stderr
    after = kb.open_store().info()
    assert (after["n_runs"], after["n_evaluations"]) == (before["n_runs"], before["n_evaluations"])
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["kb_run_id"] not in set(kb.open_store().runs()["run_id"])


def test_drop_columns_and_unknown_names(tmp_path):
    out = tmp_path / "m"
    result = invoke("fit", EXAMPLE, "--target", "churned", "--drop-columns", "plan, city", "--time-budget", 4,
                    "--max-trials", 2, "--out", out, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["leakage"] == []  # the example table is honest
    assert summary["dropped_columns"]["plan"] == summary["dropped_columns"]["city"] == "dropped by drop_columns"
    model = AutoML.load(out)
    assert {"plan", "city"}.isdisjoint(model.encoder_.schema["used"])
    frame = pd.read_csv(EXAMPLE).drop(columns=["churned", "plan", "city"])
    assert len(model.predict(frame)) == len(frame)
    resumed = invoke("fit", EXAMPLE, "--resume", out, "--time-budget", 4, "--max-trials", 1, "--out", tmp_path / "r",
                     "--json")  # --resume carries the exclusions over
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["dropped_columns"]["plan"] == "dropped by drop_columns"
    for option in ("--drop-columns", "--keep-columns"):
        bad = invoke("fit", EXAMPLE, "--target", "churned", option, "plan,nope,zilch", "--time-budget", 4,
                     "--out", tmp_path / "bad")
        assert bad.exit_code == 2
        assert bad.stderr.strip().splitlines() == [
            f"error: unknown column(s) in {option[2:].replace('-', '_')}: 'nope', 'zilch'"]
        assert not (tmp_path / "bad").exists()
    both = AutoML(time_budget=4, drop_columns="plan", keep_columns=["plan"])
    with pytest.raises(InputError, match="both drop_columns and keep_columns"):
        both.fit(*(lambda f: (f.drop(columns=["churned"]), f["churned"]))(pd.read_csv(EXAMPLE)))


def test_the_check_is_cheap_on_a_large_table():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(100_000, 40)), columns=[f"n{i}" for i in range(40)])
    for i in range(10):
        X[f"c{i}"] = pd.Categorical(rng.integers(0, 30, len(X)).astype(str))
    y = rng.integers(0, 3, len(X))
    X["leak"] = y + rng.normal(0, 0.01, len(X))
    started = time.perf_counter()
    found = find_leaks(X, y, "multiclass")
    seconds = time.perf_counter() - started
    assert [name for name, _, _ in found] == ["leak"]
    assert seconds < 1.0, seconds  # ~0.03 s here; the margin is for a busy machine


def test_perfect_scores_are_known_per_metric():
    from automl.metrics import get_metric, make_metric
    assert get_metric("roc_auc", "binary").is_perfect(1.0) and not get_metric("roc_auc", "binary").is_perfect(0.999)
    assert get_metric("rmse", "regression").is_perfect(0.0) and not get_metric("r2", "regression").is_perfect(0.97)
    custom = make_metric(np.mean, greater_is_better=True)
    assert not custom.is_perfect(1.0)  # a user metric's best value is unknown: never treated as perfect


def test_a_table_whose_every_column_predicts_the_target_keeps_them(caplog):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    X = pd.DataFrame({"a": y * 2.0 + rng.normal(0, 0.01, 300), "b": np.where(y == 1, "on", "off")})
    encoder = TableEncoder().fit(X)
    with caplog.at_level("WARNING", logger="automl"):
        Xc, found = screen_columns(encoder, encoder.transform(X), y, "binary", drop=[], keep=[])
    assert {f.column for f in found} == {"a", "b"} and all(f.kept for f in found)
    assert list(Xc.columns) == ["a", "b"] and "none dropped" in caplog.text  # nothing would be left to fit
