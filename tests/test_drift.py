"""`automl drift` and the drift report: PSI per column against the saved profile, on the bundled example and its
drifted second version."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from automl import AutoML
from automl.data import TableEncoder
from automl.drift import Verdict, drift_report, psi
from automl.profile import compute_profile
from cli import main
from tests.conftest import EXAMPLE

EXAMPLE_V2 = EXAMPLE.with_name("customers_v2.csv")


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def champion(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("drift")
    out = tmp / "model"
    result = invoke("fit", EXAMPLE, "--target", "churned", "--time-budget", 30, "--max-trials", 3, "--out", out,
                    "--kb", tmp / "kb.duckdb", "--quiet", "--json")
    assert result.exit_code == 0, result.stderr
    return out


def _profiled(X: pd.DataFrame, y: np.ndarray):
    encoder = TableEncoder().fit(X)
    return compute_profile(X, encoder, encoder.transform(X), y, "binary"), encoder


def test_psi_is_zero_for_the_same_shares_and_grows_with_the_shift():
    assert psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0
    assert 0 < psi(np.array([0.5, 0.5]), np.array([0.6, 0.4])) < psi(np.array([0.5, 0.5]), np.array([0.9, 0.1]))


def test_shifted_columns_drift_and_unchanged_ones_do_not():
    rng = np.random.default_rng(0)
    n = 5000
    old = pd.DataFrame({"same": rng.normal(0, 1, n), "shifted": rng.normal(0, 1, n),
                        "colour": rng.choice(["red", "green"], n), "gaps": rng.normal(0, 1, n)})
    profile, encoder = _profiled(old, (rng.random(n) < 0.5).astype(int))
    new = pd.DataFrame({"same": rng.normal(0, 1, n), "shifted": rng.normal(1.0, 1, n),
                        "colour": rng.choice(["red", "green", "blue"], n, p=[0.45, 0.45, 0.1]),
                        "gaps": np.where(rng.random(n) < 0.3, np.nan, rng.normal(0, 1, n)), "extra": 1})
    report = drift_report(profile, new, encoder)
    by_name = {c.name: c for c in report.columns}
    assert by_name["same"].verdict is Verdict.NONE and by_name["shifted"].verdict is Verdict.MAJOR
    assert by_name["colour"].verdict is Verdict.MAJOR and abs(by_name["colour"].unseen_share - 0.1) < 0.02
    assert by_name["gaps"].missing_share_before == 0 and abs(by_name["gaps"].missing_share_now - 0.3) < 0.02
    assert by_name["gaps"].verdict is not Verdict.NONE  # a missing share that jumps is drift too
    assert report.added_columns == ("extra",) and report.verdict is Verdict.MAJOR
    assert report.metafeature_distance is None  # no target given


def test_drift_on_the_drifted_example(champion):
    result = invoke("drift", champion, EXAMPLE_V2, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    verdicts = {c["name"]: c["verdict"] for c in report["columns"]}
    for shifted in ("signup_date", "monthly_spend", "support_calls", "plan"):
        assert verdicts[shifted] == "major", report
    # unchanged in the generator (city: 120 equally common cities, whose raw PSI is sampling noise)
    for unchanged in ("tenure_months", "autopay", "city"):
        assert verdicts[unchanged] == "none", report
    plan = next(c for c in report["columns"] if c["name"] == "plan")
    assert 0.08 < plan["unseen_share"] < 0.16  # the new "enterprise" plan
    assert report["verdict"] == "major" and report["n_rows_now"] == 1000 and report["n_rows_before"] == 800
    assert report["metafeature_distance"] > 0.1
    same = json.loads(invoke("drift", champion, EXAMPLE, "--json").stdout)
    assert same["verdict"] == "none" and same["metafeature_distance"] == 0
    assert all(c["psi"] == 0 for c in same["columns"])
    table = invoke("drift", champion, EXAMPLE_V2)
    assert table.exit_code == 0 and "drift major" in table.stdout and "monthly_spend" in table.stdout


def test_drift_bad_input_is_one_line_exit_2(champion, tmp_path):
    def one_line(result, *words):
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and all(w in lines[0] for w in words), lines

    one_line(invoke("drift", tmp_path / "nowhere", EXAMPLE_V2), "does not exist")
    one_line(invoke("drift", champion, tmp_path / "missing.csv"), "does not exist")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x00\x01\x02garbage")
    one_line(invoke("drift", champion, binary), "binary")
    lacking = tmp_path / "lacking.csv"
    pd.read_csv(EXAMPLE_V2).drop(columns=["plan"]).to_csv(lacking, index=False)
    one_line(invoke("drift", champion, lacking), "missing column", "plan")
    old = tmp_path / "old-model"  # a model saved before profiles were kept
    model = AutoML.load(champion)
    del model.profile_
    model.save(old)
    assert json.loads((old / "manifest.json").read_text())["profile"] is None
    one_line(invoke("drift", old, EXAMPLE_V2), "no profile")
    assert not list(tmp_path.glob("*.tmp-*"))
    shutil.rmtree(old)
