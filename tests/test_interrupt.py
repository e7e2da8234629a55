"""Ctrl-C during ``automl fit``: a real SIGINT to a real process. The search stops, the best model found so far
is saved and predicts, and the evaluations made are still written back to the knowledge base."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "customers.csv"
CLI = [sys.executable, "-c", "import cli; cli.main()"]


def _first_trial_finished(tmp: Path) -> bool:
    """A search work directory holds a trial's kept models: at least one trial has finished."""
    return any(tmp.glob("automl-search-*/trial-*.joblib"))


def _workers_starting(tmp: Path) -> bool:
    return any(tmp.glob("automl-search-*/data.joblib"))


def _default_sigint() -> None:
    """A process inherits an ignored SIGINT from its parent, and Python then keeps ignoring Ctrl-C (what a
    ``nohup`` job wants). The fit runs as from a terminal: Ctrl-C at its default, whatever state the test
    process is in (a suite started in the background by a non-interactive shell ignores SIGINT, and the fit
    then ran its whole budget)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _fit(tmp: Path, kb: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(CLI + ["fit", str(EXAMPLE), "--target", "churned", "--time-budget", "120", "--kb",
                                   str(kb), "--out", str(out), "--json", "--n-jobs", "2"],
                            cwd=REPO, env={**os.environ, "TMPDIR": str(tmp)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)


def _interrupt_when(proc: subprocess.Popen, ready, settle: float = 0.0) -> tuple[str, str, float]:
    """Send SIGINT ``settle`` seconds after ``ready()``; (stdout, stderr, seconds from the signal to the exit)."""
    try:
        deadline = time.monotonic() + 90
        while not ready() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()[1]
        assert ready(), "the search did not get there within 90 s"
        time.sleep(settle)
        proc.send_signal(signal.SIGINT)
        signalled = time.monotonic()
        stdout, stderr = proc.communicate(timeout=60)
        return stdout, stderr, time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()


def _run_side_by_side(commands: list[list[str]], env: dict) -> list[subprocess.CompletedProcess]:
    """Run ``commands`` as processes at the same time; each one's outcome (any still running after 120 s is
    killed, and the test fails)."""
    procs = [subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for command in commands]
    try:
        outputs = [proc.communicate(timeout=120) for proc in procs]
        return [subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
                for proc, (stdout, stderr) in zip(procs, outputs)]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_ctrl_c_keeps_the_best_model_so_far_and_writes_back(tmp_path):
    tmp, kb, out = tmp_path / "tmp", tmp_path / "kb.duckdb", tmp_path / "model"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = _fit(tmp, kb, out)
    # (settle: the first trial's models are on disk; give its result the moment it takes to reach the driver)
    stdout, stderr, seconds = _interrupt_when(proc, lambda: _first_trial_finished(tmp), settle=0.5)
    assert proc.returncode == 0, stderr  # the fit completes with the model it had
    assert "Traceback" not in stderr and "interrupted" in stderr, stderr
    assert seconds < 30  # it stopped, rather than running out the 120 s budget
    summary = json.loads(stdout)
    assert summary["interrupted"] is True
    assert summary["n_trials_ok"] >= 1
    assert summary["n_evaluations_written"] == summary["n_trials"] > 0
    assert (out / "manifest.json").is_file()
    assert not list(tmp.glob("automl-search-*"))  # the search's work directory is gone
    preds = tmp_path / "preds.csv"
    # the saved model predicts and the store opens: two processes at once (they read different files)
    done, info = _run_side_by_side([CLI + ["predict", str(out), str(EXAMPLE), "--out", str(preds)],
                                    CLI + ["kb", "info", "--kb", str(kb), "--json"]], env)
    assert done.returncode == 0, done.stderr
    assert set(pd.read_csv(preds)["prediction"]) <= {"yes", "no"}
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["n_evaluations"] >= summary["n_evaluations_written"]


def test_ctrl_c_while_the_workers_start_is_one_line_and_leaves_nothing_behind(tmp_path):
    """Interrupted before any trial finished there is no model to keep: exit code 130, the one line
    ``error: interrupted``, no worker traceback, no model directory and no search work directory left."""
    tmp, kb, out = tmp_path / "tmp", tmp_path / "kb.duckdb", tmp_path / "model"
    tmp.mkdir()
    proc = _fit(tmp, kb, out)
    stdout, stderr, _ = _interrupt_when(proc, lambda: _workers_starting(tmp))
    assert "Traceback" not in stderr, stderr
    if proc.returncode == 0:  # a trial happened to finish before the signal landed: the kept-model path
        assert json.loads(stdout)["interrupted"] is True
    else:
        assert proc.returncode == 130, stderr
        assert stderr.strip().splitlines()[-1] == "error: interrupted" and "keeping" not in stderr
        assert not out.exists()
    time.sleep(0.5)
    assert not list(tmp.glob("automl-search-*"))


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _fit_in_own_group(tmp: Path, kb: Path, out: Path) -> subprocess.Popen:
    """The fit as a terminal runs it: its own process group, which Ctrl-C signals as a whole."""
    return subprocess.Popen(CLI + ["fit", str(EXAMPLE), "--target", "churned", "--time-budget", "60", "--kb",
                                   str(kb), "--out", str(out), "--n-jobs", "2"],
                            cwd=REPO, env={**os.environ, "TMPDIR": str(tmp)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint, start_new_session=True)


@pytest.mark.parametrize("moment", ["fork server importing", "main importing", "workers starting"])
def test_ctrl_c_to_the_process_group_during_start_up_is_one_line(tmp_path, moment):
    """SIGINT to every process of the group (the fork server and the workers too) before any model exists:
    exit code 130, the one line ``error: interrupted``, no traceback from any of them, nothing saved."""
    if not Path(f"/proc/{os.getpid()}/stat").exists():
        pytest.skip("needs Linux /proc")
    tmp, kb, out = tmp_path / "tmp", tmp_path / "kb.duckdb", tmp_path / "model"
    tmp.mkdir()
    proc = _fit_in_own_group(tmp, kb, out)
    try:
        deadline = time.monotonic() + 60
        ready = {"fork server importing": lambda: _children(proc.pid),
                 "main importing": lambda: _children(proc.pid),
                 "workers starting": lambda: _workers_starting(tmp)}[moment]
        while not ready() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None and ready(), proc.communicate()[1]
        if moment == "main importing":
            time.sleep(0.4)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    if proc.returncode == 0:  # a trial finished before the signal landed: the kept-model path
        assert "interrupted" in stderr
        return
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "error: interrupted"
    assert not out.exists()
