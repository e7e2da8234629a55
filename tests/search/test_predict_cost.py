"""What the final model costs to predict: every trial measures its prediction seconds per row, a member's estimate
counts the models it deploys (a k-NN refit on every row compares with more rows than its fold models), and
``infer_limit`` keeps the ensemble's estimated seconds per row within it."""
from __future__ import annotations

import dataclasses
import logging

import pytest

from automl.deadline import Deadline
from automl.exceptions import InputError
from automl.models import REGISTRY
from automl.search import optimize
from automl.search.predict_cost import member_seconds_per_row
from tests.fixtures.tables import make_dataset
from tests.search.test_stacking import _builder_over
from tests.search.conftest import make_problem

FAMILIES = ("lightgbm", "knn", "linear")


def test_the_families_whose_prediction_cost_grows_with_the_rows_say_so():
    grows = {k for k in REGISTRY.keys() if REGISTRY.get(k).predict_cost_grows_with_rows}
    assert grows == {"knn", "svm"}


def test_every_trial_measures_its_prediction_seconds_per_row():
    r = optimize(make_problem(n=300, families=FAMILIES), Deadline(120), strategy="bo", max_trials=4)
    ok = [t for t in r.trials if t.status == "ok"]
    assert ok and all(t.details.predict_seconds_per_row > 0 and 0 < t.details.fit_rows < 300 for t in ok)
    knn, lgb = (next(t for t in ok if t.family == key) for key in ("knn", "lightgbm"))
    one = knn.details.predict_seconds_per_row
    # under 5-fold CV: the 5 fold models, and the refit comparing each row with all 300 rows, not a fold's
    assert member_seconds_per_row(knn, REGISTRY.get("knn"), 300, 5, refit=False) == pytest.approx(5 * one)
    assert member_seconds_per_row(knn, REGISTRY.get("knn"), 300, 5, refit=True) == \
        pytest.approx(one * (5 + 300 / knn.details.fit_rows))
    assert member_seconds_per_row(lgb, REGISTRY.get("lightgbm"), 300, 5, refit=True) == \
        pytest.approx(6 * lgb.details.predict_seconds_per_row)
    assert member_seconds_per_row(knn, REGISTRY.get("knn"), 300, 1, refit=False) == pytest.approx(one)


def test_an_infer_limit_no_member_meets_keeps_the_fastest_member_alone(caplog):
    p = dataclasses.replace(make_problem(n=300, families=FAMILIES), infer_limit=1e-12)
    with caplog.at_level(logging.WARNING, logger="automl"):
        r = optimize(p, Deadline(120), strategy="bo", max_trials=6)
    assert len(r.model.members) == 1
    assert any("infer_limit" in m and "fastest" in m for m in caplog.messages), caplog.messages


def test_the_selection_stays_within_an_infer_limit_below_the_free_ensembles_cost(diverse_trials):
    """Real trials of four families on a PMLB table (shared with the stacking tests): with a limit under the unlimited
    ensemble's estimated cost (and above its cheapest member's), the selection's members together stay within it."""
    builder = _builder_over(diverse_trials[0])
    free = builder.select()
    builder.p.infer_limit = float("inf")
    costs = builder.cost_limit(sorted(builder.kept)).costs
    assert all(c > 0 for c in costs.values())
    total = sum(costs[i] for i in set(free.members))
    assert len(set(free.members)) > 1
    limit = max(min(costs.values()), 0.9 * total)
    builder.p.infer_limit = limit
    chosen = builder.select()
    assert sum(costs[i] for i in set(chosen.members)) <= limit < total
    assert set(chosen.members) != set(free.members)


def test_a_loose_infer_limit_changes_nothing():
    free = optimize(make_problem(n=300, families=FAMILIES), Deadline(120), strategy="bo", max_trials=6)
    p = dataclasses.replace(make_problem(n=300, families=FAMILIES), infer_limit=1e9)
    loose = optimize(p, Deadline(120), strategy="bo", max_trials=6)
    assert loose.ensemble == free.ensemble and loose.best_score == free.best_score


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "fast", True])
def test_a_bad_infer_limit_is_an_input_error_naming_the_parameter(bad):
    from automl import AutoML
    frame = make_dataset(n=60)
    with pytest.raises(InputError, match="'infer_limit'"):
        AutoML(time_budget=5, infer_limit=bad).fit(frame.drop(columns="y"), frame["y"])
