"""`automl fit` / `automl predict` and the Python API end to end on real data."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from automl import AutoML, AutoMLClassifier, AutoMLRegressor
from automl.exceptions import InputError, ModelLoadError
from cli import main
from tests.conftest import EXAMPLE
from tests.fixtures.tables import make_dataset


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result


@pytest.fixture(scope="module")
def fitted_example(tmp_path_factory):
    """One CLI fit of the bundled example, shared by the predict tests (--max-trials: they check what a fit
    reports and saves, not what a time budget buys; the budget only bounds a busy machine)."""
    tmp = tmp_path_factory.mktemp("example")
    kb = tmp / "kb.duckdb"
    out = tmp / "model"
    result = invoke("fit", EXAMPLE, "--target", "churned", "--time-budget", 60, "--max-trials", 4, "--out", out,
                    "--kb", kb, "--json", "--seed", 1)
    assert result.exit_code == 0, result.stderr
    return out, kb, json.loads(result.stdout), result.stderr


def test_fit_example_json_summary(fitted_example):
    out, kb, summary, stderr = fitted_example
    assert summary["task"] == "binary" and summary["metric"] == "roc_auc"
    assert summary["n_trials"] >= 2
    assert summary["n_evaluations_written"] == summary["n_trials"]
    assert 0.6 < summary["best_score"] <= 1.0
    assert summary["dropped_columns"] == {"customer_id": "ID-like (a distinct value per row)",
                                          "country": "constant"}
    assert "dropped column 'customer_id'" in stderr
    manifest = json.loads((out / "manifest.json").read_text())
    for key in ("input_schema", "task", "metric", "classes", "seed", "time_budget", "leaderboard", "versions",
                "model_sha256"):
        assert key in manifest
    assert manifest["classes"] == ["no", "yes"]
    assert manifest["versions"]["lightgbm"]


def test_predict_labels_and_proba(fitted_example, tmp_path):
    out, _, _, _ = fitted_example
    data = pd.read_csv(EXAMPLE)
    preds = tmp_path / "preds.csv"
    result = invoke("predict", out, EXAMPLE, "--out", preds)
    assert result.exit_code == 0, result.stderr
    labels = pd.read_csv(preds)["prediction"]
    assert len(labels) == len(data) and set(labels) <= {"yes", "no"}
    result = invoke("predict", out, EXAMPLE, "--proba", "--out", preds)
    proba = pd.read_csv(preds)
    assert list(proba.columns) == ["proba_no", "proba_yes"]
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    model = AutoML.load(out)
    agree = (np.where(proba["proba_yes"] > 0.5, "yes", "no") == labels).mean()
    assert agree > 0.95
    assert (model.predict(data.drop(columns=["churned"])) == labels.to_numpy()).all()


def test_predict_column_order_extra_and_missing(fitted_example, tmp_path):
    out, _, _, _ = fitted_example
    data = pd.read_csv(EXAMPLE).drop(columns=["churned"])
    shuffled = data[list(reversed(data.columns))].assign(unused=1)
    shuffled.to_csv(tmp_path / "shuffled.csv", index=False)
    data.to_csv(tmp_path / "plain.csv", index=False)
    a = invoke("predict", out, tmp_path / "plain.csv")
    b = invoke("predict", out, tmp_path / "shuffled.csv")
    assert a.exit_code == 0 and b.exit_code == 0
    assert a.stdout == b.stdout
    assert "ignoring 1 column" in b.stderr
    data.drop(columns=["plan", "tenure_months"]).to_csv(tmp_path / "missing.csv", index=False)
    c = invoke("predict", out, tmp_path / "missing.csv", "--out", tmp_path / "never.csv")
    assert c.exit_code == 2 and "'plan'" in c.stderr and "'tenure_months'" in c.stderr
    assert not (tmp_path / "never.csv").exists()


def test_tampered_or_incompatible_model_is_refused(fitted_example, tmp_path):
    import shutil
    out, _, _, _ = fitted_example
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    with open(copy / "model.joblib", "ab") as fh:
        fh.write(b"tampered")
    result = invoke("predict", copy, EXAMPLE)
    assert result.exit_code == 2 and "checksum" in result.stderr
    with pytest.raises(ModelLoadError, match="checksum"):
        AutoML.load(copy)
    shutil.rmtree(copy)
    shutil.copytree(out, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["format_version"] = "99.0"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    result = invoke("predict", copy, EXAMPLE)
    assert result.exit_code == 2 and "format 99.0" in result.stderr


def test_missing_target_rows_are_dropped_and_counted(tmp_path):
    frame = make_dataset(n=80, seed=3)
    frame.loc[:4, "y"] = None
    frame.to_csv(tmp_path / "d.csv", index=False)
    result = invoke("fit", tmp_path / "d.csv", "--target", "y", "--time-budget", 6, "--out", tmp_path / "m",
                    "--max-trials", 3, "--json")
    assert result.exit_code == 0, result.stderr
    assert "dropped 5 row(s) whose target 'y' is missing" in result.stderr
    assert json.loads(result.stdout)["rows_dropped_missing_target"] == 5


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_python_api_tasks(task):
    frame = make_dataset(task, n=240, seed=1)
    X, y = frame.drop(columns=["y"]), frame["y"]
    model = AutoML(time_budget=8, seed=0, max_trials=6).fit(X.iloc[:200], y.iloc[:200])
    assert model.task_ == task
    pred = model.predict(X.iloc[200:])
    if task == "multiclass":
        assert model.metric_ == "log_loss"
        proba = model.predict_proba(X.iloc[200:])
        assert proba.shape == (40, 3)
        assert list(model.classes_) == ["high", "low", "mid"]
        assert (pred == y.iloc[200:].to_numpy()).mean() > 0.6
    else:
        assert model.metric_ == "rmse"
        assert np.corrcoef(pred, y.iloc[200:])[0, 1] > 0.8
        with pytest.raises(InputError):
            model.predict_proba(X.iloc[200:])


def test_real_pmlb_datasets(pmlb_dir):
    for name, cls in [("breast_cancer_wisconsin", AutoMLClassifier), ("1027_ESL", AutoMLRegressor)]:
        frame = pd.read_csv(pmlb_dir / f"{name}.tsv.gz", sep="\t")
        X, y = frame.drop(columns=["target"]), frame["target"]
        model = cls(time_budget=10, seed=0, max_trials=8).fit(X, y)
        score = model.score(X, y)
        assert score > (0.9 if cls is AutoMLClassifier else 0.6), (name, score)
        assert len(model.leaderboard_) == len(model.trials_) + 1 >= 3  # the final model's row, then every trial


def test_same_data_twice_is_one_dataset(tmp_path):
    import knowledge_base
    frame = make_dataset(n=100, seed=5)
    X, y = frame.drop(columns=["y"]), frame["y"]
    kb = tmp_path / "kb.duckdb"
    first = AutoMLClassifier(time_budget=6, max_trials=3, knowledge_base=str(kb)).fit(X, y)
    second = AutoMLClassifier(time_budget=6, max_trials=3, knowledge_base=str(kb), seed=1).fit(X, y)
    assert first.n_evaluations_written_ == len(first.trials_)
    info = knowledge_base.open_store(kb).info()
    assert info["n_evaluations"] >= first.n_evaluations_written_ + second.n_evaluations_written_
    assert info["n_runs"] >= 2
    seeded = info["n_datasets"]
    AutoMLClassifier(time_budget=6, max_trials=3, knowledge_base=str(kb), seed=2).fit(X, y)
    assert knowledge_base.open_store(kb).info()["n_datasets"] == seeded


def test_the_trial_runner_loads_without_the_model_libraries():
    """``automl fit`` starts the trial workers' fork server (which imports scikit-learn and LightGBM)
    before it imports them itself, so the two imports run side by side inside the budget (10 s on the
    bundled example: the first trial 0.9 s after the search starts before, 0.02 s after). That needs
    ``automl.search.runner`` to load without them."""
    import subprocess
    import sys
    from pathlib import Path
    code = ("import sys, automl.search.runner; "
            "print(sorted(m for m in ('sklearn', 'lightgbm', 'pandas', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"
