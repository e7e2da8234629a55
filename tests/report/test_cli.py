"""`automl report` and `automl kb report`."""
from __future__ import annotations

from click.testing import CliRunner

from cli import main
from tests.report.pages import assert_valid_kb_page, assert_valid_page


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_report_command_with_evaluation_data(binary_model, tmp_path):
    out = tmp_path / "report.html"
    result = invoke("report", binary_model["dir"], "--out", out, "--data", binary_model["csv"], "--target", "y",
                    "--max-rows", 50)
    assert result.exit_code == 0, result.stderr
    assert f"report written to {out}" in result.stderr
    page = out.read_text(encoding="utf-8")
    assert_valid_page(page)
    assert "on 50 rows of test.csv" in page and "on 80 rows of test.csv" in page


def test_report_command_defaults_to_the_model_directory(regression_model):
    result = invoke("report", regression_model["dir"], "--quiet")
    assert result.exit_code == 0, result.stderr
    page = (regression_model["dir"] / "report.html").read_text(encoding="utf-8")
    assert_valid_page(page)
    assert "This section needs evaluation data" in page


def test_report_command_errors_are_one_line(binary_model, tmp_path):
    result = invoke("report", binary_model["dir"], "--data", binary_model["csv"])
    assert result.exit_code == 2 and result.stderr.startswith("error: --data and --target go together")
    result = invoke("report", tmp_path / "nowhere")
    assert result.exit_code == 2 and "does not exist" in result.stderr
    result = invoke("report", binary_model["dir"], "--data", binary_model["csv"], "--target", "nope")
    assert result.exit_code == 2 and "nope" in result.stderr


def test_kb_report_command(kb_store, binary_model, tmp_path):
    out = tmp_path / "kb.html"
    result = invoke("kb", "report", "--kb", kb_store.path, "--out", out, "--data", binary_model["csv"],
                    "--target", "y")
    assert result.exit_code == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    assert_valid_kb_page(page)
    assert "Nearest past datasets to test.csv (binary)" in page
