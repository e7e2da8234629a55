"""Classes too small to validate (issue 29): set aside with a warning (or merged into ``other``), the fit goes
on, and the model still knows every class name."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from automl import AutoML, AutoMLClassifier
from automl.exceptions import InputError
from automl.search.validation import make_splits, min_rows_per_class
from cli import main
from tests.conftest import EXAMPLE


def planets_like(path=None):
    """customers.csv predicting the plan, with three tiny plans: one row, two rows and three rows."""
    frame = pd.read_csv(EXAMPLE).drop(columns=["churned"]).dropna(subset=["plan"]).reset_index(drop=True)
    frame.loc[0, "plan"] = "enterprise"
    frame.loc[[1, 2], "plan"] = "student"
    frame.loc[[3, 4, 5], "plan"] = "team"
    if path is not None:
        frame.to_csv(path, index=False)
    return frame.drop(columns=["plan"]), frame["plan"]


def test_the_minimum_follows_the_split():
    assert min_rows_per_class("cv5") == 5 and min_rows_per_class("cv3") == 3 and min_rows_per_class("holdout0.2") == 2
    # with that many rows per class every stratified fold holds every class in its training part
    y = np.repeat([0, 1, 2], [40, 30, 5])
    for train, _ in make_splits(y, "multiclass", "cv5", seed=0):
        assert set(y[train]) == {0, 1, 2}


def test_single_row_classes_are_set_aside_and_still_known(caplog, tmp_path):
    X, y = planets_like()
    with caplog.at_level("WARNING", logger="automl"):
        model = AutoMLClassifier(time_budget=5, max_trials=3, write_back=False).fit(X, y)
    assert "set aside 6 row(s) of 3 class(es) with fewer than 5 rows" in caplog.text
    assert "'enterprise'" in caplog.text and "'student'" in caplog.text and "'team'" in caplog.text
    assert list(model.classes_) == ["basic", "enterprise", "family", "premium", "standard", "student", "team"]
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), 7)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    rare = [list(model.classes_).index(c) for c in ("enterprise", "student", "team")]
    n = len(X)  # a set-aside class gets its share of the rows: a test row of it costs a bounded log-loss
    np.testing.assert_allclose(proba[:, rare], np.tile([1 / n, 2 / n, 3 / n], (n, 1)))
    assert set(model.predict(X)) <= {"basic", "family", "premium", "standard"}
    assert model.fit_info_["rare_classes"] == {"mode": "drop", "classes": ["enterprise", "student", "team"],
                                               "n_rows": 6, "min_rows": 5, "merged_into": None,
                                               "shares": [1 / len(X), 2 / len(X), 3 / len(X)]}
    assert model.fit_info_["n_rows"] == len(X) - 6
    model.save(tmp_path / "m")
    np.testing.assert_array_equal(AutoML.load(tmp_path / "m").predict_proba(X), proba)


def test_merge_puts_rare_classes_into_other(tmp_path):
    planets_like(tmp_path / "p.csv")
    result = CliRunner().invoke(main, ["fit", str(tmp_path / "p.csv"), "--target", "plan", "--rare-classes",
                                       "merge", "--time-budget", "5", "--max-trials", "3", "--out",
                                       str(tmp_path / "m"), "--json", "--report"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rare_classes"]["mode"] == "merge" and summary["rare_classes"]["n_rows"] == 6
    assert "merged 6 row(s) of 3 class(es)" in result.stderr and "'other'" in result.stderr
    page = (tmp_path / "m" / "report.html").read_text(encoding="utf-8")
    assert "Rare classes" in page and "merged into &#x27;other&#x27;" in page
    model = AutoML.load(tmp_path / "m")
    assert list(model.classes_) == ["basic", "family", "premium", "standard", "other"]
    assert model.predict_proba(planets_like()[0]).shape[1] == 5
    bad = CliRunner().invoke(main, ["fit", str(tmp_path / "p.csv"), "--target", "plan", "--rare-classes", "keep",
                                    "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and bad.stderr.strip().splitlines()[-1].startswith("error: the 'rare_classes'")


def test_the_users_validation_scheme_sets_the_need():
    X, y = planets_like()
    groups = X.pop("city")  # grouped folds need two rows of a class (in two groups), not five
    model = AutoMLClassifier(time_budget=5, max_trials=3, write_back=False).fit(X, y, groups=groups)
    assert model.fit_info_["validation"]["kind"] == "group"
    assert model.fit_info_["rare_classes"]["classes"] == ["enterprise"] and model.fit_info_["rare_classes"]["min_rows"] == 2
    # with the user's validation rows every training row trains every trial: no class is too small
    with_valid = AutoMLClassifier(time_budget=5, max_trials=3, write_back=False).fit(
        X.iloc[:600], y.iloc[:600], X_val=X.iloc[600:], y_val=y.iloc[600:])
    assert with_valid.rare_classes_ is None and "enterprise" in with_valid.classes_


def test_fewer_than_two_classes_left_is_the_usual_error():
    X, _ = planets_like()
    y = pd.Series(["a"] * (len(X) - 1) + ["b"])
    with pytest.raises(InputError, match="fewer than two classes"):
        AutoMLClassifier(time_budget=4).fit(X, y)


def test_a_real_table_with_two_row_classes(pmlb_dir):
    frame = pd.read_csv(pmlb_dir / "lymphography.tsv.gz", sep="\t")
    X, y = frame.drop(columns=["target"]), frame["target"]
    counts = y.value_counts()
    model = AutoMLClassifier(time_budget=5, max_trials=3, write_back=False).fit(X, y)
    assert sorted(model.classes_) == sorted(counts.index)
    assert sorted(model.fit_info_["rare_classes"]["classes"]) == sorted(counts.index[counts < 5])
    assert model.validation_ == "cv5"  # the rare classes no longer shrink the folds of every other class
    assert model.predict_proba(X).shape == (len(X), len(counts))


def test_absent_classes_get_their_share_and_models_saved_before_get_zero():
    from automl.rare_classes import ClassSubsetModel

    class Inner:
        def predict_proba(self, X):
            return np.array([[0.9, 0.1], [0.2, 0.8]])

    model = ClassSubsetModel(Inner(), np.array([0, 2]), 3, absent=np.array([0.0, 0.05, 0.0]))
    proba = model.predict_proba(None)
    np.testing.assert_allclose(proba, [[0.855, 0.05, 0.095], [0.19, 0.05, 0.76]])
    del model.absent  # a model pickled before absent classes had a share
    np.testing.assert_allclose(model.predict_proba(None), [[0.9, 0, 0.1], [0.2, 0, 0.8]])
