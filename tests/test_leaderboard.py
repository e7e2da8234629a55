"""The leaderboard (issue 29): the final model first with the score the "best" line prints, then trials ranked
by score among those at full fidelity, then partial-fidelity trials, marked as not comparable."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from automl import AutoML
from automl.leaderboard import FINAL, PARTIAL, PARTIAL_NOTE, TRIAL, final_model, leaderboard
from cli import main
from tests.conftest import EXAMPLE


def trial(cid, family, fidelity, score, status="ok"):
    return {"config_id": cid, "family": family, "fidelity": fidelity, "score": score,
            "loss": -score if score is not None else None, "fit_seconds": 0.1, "status": status, "origin": "kb",
            "error": None, "config": {"family": family}}


def test_final_model_first_then_full_fidelity_by_score_then_partial_then_failed():
    trials = [trial("rf", "random_forest", 1.0, 0.904), trial("lgb_small", "lightgbm", 1 / 3, 0.95),
              trial("bad", "knn", 1.0, None, status="failed"), trial("lgb", "lightgbm", 1.0, 0.920),
              trial("svm", "svm", 1.0, 0.91)]
    final = final_model([("svm", 0.4), ("lgb", 0.6)], trials, {"family": "svm"}, 0.931, -0.931)
    assert final.describe() == "ensemble of lightgbm 0.6, svm 0.4" and final.family == "ensemble"
    board = leaderboard(trials, final)
    assert list(board["config_id"]) == ["lgb+svm", "lgb", "svm", "rf", "lgb_small", "bad"]
    assert list(board["kind"]) == [FINAL, TRIAL, TRIAL, TRIAL, PARTIAL, TRIAL]
    assert board.iloc[0]["score"] == 0.931 and board.index[0] == 1 and board.index.name == "rank"
    assert json.loads(board.iloc[0]["config"])["members"][0] == {"config_id": "lgb", "family": "lightgbm",
                                                                 "weight": 0.6}
    single = final_model([("rf", 1.0)], trials, {"family": "random_forest"}, 0.904, -0.904)
    assert single.describe() == "random_forest" and single.config_id == "rf"


def test_printed_board_starts_with_the_final_model_and_ranks_full_fidelity_scores(tmp_path):
    # max_trials ends each fit (three trials, then two); the budget only bounds a busy machine
    result = CliRunner().invoke(main, ["fit", str(EXAMPLE), "--target", "churned", "--time-budget", "60",
                                       "--max-trials", "3", "--out", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["kind", "family"])
    rows = lines[header + 2:]  # the header, then the index name line
    best = re.search(r"^best roc_auc: (\S+)  \((.+)\)$", result.stdout, re.M)
    assert best, result.stdout
    assert rows[0].split()[:2] == ["1", "final"] and best.group(2) in rows[0] and best.group(1) in rows[0].split()
    full = [float(line.split()[-5]) for line in rows if line.split()[1:2] == ["trial"] and
            line.split()[-3] == "ok" and float(line.split()[-6]) == 1.0]
    assert len(full) >= 2 and full == sorted(full, reverse=True), result.stdout  # roc_auc: higher is better
    summary = json.loads(CliRunner().invoke(main, ["fit", str(EXAMPLE), "--target", "churned", "--time-budget", "60",
                                                   "--max-trials", "2", "--out", str(tmp_path / "j"), "--json"]
                                            ).stdout)
    first = summary["leaderboard"][0]
    assert first["kind"] == "final" and first["score"] == pytest.approx(summary["best_score"], rel=1e-9)
    assert first["family"] == summary["final_model"]["family"]


def test_lower_is_better_ranks_ascending_and_partial_rows_are_explained(tmp_path):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(12_000, 4)), columns=list("abcd"))
    X.assign(y=X["a"] * 2 + np.sin(X["b"] * 3) + rng.normal(0, 0.5, len(X))).to_csv(tmp_path / "r.csv", index=False)
    # five trials: three screened on a third of the rows, two at full fidelity (random forest left out: the
    # costliest family here, its place at full fidelity goes to k-NN); the budget only bounds a busy machine
    result = CliRunner().invoke(main, ["fit", str(tmp_path / "r.csv"), "--target", "y", "--strategy", "hyperband",
                                       "--max-trials", "5", "--exclude", "random_forest", "--time-budget", "60",
                                       "--out", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    board = AutoML.load(tmp_path / "m").leaderboard_
    assert board.iloc[0]["kind"] == FINAL
    full = board[(board["kind"] == TRIAL) & (board["status"] == "ok")]["score"].tolist()
    assert len(full) >= 2 and full == sorted(full)  # rmse: lower is better
    kinds = board["kind"].tolist()
    assert PARTIAL in kinds, board  # successive halving on 12,000 rows screens on a third of them
    assert kinds.index(PARTIAL) > max(i for i, k in enumerate(kinds) if k == TRIAL and board.iloc[i]["status"] == "ok")
    assert f"({PARTIAL_NOTE})" in result.stdout
