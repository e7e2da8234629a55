"""Validation the user controls (issue 29): their own validation rows, grouped folds, forward-chaining time folds;
the scheme recorded in the manifest, --json and the knowledge base, kept by --resume; bad input exits 2."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.metrics import roc_auc_score

import knowledge_base as kb
from automl import AutoMLClassifier
from automl.exceptions import InputError
from cli import main
from tests.conftest import EXAMPLE
from tests.fixtures.tables import make_dataset

# max_trials ends a fit after 2 trials; the budget only bounds a busy machine's worker start-up
QUICK = dict(time_budget=8, seed=0, warm_start=False, strategy="bo", max_trials=2)
QUICK_CLI = ["--time-budget", 8, "--max-trials", 2, "--strategy", "bo", "--no-warm-start", "--json", "-q"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def grouped_table(n_groups: int = 100, per_group: int = 4, seed: int = 0):
    """Rows of a group are near-duplicates and the label is a property of the group unrelated to the features:
    row-shuffled CV scores memorised neighbours (AUC near 1); only grouped folds see there is nothing to learn."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_groups, 5))
    label = rng.random(n_groups) < 0.5
    g = np.repeat(np.arange(n_groups), per_group)
    X = pd.DataFrame(centres[g] + rng.normal(scale=0.01, size=(len(g), 5)), columns=[f"x{i}" for i in range(5)])
    return X, pd.Series(np.where(label[g], "yes", "no"), name="y"), pd.Series([f"s{i:03d}" for i in g], name="site")


def test_grouped_folds_are_not_fooled_by_near_duplicate_rows(tmp_path):
    X, y, site = grouped_table()
    store_path = tmp_path / "kb.duckdb"
    grouped = AutoMLClassifier(**QUICK, include=("knn", "lightgbm"), knowledge_base=str(store_path))
    grouped.fit(X, y, groups=site)
    plain = AutoMLClassifier(**QUICK, include=("knn", "lightgbm"), write_back=False).fit(X, y)
    assert plain.validation_ == "cv5" and plain.best_score_ > 0.95  # optimistic: neighbours from the same site
    assert grouped.validation_ == "group-cv5" and grouped.best_score_ < 0.75
    assert grouped.fit_info_["validation"] == {"kind": "group", "protocol": "group-cv5", "n_splits": 5,
                                               "groups_column": "site", "time_column": None, "valid_rows": None}
    store = kb.open_store(store_path)
    evaluations = store.evaluations(run_id=grouped.run_id_)
    assert len(evaluations) == len(grouped.trials_) and set(evaluations["protocol"]) == {"group-cv5"}
    run = store.runs().set_index("run_id").loc[grouped.run_id_]
    assert run["settings"]["validation"]["protocol"] == "group-cv5"


def test_the_users_validation_rows_score_every_trial_and_never_train(tmp_path):
    frame = pd.read_csv(EXAMPLE)
    train, valid = frame.iloc[:600].copy(), frame.iloc[600:].copy()
    valid.loc[valid.index[:20], "plan"] = "only_in_valid"  # must not reach the encoder's categories
    store_path = tmp_path / "kb.duckdb"
    clf = AutoMLClassifier(time_budget=5, seed=0, warm_start=False, strategy="bo", knowledge_base=str(store_path))
    clf.fit(train.drop(columns=["churned"]), train["churned"], X_val=valid.drop(columns=["churned"]),
            y_val=valid["churned"])
    assert clf.validation_ == "user-valid"
    assert clf.fit_info_["validation"]["valid_rows"] == 200 and clf.fit_info_["n_rows"] == 600
    # the reported validation score is the final model's score on the user's rows: the model was not refit
    proba = clf.predict_proba(valid.drop(columns=["churned"]))[:, 1]
    assert roc_auc_score(valid["churned"] == clf.classes_[1], proba) == pytest.approx(clf.best_score_, abs=1e-9)
    assert not any(t.get("refit") for t in clf.trials_)
    plan = next(p for p in clf.encoder_.plans_ if p.name == "plan")
    assert plan.kind == "category" and "only_in_valid" not in plan.categories
    store = kb.open_store(store_path)
    evaluations = store.evaluations(run_id=clf.run_id_)
    assert set(evaluations["protocol"]) == {"user-valid"}
    datasets = store.datasets().set_index("fingerprint")
    assert datasets.loc[evaluations["fingerprint"].iloc[0], "n_rows"] == 600  # meta-features of the training rows


def test_validation_set_errors_are_input_errors():
    frame = pd.read_csv(EXAMPLE)
    X, y = frame.drop(columns=["churned"]), frame["churned"]
    clf = AutoMLClassifier(**QUICK, write_back=False)
    with pytest.raises(InputError, match="lacks: 'maybe'"):
        clf.fit(X[:600], y[:600], X_val=X[600:], y_val=y[600:].replace("no", "maybe"))
    with pytest.raises(InputError, match="validation data: .*'city'"):
        clf.fit(X[:600], y[:600], X_val=X[600:].drop(columns=["city"]), y_val=y[600:])
    with pytest.raises(InputError, match="validation data: target .* missing in every row"):
        clf.fit(X[:600], y[:600], X_val=X[600:], y_val=pd.Series([None] * 200, name="churned"))
    with pytest.raises(InputError, match="pass both or neither"):
        clf.fit(X[:600], y[:600], X_val=X[600:])
    with pytest.raises(InputError, match="a validation set and groups cannot be combined"):
        clf.fit(X[:600], y[:600], X_val=X[600:], y_val=y[600:], groups=X["city"][:600])


def test_time_folds_from_the_cli_are_recorded_and_kept_by_resume(tmp_path):
    data, kb_path = tmp_path / "data.csv", tmp_path / "kb.duckdb"
    make_dataset(n=200).to_csv(data, index=False)
    out = tmp_path / "model"
    result = invoke("fit", data, "--target", "y", "--time-column", "when", "--out", out, "--kb", kb_path, *QUICK_CLI)
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["validation"] == "time-cv5"
    assert summary["validation_scheme"]["time_column"] == "when" and summary["options"]["time_column"] == "when"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["fit"]["validation"]["kind"] == "time"
    assert manifest["input_schema"]["used"]["when"] == "datetime"  # the time stays a feature
    assert set(kb.open_store(kb_path).evaluations(run_id=manifest["kb_run_id"])["protocol"]) == {"time-cv5"}
    resumed = invoke("fit", data, "--resume", out, "--out", tmp_path / "again", "--kb", kb_path, *QUICK_CLI)
    assert resumed.exit_code == 0, resumed.stderr
    assert json.loads(resumed.stdout)["validation"] == "time-cv5"  # the saved scheme, not repeated


def test_grouped_cli_fit_drops_the_groups_column_and_a_resume_cannot_change_the_scheme(tmp_path):
    data = tmp_path / "data.csv"
    make_dataset(n=200).assign(site=lambda f: [f"s{i % 23}" for i in range(len(f))]).to_csv(data, index=False)
    out = tmp_path / "model"
    result = invoke("fit", data, "--target", "y", "--groups", "site", "--out", out, *QUICK_CLI)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["validation"] == "group-cv5"
    manifest = json.loads((out / "manifest.json").read_text())
    assert "site" not in manifest["input_schema"]["columns"]
    assert manifest["fit"]["options"]["groups"] == "site"
    plain = tmp_path / "plain"
    assert invoke("fit", data, "--target", "y", "--out", plain, *QUICK_CLI).exit_code == 0
    changed = invoke("fit", data, "--resume", plain, "--time-column", "when", "--out", tmp_path / "x", *QUICK_CLI)
    assert_bad_input(changed, "cannot resume a search validated by cv5", "time-cv5")
    assert not (tmp_path / "x").exists()


def assert_bad_input(result, *fragments):
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("args,valid,fragments", [
    (["--groups", "nope"], None, ["--groups column 'nope' not found"]),
    (["--time-column", "nope"], None, ["time column 'nope' is not a column"]),
    (["--groups", "flag", "--time-column", "when"], None, ["groups and a time column cannot be combined"]),
    (["--time-column", "a"], None, ["time column 'a' has", "missing"]),
    (["--valid"], "no_target", ["has no target column 'y'"]),
    (["--valid"], "new_class", ["training data lacks: 'maybe'"]),
    (["--valid"], "missing_column", ["validation data", "'b'"]),
])
def test_bad_validation_options_exit_2_with_one_line_and_write_nothing(tmp_path, args, valid, fragments):
    frame = make_dataset(n=200)
    data = tmp_path / "data.csv"
    frame.iloc[:150].to_csv(data, index=False)
    if valid is not None:
        rows = frame.iloc[150:]
        rows = {"no_target": rows.drop(columns=["y"]), "new_class": rows.assign(y="maybe"),
                "missing_column": rows.drop(columns=["b"])}[valid]
        rows.to_csv(tmp_path / "valid.csv", index=False)
        args = args + [tmp_path / "valid.csv"]
    out = tmp_path / "model"
    assert_bad_input(invoke("fit", data, "--target", "y", *args, "--out", out, *QUICK_CLI), *fragments)
    assert not out.exists()
