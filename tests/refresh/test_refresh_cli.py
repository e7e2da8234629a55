"""``automl kb refresh``: summary, log, exit status (0 all good, 1 a dataset failed, 2 bad options)."""
from __future__ import annotations

import json

from click.testing import CliRunner

import knowledge_base as kb
from cli import main
from tests.fixtures.openml_server import OpenMLStandIn
from tests.fixtures.tables import make_dataset
from tests.refresh.conftest import TINY_POOL


def _folder(tmp_path, broken: bool):
    folder = tmp_path / "data"
    folder.mkdir()
    make_dataset("regression", n=60, seed=1).to_csv(folder / "prices.csv", index=False)
    (folder / "datasets.csv").write_text("file,target,task\nprices.csv,y,regression\n")
    if broken:
        (folder / "empty.csv").write_text("")
    return folder


def _args(tmp_path, *extra):
    pool = tmp_path / "pool.json"
    pool.write_text(json.dumps(TINY_POOL[:2]))
    store = tmp_path / "kb.duckdb"
    kb.open_store(store, seed_dir=None)  # an existing, unseeded store
    return ["kb", "refresh", "--kb", str(store), "--budget", "0", "--candidates", str(pool), *extra]


def test_cli_refresh_exit_codes_summary_and_log(tmp_path):
    runner = CliRunner()
    args = _args(tmp_path, "--from-dir", str(_folder(tmp_path, broken=True)))
    result = runner.invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "added 1, updated 0, skipped 0, failed 1" in result.output
    assert "failed: empty" in result.output
    log = (tmp_path / "kb.duckdb.refresh.log").read_text()
    assert "prices: added" in log and "empty: failed" in log

    (tmp_path / "data" / "empty.csv").unlink()
    again = runner.invoke(main, args + ["--json"])
    assert again.exit_code == 0, again.output
    summary = json.loads(again.output)
    assert summary["skipped"] == 1 and summary["added"] == 0 and summary["failed"] == 0


def test_cli_refresh_bad_options_exit_2(tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, _args(tmp_path)).exit_code == 2  # no source
    both = _args(tmp_path, "--from-dir", str(tmp_path), "--openml-tasks", "1")
    assert runner.invoke(main, both).exit_code == 2
    assert runner.invoke(main, _args(tmp_path, "--openml-tasks", "1,x")).exit_code == 2
    assert runner.invoke(main, _args(tmp_path, "--from-dir", str(tmp_path / "nowhere"))).exit_code == 2


def test_cli_refresh_from_openml(tmp_path):
    with OpenMLStandIn() as server:
        did = server.add_dataset(make_dataset("binary", n=60, seed=4, messy=False), "y", "tiny")
        tid = server.add_task(did)
        args = _args(tmp_path, "--openml-tasks", str(tid), "--openml-server", server.api_url,
                     "--openml-cache", str(tmp_path / "cache"), "--timeout", "5", "--json")
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["added"] == 1
