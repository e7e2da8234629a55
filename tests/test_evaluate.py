"""``automl evaluate`` and ``model.evaluate(X, y)``: every metric of the task on labelled data, a confusion
matrix or a residual summary; bad input is one line and exit code 2."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import accuracy_score, confusion_matrix, mean_squared_error

from automl import AutoML
from automl.evaluation import Evaluation
from automl.metrics import METRICS
from cli import main
from tests.fixtures.cli_models import fit_cli_model
from tests.test_cli_errors import assert_bad_input


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def multiclass(tmp_path_factory):
    return fit_cli_model(tmp_path_factory.mktemp("multiclass"), "multiclass")


@pytest.fixture(scope="module")
def regression(tmp_path_factory):
    return fit_cli_model(tmp_path_factory.mktemp("regression"), "regression", seed=1)


def test_classification_table_and_json_use_the_saved_target(multiclass):
    model = AutoML.load(multiclass["dir"])
    test = multiclass["test"]
    pred = model.predict(test.drop(columns="y"))

    table = invoke("evaluate", multiclass["dir"], multiclass["csv"])  # no --target: the manifest's
    assert table.exit_code == 0, table.stderr
    expected = [m.name for m in METRICS.values() if "multiclass" in m.tasks]
    for name in expected:
        assert name in table.stdout
    assert f"{len(test)} row(s) scored" in table.stdout
    assert "confusion matrix" in table.stdout and "high" in table.stdout and "low" in table.stdout

    result = invoke("evaluate", multiclass["dir"], multiclass["csv"], "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["task"] == "multiclass" and summary["n_rows"] == len(test)
    assert list(summary["metrics"]) == expected
    assert summary["primary_metric"] == model.metric_ == "log_loss"
    assert summary["metrics"]["accuracy"] == pytest.approx(accuracy_score(test["y"], pred))
    labels = summary["confusion_matrix"]["labels"]
    assert labels == list(model.classes_)
    assert summary["confusion_matrix"]["counts"] == confusion_matrix(test["y"], pred, labels=labels).tolist()
    assert summary["residuals"] is None


def test_regression_residual_summary(regression):
    model = AutoML.load(regression["dir"])
    test = regression["test"]
    residuals = test["y"].to_numpy() - model.predict(test.drop(columns="y"))
    result = invoke("evaluate", regression["dir"], regression["csv"], "--target", "y", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert set(summary["metrics"]) == {"rmse", "mae", "r2"}
    assert summary["confusion_matrix"] is None
    r = summary["residuals"]
    assert r["mean"] == pytest.approx(residuals.mean())
    assert r["median"] == pytest.approx(np.median(residuals))
    assert r["q05"] <= r["q25"] <= r["median"] <= r["q75"] <= r["q95"]
    assert r["rmse"] == pytest.approx(np.sqrt(mean_squared_error(test["y"], test["y"] - residuals)))
    assert r["rmse"] == pytest.approx(summary["metrics"]["rmse"]) and r["mae"] == summary["metrics"]["mae"]
    table = invoke("evaluate", regression["dir"], regression["csv"])
    assert table.exit_code == 0 and "residuals" in table.stdout and "RMSE" in table.stdout


def test_python_api_returns_the_typed_result(multiclass, caplog):
    model = AutoML.load(multiclass["dir"])
    test = multiclass["test"].copy()
    test.loc[:2, "y"] = "unheard-of"  # three rows with a class the model never saw are left out
    result = model.evaluate(test.drop(columns="y"), test["y"])
    assert isinstance(result, Evaluation)
    assert result.n_rows == len(test) - 3 and result.n_rows_left_out == 3
    kept = test.iloc[3:]
    assert result.score("accuracy") == pytest.approx(accuracy_score(kept["y"], model.predict(kept.drop(columns="y"))))
    assert sum(map(sum, result.confusion.counts)) == len(kept)
    assert any("left out 3 row(s)" in r.getMessage() for r in caplog.records)


def test_bad_inputs_are_one_line(multiclass, regression, tmp_path):
    assert_bad_input(invoke("evaluate", multiclass["dir"], multiclass["csv"], "--target", "nope"), "'nope' not found")
    assert_bad_input(invoke("evaluate", tmp_path / "absent", multiclass["csv"]), "does not exist")
    assert_bad_input(invoke("evaluate", multiclass["dir"], tmp_path / "absent.csv"), "does not exist")
    unseen = multiclass["test"].assign(y="unheard-of")
    unseen.to_csv(tmp_path / "unseen.csv", index=False)
    assert_bad_input(invoke("evaluate", multiclass["dir"], tmp_path / "unseen.csv"), "no label", "'low'")
    text = regression["test"].assign(y="many")
    text.to_csv(tmp_path / "text.csv", index=False)
    assert_bad_input(invoke("evaluate", regression["dir"], tmp_path / "text.csv"), "not numeric")
    assert_bad_input(invoke("evaluate", multiclass["dir"]), "missing argument 'DATA'")


def test_weight_and_group_columns_are_not_taken_for_features(tmp_path):
    weighted = fit_cli_model(tmp_path, "binary", weighted=True)
    result = invoke("evaluate", weighted["dir"], weighted["csv"])
    assert result.exit_code == 0, result.stderr
    assert "ignoring" not in result.stderr and "'w'" not in result.stderr and "'g'" not in result.stderr
