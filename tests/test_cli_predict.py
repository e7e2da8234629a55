"""``automl predict``: identifying columns passed through, and a warning for text in number columns."""
from __future__ import annotations

import logging

import pandas as pd
import pytest
from click.testing import CliRunner

from automl import AutoML
from cli import main
from tests.fixtures.cli_models import fit_cli_model
from tests.test_cli_errors import assert_bad_input

UNPARSED = "3 value(s) in column 'a' are not numbers and were treated as missing"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def binary(tmp_path_factory):
    return fit_cli_model(tmp_path_factory.mktemp("binary"), "binary")


def test_id_columns_come_first_in_the_order_given(binary, tmp_path):
    test = binary["test"].assign(account=[f"00{i}" for i in range(len(binary["test"]))])
    data = tmp_path / "new.csv"
    test.to_csv(data, index=False)
    out = tmp_path / "preds.csv"
    result = invoke("predict", binary["dir"], data, "--id-column", "account,row_id", "--keep-columns", "flag",
                    "--out", out)
    assert result.exit_code == 0, result.stderr
    written = pd.read_csv(out, dtype=str)
    assert list(written.columns) == ["account", "row_id", "flag", "prediction"]
    assert written["account"].tolist() == test["account"].tolist()  # leading zeros kept as written
    assert written["row_id"].tolist() == test["row_id"].tolist()
    expected = AutoML.load(binary["dir"]).predict(binary["test"].drop(columns="y"))
    assert written["prediction"].tolist() == list(expected)
    proba = invoke("predict", binary["dir"], data, "--proba", "--id-column", "row_id")
    assert proba.exit_code == 0, proba.stderr
    assert proba.stdout.splitlines()[0] == "row_id,proba_neg,proba_pos"


def test_missing_id_column_is_one_line(binary, tmp_path):
    out = tmp_path / "preds.csv"
    result = invoke("predict", binary["dir"], binary["csv"], "--id-column", "row_id,account", "--out", out)
    assert_bad_input(result, "--id-column", "'account'", "not found")
    assert not out.exists()


def test_n_jobs_gives_the_same_probabilities_and_a_bad_value_is_one_line(binary, tmp_path):
    data = tmp_path / "new.csv"
    binary["test"].to_csv(data, index=False)
    runs = [invoke("predict", binary["dir"], data, "--proba", *args) for args in ((), ("--n-jobs", "2"))]
    assert all(r.exit_code == 0 for r in runs), runs[1].stderr
    assert runs[0].stdout == runs[1].stdout
    assert_bad_input(invoke("predict", binary["dir"], data, "--n-jobs", "0"), "--n-jobs", "got 0")


def _with_text_in_a(test: pd.DataFrame) -> pd.DataFrame:
    bad = test.copy()
    bad["a"] = bad["a"].astype(object)
    bad.loc[[0, 1, 2], "a"] = ["abc", "n.a.", "12 kg"]  # three values that are not numbers
    bad.loc[[3, 4], "a"] = [None, ""]  # missing already: not counted
    return bad


def test_unparseable_numbers_warn_once_through_the_cli(binary, tmp_path):
    data = tmp_path / "bad.csv"
    _with_text_in_a(binary["test"]).to_csv(data, index=False)
    result = invoke("predict", binary["dir"], data, "--out", tmp_path / "p.csv")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count("not numbers") == 1
    assert f"warning: {UNPARSED}" in result.stderr.splitlines()
    clean = invoke("predict", binary["dir"], binary["csv"], "--out", tmp_path / "q.csv")
    assert "not numbers" not in clean.stderr


def test_unparseable_numbers_warn_once_through_the_python_api(binary, caplog):
    model = AutoML.load(binary["dir"])
    X = _with_text_in_a(binary["test"]).drop(columns="y")
    with caplog.at_level(logging.WARNING, logger="automl"):
        model.predict_proba(X)
    messages = [r.getMessage() for r in caplog.records if "not numbers" in r.getMessage()]
    assert messages == [UNPARSED]
