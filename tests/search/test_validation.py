"""Validation schemes: by data size, stratified, seeded; the user's rows, grouped and forward-chaining folds;
training-share subsamples keep every class, whole groups or the latest rows."""
from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier

from automl.deadline import Deadline
from automl.exceptions import InputError
from automl.metrics import get_metric
from automl.models import REGISTRY, Family
from automl.search import SearchProblem, optimize
from automl.search.messages import TrialRequest
from automl.search.trial import run_trial
from automl.space import Categorical
from automl.search.validation import (Kind, SplitOptions, Validation, choose_protocol, choose_validation,
                                      group_codes, make_splits, subsample, time_order)


def test_protocol_by_size():
    assert choose_protocol(500) == "cv5" and choose_protocol(5_000) == "cv3"
    assert choose_protocol(50_000) == "holdout0.2"


def test_a_large_tables_holdout_scores_at_most_the_holdout_row_cap():
    # beyond it, more validation rows cost every trial its predictions and early stopping for little precision
    from automl.search.validation import HOLDOUT_MAX_ROWS, protocol_fits
    assert choose_protocol(5 * HOLDOUT_MAX_ROWS) == "holdout0.2"  # (the share's rows reach the cap here)
    for n in (6 * HOLDOUT_MAX_ROWS, 1_000_000, 7_654_321):
        protocol = choose_protocol(n)
        share = Validation.parse(protocol).share
        assert share < 0.2 and HOLDOUT_MAX_ROWS * 0.95 < share * n <= HOLDOUT_MAX_ROWS * 1.05
        assert protocol_fits(protocol) == (1, 1.0 - share)
    y = np.arange(1_000_000) % 2
    tr, va = make_splits(y, "binary", choose_protocol(len(y)), seed=0)[0]
    assert len(va) == HOLDOUT_MAX_ROWS and len(tr) == len(y) - HOLDOUT_MAX_ROWS


def test_splits_are_stratified_seeded_and_cover_every_row_once():
    y = np.array([0] * 90 + [1] * 10)
    splits = make_splits(y, "binary", "cv5", seed=3)
    assert splits[0][1].tolist() == make_splits(y, "binary", "cv5", seed=3)[0][1].tolist()
    assert sorted(np.concatenate([va for _, va in splits]).tolist()) == list(range(100))
    assert all(y[va].sum() == 2 for _, va in splits)
    tr, va = make_splits(y, "binary", "holdout0.2", seed=0)[0]
    assert len(va) == 20 and y[va].sum() == 2 and not set(tr) & set(va)


def test_rare_classes_cap_the_number_of_folds():
    y = np.array([0] * 50 + [1] * 2)
    assert len(make_splits(y, "binary", "cv5", seed=0)) == 2


def test_subsample_keeps_every_class():
    y = np.array([0] * 995 + [1] * 5)
    idx = subsample(np.arange(1000), 1 / 9, seed=0, y=y)
    assert set(y[idx]) == {0, 1} and len(idx) < 200


# ---------------------------------------------------------------- the user's schemes


def test_scheme_is_chosen_from_the_size_and_the_users_options():
    assert choose_validation("cv5") == Validation(Kind.CV, n_splits=5)
    groups = SplitOptions(groups=np.zeros(10, dtype=int), groups_column="site")
    assert choose_validation("cv3", groups).protocol == "group-cv3"
    assert choose_validation("holdout0.2", groups).protocol == "group-holdout0.2"
    times = SplitOptions(times=np.arange(10.0), time_column="day")
    assert choose_validation("cv5", times).as_dict() == {"kind": "time", "protocol": "time-cv5", "n_splits": 5,
                                                         "groups_column": None, "time_column": "day",
                                                         "valid_rows": None}
    assert choose_validation("cv5", SplitOptions(n_valid=7)).protocol == "user-valid"
    with pytest.raises(InputError, match="choose one validation scheme"):
        SplitOptions(groups=np.zeros(3), times=np.arange(3.0))


@pytest.mark.parametrize("task,protocol", [("binary", "cv5"), ("regression", "cv3"), ("binary", "holdout0.2")])
def test_grouped_splits_never_put_a_group_on_both_sides(task, protocol):
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(40), 6)
    y = (rng.random(240) < 0.3).astype(int) if task == "binary" else rng.normal(size=240)
    options = SplitOptions(groups=groups)
    splits = make_splits(y, task, choose_validation(protocol, options), 0, options)
    assert len(splits) == (1 if protocol.startswith("holdout") else int(protocol[2:]))
    for tr, va in splits:
        assert not set(groups[tr]) & set(groups[va]) and len(tr) + len(va) == 240


def test_fewer_groups_than_folds_gives_fewer_folds_and_one_group_is_bad_input():
    y = np.array([0, 1] * 9)
    options = SplitOptions(groups=np.repeat([0, 1, 2], 6))
    assert len(make_splits(y, "binary", choose_validation("cv5", options), 0, options)) == 3
    one = SplitOptions(groups=np.zeros(18, dtype=int), groups_column="site")
    with pytest.raises(InputError, match="at least 2 groups in 'site'"):
        make_splits(y, "binary", choose_validation("cv5", one), 0, one)


def test_time_folds_are_forward_and_keep_ties_together():
    times = np.repeat(np.arange(30.0), 4)[::-1].copy()  # rows in reverse time order, 4 rows per time
    y = np.arange(120) % 2
    options = SplitOptions(times=times)
    splits = make_splits(y, "binary", choose_validation("cv5", options), 0, options)
    assert len(splits) == 5
    for tr, va in splits:
        assert times[tr].max() < times[va].min()  # every validation row later than all its training rows
        assert not set(times[tr]) & set(times[va])
    assert [len(tr) for tr, _ in splits] == sorted(len(tr) for tr, _ in splits)  # expanding window
    (tr, va), = make_splits(y, "binary", choose_validation("holdout0.2", options), 0, options)
    assert set(times[va]) == set(range(24, 30)) and times[tr].max() == 23


def test_time_folds_skip_training_blocks_with_one_class():
    y = np.r_[np.zeros(60, int), np.ones(40, int)]
    options = SplitOptions(times=np.arange(100.0))
    splits = make_splits(y, "binary", choose_validation("cv5", options), 0, options)
    assert splits and all(len(np.unique(y[tr])) == 2 for tr, _ in splits)


def test_users_rows_are_the_one_validation_split():
    options = SplitOptions(n_valid=30)
    (tr, va), = make_splits(np.arange(100) % 2, "binary", choose_validation("cv5", options), 0, options)
    assert tr.tolist() == list(range(70)) and va.tolist() == list(range(70, 100))


def test_time_order_reads_numbers_and_dates_and_refuses_missing():
    assert time_order(pd.Series([3, 1, 2]), "t").tolist() == [3.0, 1.0, 2.0]
    dates = time_order(pd.Series(["2024-01-03", "2023-12-31", "2024-01-01"]), "t")
    assert np.argsort(dates).tolist() == [1, 2, 0]
    with pytest.raises(InputError, match="'t' has 1 missing"):
        time_order(pd.Series(["2024-01-03", None]), "t")
    with pytest.raises(InputError, match="missing value"):
        group_codes(pd.Series(["a", None]), "site")


def test_subsample_takes_whole_groups_or_the_latest_rows():
    train = np.arange(200)
    groups = np.repeat(np.arange(20), 10)
    idx = subsample(train, 0.3, seed=1, options=SplitOptions(groups=groups))
    assert 60 <= len(idx) <= 70
    assert all((np.isin(train[groups == g], idx)).all() for g in np.unique(groups[idx]))  # whole groups only
    times = np.arange(200.0)[::-1]
    idx = subsample(train, 0.25, seed=1, options=SplitOptions(times=times))
    assert sorted(times[idx]) == list(np.arange(150.0, 200.0))  # the 50 most recent rows


class _RowsSeen(DummyClassifier):
    """Remembers which rows (index labels) it was trained on."""

    def fit(self, X, y, **kwargs):
        self.rows_ = X.index.to_numpy()
        return super().fit(X, y)


def _rows_seen(config, task, n_rows, n_classes, seed):
    return _RowsSeen(strategy="prior")


@pytest.fixture
def rows_seen_family():
    family = Family("rows_seen_test", ("binary",), (Categorical("strategy", ("prior",), "prior"),), _rows_seen)
    REGISTRY.register(family)
    try:
        yield family
    finally:
        REGISTRY.unregister(family.key)


def test_a_low_fidelity_trial_trains_on_the_latest_rows_of_each_time_fold(tmp_path, rows_seen_family):
    n = 300
    times = np.arange(n, dtype=float)[::-1].copy()  # the last row is the oldest
    y = np.arange(n) % 2
    options = SplitOptions(times=times, time_column="t")
    splits = make_splits(y, "binary", choose_validation("cv3", options), 0, options)
    data = {"X": pd.DataFrame({"x": np.zeros(n)}), "y": y, "task": "binary", "metric": get_metric(None, "binary"),
            "splits": splits, "seed": 0, "split": options}
    result = run_trial(TrialRequest(trial_id=0, config={"family": rows_seen_family.key, "strategy": "prior"},
                                    fidelity=1 / 3, seconds=30, keep_models_dir=str(tmp_path)), data)
    assert result.status == "ok", result
    for model, (tr, _) in zip(joblib.load(result.models_path), splits):
        size = len(model.rows_)
        assert size < len(tr) and set(model.rows_) == set(tr[np.argsort(times[tr])[-size:]])


def test_the_fallback_model_never_trains_on_the_users_validation_rows(rows_seen_family):
    n, n_valid = 300, 100
    problem = SearchProblem(X=pd.DataFrame({"x": np.zeros(n)}), y=np.arange(n) % 2, task="binary",
                            metric=get_metric(None, "binary"), families=(rows_seen_family.key,),
                            split=SplitOptions(n_valid=n_valid))
    result = optimize(problem, Deadline(0.05), strategy="bo")  # no trial finishes: the fallback model
    assert result.timings.get("fallback") and result.protocol == "user-valid"
    assert sorted(result.model.members[0][0].rows_) == list(range(n - n_valid))
