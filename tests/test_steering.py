"""Users steer the search (issue 9): families in and out, their own family and metric, imbalanced classes,
options kept in the manifest and the knowledge base and carried over by --resume."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.datasets import make_classification
from sklearn.metrics import make_scorer, matthews_corrcoef

import knowledge_base as kb
from automl import AutoML, AutoMLClassifier
from automl.metrics import make_metric
from automl.models import REGISTRY
from automl.space import SPACE_VERSION
from cli import main
from tests.conftest import EXAMPLE


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def customers():
    frame = pd.read_csv(EXAMPLE)
    return frame.drop(columns=["churned"]), frame["churned"]


def trial_rows(model):
    """The leaderboard without its first row, the final model (family "ensemble" when it is one)."""
    return model.leaderboard_[model.leaderboard_["kind"] != "final"]


def imbalanced_csv(path, n=700, seed=0):
    X, y = make_classification(n_samples=n, n_features=8, n_informative=4, weights=[0.9, 0.1], flip_y=0.02,
                               random_state=seed)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["w"] = np.where(y == 1, 2.0, 1.0)
    frame["label"] = np.where(y == 1, "fraud", "ok")
    frame.to_csv(path, index=False)
    return frame


def brier(y, p):  # a module-level custom metric (trials import it in worker processes)
    return float(np.mean((np.asarray(p)[:, 1] - np.asarray(y)) ** 2))


def test_unknown_family_is_bad_input_that_lists_the_valid_ones(tmp_path):
    result = CliRunner().invoke(main, ["fit", str(EXAMPLE), "--target", "churned", "--include", "lightgbm,xgb",
                                       "--time-budget", "5", "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert "unknown model family 'xgb'" in result.output and "lightgbm" in result.output
    assert not (tmp_path / "m").exists()
    with pytest.raises(Exception, match="leave no model family"):
        AutoMLClassifier(include=("linear",), exclude=("linear",), time_budget=5).fit(*customers())


def test_include_limits_the_search_and_the_warm_start_skips_other_families():
    X, y = customers()
    # max_trials: the same trials on any machine (the budget only bounds a busy machine); without include or
    # exclude, the first 4 are lightgbm, linear, svm and lightgbm
    model = AutoMLClassifier(include=("linear", "extra_trees"), time_budget=60, max_trials=6, n_jobs=2,
                             write_back=False).fit(X, y)
    assert set(trial_rows(model)["family"]) <= {"linear", "extra_trees"}
    assert model.warm_start_configs_, "the bundled knowledge base has linear and extra-trees configurations"
    assert {s["config"]["family"] for s in model.warm_start_configs_} <= {"linear", "extra_trees"}
    excluded = AutoMLClassifier(exclude=("lightgbm",), time_budget=60, max_trials=4, write_back=False).fit(X, y)
    assert "lightgbm" not in set(trial_rows(excluded)["family"])


def test_a_registered_user_family_is_searched_saved_and_stored(tmp_path):
    from tests.models.hist_gb_family import HIST_GB
    REGISTRY.register(HIST_GB)
    try:
        X, y = customers()
        # bo with max_trials: the same trials on any machine (each family's defaults first); a timed warm search
        # starts with the store's linear suggestions and reached the user's family once or not at all when busy
        model = AutoMLClassifier(include=("hist_gb", "linear"), time_budget=60, max_trials=6, strategy="bo",
                                 n_jobs=2, seed=1).fit(X, y)
        board = trial_rows(model)
        mine = board[board["family"] == "hist_gb"]
        assert (mine["status"] == "ok").sum() >= 2, board
        assert set(board["family"]) <= {"hist_gb", "linear"}
        model.save(tmp_path / "m")
        again = AutoML.load(tmp_path / "m")
        np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
        ev = kb.open_store().evaluations()
        stored = ev[ev["family"] == "hist_gb"]
        assert len(stored) == len(mine) and set(stored["space_version"].astype(str)) == {SPACE_VERSION}
        assert all(json.loads(c)["family"] == "hist_gb" for c in stored["config"])
    finally:
        REGISTRY.unregister(HIST_GB.key)


@pytest.mark.parametrize("metric, name", [
    (make_scorer(matthews_corrcoef), "matthews_corrcoef"),
    (make_metric(brier, greater_is_better=False, needs_proba=True, name="brier"), "brier"),
])
def test_custom_metrics_are_optimised_shown_and_stored_under_their_name(metric, name):
    X, y = customers()
    model = AutoMLClassifier(metric=metric, time_budget=8, max_trials=6, n_jobs=2).fit(X, y)
    assert name in model.metric_
    assert model.leaderboard_["score"].notna().any()
    ev = kb.open_store().evaluations()
    mine = ev[ev["run_id"] == model.run_id_]
    assert len(mine) == len(model.trials_) and set(mine["metric"]) == {model.metric_}
    scores = mine["score"].dropna()
    if name == "brier":  # lower is better: the best trial has the smallest score
        assert np.isclose(model.best_score_, scores.min()) or model.ensemble_
    # the same dataset under the default metric is a separate set of evaluations
    AutoMLClassifier(time_budget=5, max_trials=3).fit(X, y)
    ev = kb.open_store().evaluations()
    assert {model.metric_, "roc_auc"} <= set(ev["metric"])
    runs = ev.groupby("run_id")["metric"].nunique()
    assert (runs == 1).all()


def test_imbalanced_classes_shown_threshold_saved_options_kept_and_resumed(tmp_path):
    frame = imbalanced_csv(tmp_path / "fraud.csv")
    out = tmp_path / "m"
    # --max-trials: the same trials on any machine, ended when they are done (the budget only bounds a busy
    # machine); --resume carries it over with the other options
    first = invoke("fit", tmp_path / "fraud.csv", "--target", "label", "--metric", "f1", "--include",
                   "lightgbm,linear", "--weight-column", "w", "--time-budget", 60, "--max-trials", 4, "--n-jobs", 2,
                   "--out", out, "--json", "--quiet")
    assert first.exit_code == 0, first.output
    s1 = json.loads(first.output)
    counts = frame["label"].value_counts()
    dist = {c["class"]: c["count"] for c in s1["class_distribution"]}
    assert dist == {"fraud": counts["fraud"], "ok": counts["ok"]}
    weights = {c["class"]: c["weight"] for c in s1["class_distribution"]}
    assert weights["fraud"] == 2.0 * counts["fraud"]
    assert s1["decision_threshold"] is not None and 0.0 < s1["decision_threshold"] < 1.0
    assert s1["options"]["include"] == ["lightgbm", "linear"] and s1["options"]["weight_column"] == "w"
    assert s1["options"]["target"] == "label" and s1["options"]["metric"] == "f1"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["fit"]["options"]["weight_column"] == "w"
    assert manifest["fit"]["decision_threshold"] == s1["decision_threshold"]
    model = AutoML.load(out)
    assert model.model_.threshold == pytest.approx(s1["decision_threshold"])
    run = kb.open_store().runs().set_index("run_id").loc[manifest["kb_run_id"]]
    assert run["settings"]["options"]["include"] == ["lightgbm", "linear"]
    assert run["settings"]["class_distribution"] == s1["class_distribution"]
    # the printed leaderboard shows the class distribution
    shown = invoke("fit", tmp_path / "fraud.csv", "--target", "label", "--time-budget", 60, "--out",
                   tmp_path / "plain", "--max-trials", 2)
    assert "classes: fraud" in shown.output and "ok " in shown.output
    # --resume without repeating the options: target, metric, families and weights carry over
    second = invoke("fit", tmp_path / "fraud.csv", "--resume", out, "--time-budget", 60, "--n-jobs", 2, "--out",
                    tmp_path / "m2", "--json", "--quiet")
    assert second.exit_code == 0, second.output
    s2 = json.loads(second.output)
    assert s2["resumed_from"] == manifest["kb_run_id"]
    assert s2["metric"] == "f1" and s2["options"]["weight_column"] == "w"
    assert s2["options"]["include"] == ["lightgbm", "linear"]
    assert {row["family"] for row in s2["leaderboard"] if row["kind"] != "final"} <= {"lightgbm", "linear"}
    # an option given again on the command line wins over the stored one
    third = invoke("fit", tmp_path / "fraud.csv", "--resume", out, "--metric", "f1", "--include", "linear",
                   "--time-budget", 60, "--out", tmp_path / "m3", "--json", "--quiet")
    assert json.loads(third.output)["options"]["include"] == ["linear"]
