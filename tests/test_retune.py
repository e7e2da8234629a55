"""`automl retune` end to end on the bundled example: the challenger replaces the model only when it scores better
on held-out new rows, starts from the model's own best configurations, and an interrupted or killed retune
leaves the model exactly as it was."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import knowledge_base
from automl import AutoML
from automl import persistence
from automl.retune import ORIGIN, previous_configs
from cli import main
from knowledge_base.canonical import config_id
from tests.conftest import EXAMPLE, REPO

EXAMPLE_V2 = EXAMPLE.with_name("customers_v2.csv")
CLI = [sys.executable, "-c", "import cli; cli.main()"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _digest(model_dir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(model_dir.iterdir())}


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("retune")
    out, kb = tmp / "champion", tmp / "kb.duckdb"
    result = invoke("fit", EXAMPLE, "--target", "churned", "--time-budget", 30, "--max-trials", 3, "--out", out,
                    "--kb", kb, "--quiet", "--json")
    assert result.exit_code == 0, result.stderr
    return out, kb


@pytest.fixture
def champion(fitted, tmp_path):
    """A copy of the fitted model (and its knowledge base) that the test may replace."""
    out, kb = fitted
    shutil.copytree(out, tmp_path / "model")
    shutil.copy(kb, tmp_path / "kb.duckdb")
    return tmp_path / "model", tmp_path / "kb.duckdb"


def test_retune_on_drifted_data_replaces_the_model_and_starts_from_its_best(champion):
    model_dir, kb = champion
    before = _digest(model_dir)
    first = previous_configs(AutoML.load(model_dir))
    result = invoke("retune", model_dir, EXAMPLE_V2, "--time-budget", 40, "--max-trials", 6, "--kb", kb, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["replaced"] is True and summary["challenger_score"] > summary["champion_score"]
    assert summary["n_held_out_rows"] == 250 and summary["n_train_rows"] == 750 and summary["n_trials"] == 6
    assert summary["drift"]["verdict"] == "major" and summary["model_dir"] == str(model_dir)
    assert _digest(model_dir) != before
    model = AutoML.load(model_dir)
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert manifest["fit"]["retune"]["replaced"] is True and manifest["validation"] == "user-valid"
    assert manifest["profile"]["n_rows"] == 750  # the next drift compares against the new data
    assert set(model.predict(pd.read_csv(EXAMPLE_V2))) <= {"yes", "no"}
    # the challenger's first trials are the previous model's best configurations, tagged with that origin
    board = model.leaderboard_
    assert {config_id(json.loads(c)) for c in board.loc[board["origin"] == ORIGIN, "config"]} == \
        {config_id(s["config"]) for s in first}
    written = knowledge_base.open_store(kb).evaluations(origin=ORIGIN)
    assert {config_id(json.loads(c)) for c in written["config"]} == {config_id(s["config"]) for s in first}


def test_a_champion_the_challenger_cannot_beat_is_kept_unchanged(champion, tmp_path):
    """New data identical to the training data: the champion has seen the held-out rows, one challenger trial
    cannot match it, so the decision is deterministic."""
    model_dir, kb = champion
    before = _digest(model_dir)
    result = invoke("retune", model_dir, EXAMPLE, "--time-budget", 30, "--max-trials", 1, "--kb", kb, "--json",
                    "--out", tmp_path / "elsewhere")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["replaced"] is False and summary["champion_score"] > summary["challenger_score"]
    assert summary["drift"]["verdict"] == "none" and summary["model_dir"] == str(model_dir)
    assert _digest(model_dir) == before and not (tmp_path / "elsewhere").exists()
    text = invoke("retune", model_dir, EXAMPLE, "--time-budget", 30, "--max-trials", 1, "--kb", kb)
    assert text.exit_code == 0 and "kept: the model in" in text.stdout and "champion" in text.stdout
    assert _digest(model_dir) == before


def test_a_model_without_profile_is_retuned_without_drift_figures(champion, tmp_path):
    model_dir, kb = champion
    model = AutoML.load(model_dir)
    del model.profile_  # as saved by a version without profiles
    model.save(model_dir)
    result = invoke("retune", model_dir, EXAMPLE, "--time-budget", 30, "--max-trials", 1, "--kb", kb, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["drift"] is None and "no profile" in summary["drift_note"]
    assert "no profile" in result.stderr


def test_retune_bad_input_is_one_line_exit_2(champion, tmp_path):
    model_dir, kb = champion
    before = _digest(model_dir)

    def one_line(result, *words):
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and all(w in lines[0] for w in words), lines

    one_line(invoke("retune", tmp_path / "nowhere", EXAMPLE_V2, "--kb", kb), "does not exist")
    one_line(invoke("retune", model_dir, tmp_path / "missing.csv", "--kb", kb), "does not exist")
    (tmp_path / "a-file").write_text("not a directory")
    one_line(invoke("retune", model_dir, EXAMPLE_V2, "--kb", kb, "--out", tmp_path / "a-file"), "--out",
             "not a directory")
    one_line(invoke("retune", model_dir, EXAMPLE_V2, "--kb", tmp_path), "--kb", "is a directory")
    frame = pd.read_csv(EXAMPLE_V2)
    unlabelled = tmp_path / "unlabelled.csv"
    frame.drop(columns=["churned"]).to_csv(unlabelled, index=False)
    one_line(invoke("retune", model_dir, unlabelled, "--kb", kb), "no target column")
    new_class = tmp_path / "new_class.csv"
    frame.assign(churned=frame["churned"].where(frame.index % 7 != 0, "maybe")).to_csv(new_class, index=False)
    one_line(invoke("retune", model_dir, new_class, "--kb", kb, "--max-trials", 1), "never saw", "maybe")
    assert _digest(model_dir) == before


def test_a_save_stopped_in_the_middle_leaves_a_whole_model(champion, monkeypatch):
    """Replacing a model directory is one swap: stopped right after it (here: the old copy's removal fails the
    way a kill would stop it), the directory holds a whole model, never nothing. Two renames left it absent."""
    model_dir, _ = champion
    model = AutoML.load(model_dir)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    real_replace, calls = os.replace, []

    def replace_then_killed(src, dst):  # the first rename happens, the process dies before the second
        calls.append(src)
        if len(calls) > 1:
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(persistence.shutil, "rmtree", killed)
    monkeypatch.setattr(persistence.os, "replace", replace_then_killed)
    with pytest.raises(KeyboardInterrupt):
        model.save(model_dir)
    monkeypatch.undo()
    assert AutoML.load(model_dir).task_ == "binary"


def _retune_process(model_dir: Path, kb: Path, tmp: Path) -> subprocess.Popen:
    def default_sigint():  # Ctrl-C at its default, as from a terminal (see tests/test_interrupt.py)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    return subprocess.Popen(CLI + ["retune", str(model_dir), str(EXAMPLE_V2), "--time-budget", "120", "--kb", str(kb),
                                   "--json"], cwd=REPO, env={**os.environ, "TMPDIR": str(tmp)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)


def _when_a_trial_finished(proc: subprocess.Popen, tmp: Path) -> None:
    deadline = time.monotonic() + 90
    while not any(tmp.glob("automl-search-*/trial-*.joblib")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()[1]
    time.sleep(0.5)  # mid-search: trials keep running


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_an_interrupted_retune_leaves_the_model_unchanged(champion, tmp_path, sig):
    model_dir, kb = champion
    before = _digest(model_dir)
    sha = json.loads((model_dir / "manifest.json").read_text())["model_sha256"]
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = _retune_process(model_dir, kb, tmp)
    try:
        _when_a_trial_finished(proc, tmp)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    if sig == signal.SIGINT:
        assert proc.returncode == 130, stderr
        assert stderr.strip().splitlines()[-1] == "error: interrupted" and "Traceback" not in stderr
        assert "unchanged" in stderr and stdout == ""
    else:
        assert proc.returncode == -signal.SIGKILL
    assert _digest(model_dir) == before
    assert json.loads((model_dir / "manifest.json").read_text())["model_sha256"] == sha
    assert AutoML.load(model_dir).task_ == "binary"
    assert sorted(p.name for p in model_dir.parent.iterdir() if p.name.startswith(".")) == []


def test_the_held_out_rows_follow_the_models_time_column_or_groups():
    from automl.retune import held_out_split
    n = 400
    frame = pd.DataFrame({"day": pd.Series(range(n)).sample(frac=1, random_state=0).to_numpy(),
                          "x": range(n)})
    y = (frame["x"] % 2).to_numpy()
    scheme, train, held = held_out_split(y, "binary", frame, None, "day", seed=0)
    assert scheme.protocol == "time-holdout0.25" and len(held) == 100
    assert frame["day"].iloc[held].min() > frame["day"].iloc[train].max()  # the latest rows
    groups = pd.Series(frame["x"] // 10, name="shop")
    scheme, train, held = held_out_split(y, "binary", frame, groups, None, seed=0)
    assert scheme.protocol == "group-holdout0.25"
    assert not set(groups.iloc[held]) & set(groups.iloc[train])  # no shop on both sides
    assert held_out_split(y, "binary", frame, None, None, seed=0)[0].protocol == "holdout0.25"


def test_a_model_fitted_with_a_time_column_is_retuned_on_the_latest_rows(tmp_path):
    from automl.retune import retune
    table = pd.read_csv(EXAMPLE).dropna(subset=["signup_date"])
    champion = AutoML(time_budget=30, max_trials=1, time_column="signup_date", write_back=False)
    champion.fit(table.drop(columns=["churned"]), table["churned"])
    champion.save(tmp_path / "model")
    new = pd.read_csv(EXAMPLE_V2).dropna(subset=["signup_date"])
    result = retune(AutoML.load(tmp_path / "model"), tmp_path / "model", new, target="churned", time_budget=30,
                    max_trials=1)
    assert result.held_out == "time-holdout0.25" and result.n_held_out_rows + result.n_train_rows == len(new)


def test_the_challenger_keeps_the_models_column_choices(tmp_path):
    """Columns the user dropped from the model stay dropped in the challenger (whatever the decision)."""
    from automl.deadline import Deadline
    from automl.retune import _contest
    table = pd.read_csv(EXAMPLE)
    champion = AutoML(time_budget=30, max_trials=1, drop_columns=("city",), write_back=False)
    champion.fit(table.drop(columns=["churned"]), table["churned"])
    _, challenger = _contest(champion, tmp_path / "model", pd.read_csv(EXAMPLE_V2), target="churned", out=None,
                             time_budget=30, deadline=Deadline(30), seed=None, max_trials=1, n_jobs=1,
                             knowledge_base=None, callback=None)
    assert challenger.encoder_.dropped_["city"] == "dropped by drop_columns"
