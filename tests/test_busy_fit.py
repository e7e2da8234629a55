"""Issue 29 end to end: the fallback named in --json with its held-out score, start-up phases, --resume saving
back into its directory and never returning a worse model, the model size in the summary and --compact."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from automl import AutoML
from automl.persistence import directory_size
from cli import main
from tests.conftest import EXAMPLE

DETERMINISTIC = ("--strategy", "bo", "--no-warm-start", "--seed", 0, "--time-budget", 120)


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def customers():
    frame = pd.read_csv(EXAMPLE)
    return frame.drop(columns=["churned"]), frame["churned"]


@pytest.fixture(scope="module")
def ensemble_fit(tmp_path_factory):
    """(model directory, --json summary) of the CLI fit of three deterministic trials (an ensemble of two), shared by
    the resume test (which resumes from it) and the compact test (which compares the compact model with it). It
    writes back into a store of its own: a module-wide fit must not write into a test's (``_isolated_kb``)."""
    root = tmp_path_factory.mktemp("ensemble-fit")
    out = root / "full"
    result = invoke("fit", EXAMPLE, "--target", "churned", "--max-trials", 3, *DETERMINISTIC, "--out", out, "--json",
                    "--quiet", "--kb", root / "kb.duckdb")
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def test_json_names_the_fallback_with_its_held_out_score(tmp_path):
    out = tmp_path / "m"
    # half a second leaves no time for any trial, the early one included: the fallback is all there is
    result = invoke("fit", EXAMPLE, "--target", "churned", "--time-budget", 0.5, "--out", out, "--json", "--quiet")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    fallback = summary["fallback"]
    assert fallback["reason"] and fallback["family"] == "lightgbm" and fallback["holdout_rows"] > 0
    assert math.isfinite(fallback["holdout_score"]) and summary["best_score"] == fallback["holdout_score"]
    assert json.loads((out / "manifest.json").read_text())["fit"]["fallback"] == fallback


def test_start_up_phases_and_model_size_are_reported(tmp_path):
    out = tmp_path / "m"
    result = invoke("fit", EXAMPLE, "--target", "churned", "--time-budget", 5, "--out", out, "--json", "--quiet")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["fallback"] is None and math.isfinite(summary["best_score"])
    phases = summary["startup"]
    assert {"imports", "load", "encode", "metafeatures", "knowledge_base", "worker_start", "first_trial"} <= set(phases)
    assert all(p["wall_seconds"] >= 0 and p["cpu_seconds"] >= 0 for p in phases.values())
    assert summary["model_size_bytes"] == directory_size(out) > 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model_bytes"] == (out / "model.joblib").stat().st_size
    assert manifest["fit"]["timings"]["startup"] == phases
    shown = invoke("fit", EXAMPLE, "--target", "churned", "--max-trials", 1, "--out", tmp_path / "t", "--quiet")
    assert f"model saved to {tmp_path / 't'} ({directory_size(tmp_path / 't') / 1e6:.1f} MB)" in shown.output


def test_resume_without_out_saves_back_into_the_resumed_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "m"
    first = invoke("fit", EXAMPLE, "--target", "churned", "--max-trials", 1, *DETERMINISTIC, "--out", out, "--json")
    assert first.exit_code == 0, first.output
    run_id = json.loads((out / "manifest.json").read_text())["kb_run_id"]
    second = invoke("fit", EXAMPLE, "--resume", out, "--max-trials", 1, "--json", "--quiet")
    assert second.exit_code == 0, second.output
    summary = json.loads(second.stdout)
    assert summary["model_dir"] == str(out) and summary["resumed_from"] == run_id
    assert json.loads((out / "manifest.json").read_text())["resumed_from"] == run_id
    assert not (tmp_path / "models").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kb", "m"]  # (no staging or old copy left beside it)


def test_a_resumed_search_never_returns_a_worse_model(ensemble_fit):
    X, y = customers()
    kwargs = dict(strategy="bo", warm_start=False, seed=0, time_budget=120, write_back=False)
    three = AutoML.load(ensemble_fit[0])  # the search of AutoML(max_trials=3, **kwargs), fitted by the CLI
    assert len(three.ensemble_) > 1  # an ensemble better than its best member
    # one more trial: the earlier best, evaluated again alone, scores below the earlier ensemble
    one_more = AutoML(max_trials=1, **kwargs).fit(X, y, resume=three)
    assert one_more.fit_info_["kept_previous_model"] is True
    assert one_more.best_score_ == three.best_score_ and one_more.ensemble_ == three.ensemble_
    assert np.array_equal(one_more.predict_proba(X), three.predict_proba(X))
    assert len(one_more.trials_) == len(three.trials_) + 1
    # no time for any trial: the fallback's score is on a holdout of its own, so the resumed model is kept
    hurried = AutoML(**{**kwargs, "time_budget": 0.5}).fit(X, y, resume=three)
    assert hurried.fit_info_["kept_previous_model"] is True and hurried.fit_info_["fallback"] is None
    assert np.array_equal(hurried.predict_proba(X), three.predict_proba(X))
    # the other way round the new search is at least as good: its own model is returned
    one = AutoML(max_trials=1, **kwargs).fit(X, y)
    more = AutoML(max_trials=2, **kwargs).fit(X, y, resume=one)
    assert more.fit_info_["kept_previous_model"] is False and more.best_score_ >= one.best_score_


def test_compact_saves_a_smaller_model_that_predicts(tmp_path, ensemble_fit):
    full, summary = ensemble_fit  # the same search without --compact
    sizes, summaries = {"full": summary["model_size_bytes"]}, {"full": summary}
    assert sizes["full"] == directory_size(full)
    out = tmp_path / "compact"
    result = invoke("fit", EXAMPLE, "--target", "churned", "--max-trials", 3, *DETERMINISTIC, "--compact", "--out",
                    out, "--json", "--quiet")
    assert result.exit_code == 0, result.output
    summaries["compact"] = json.loads(result.stdout)
    sizes["compact"] = summaries["compact"]["model_size_bytes"]
    assert sizes["compact"] == directory_size(out)
    assert summaries["full"]["compact"] is None and len(summaries["full"]["ensemble"]) > 1
    compact = summaries["compact"]["compact"]
    assert compact["kept"] == "single" and compact["refit"] is True
    assert summaries["compact"]["ensemble"] == [[compact["member"], 1.0]]
    assert abs(compact["single_score"] - compact["ensemble_score"]) <= 0.01 * compact["ensemble_score"]
    assert sizes["compact"] < sizes["full"] / 2, sizes
    assert json.loads((tmp_path / "compact" / "manifest.json").read_text())["fit"]["compact"] == compact
    predicted = invoke("predict", tmp_path / "compact", EXAMPLE, "--quiet")
    assert predicted.exit_code == 0, predicted.output
    assert len(predicted.stdout.strip().splitlines()) == len(pd.read_csv(EXAMPLE)) + 1  # header + one per row

