"""The public estimators pass scikit-learn's own estimator checks (with a tiny budget)."""
from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from automl import AutoMLClassifier, AutoMLRegressor

# By design, a fitted model accepts the same columns in any order (the product promise for
# `automl predict`), so scikit-learn's "same order as in fit" check does not apply.
_EXPECTED = {
    "check_dataframe_column_names_consistency":
        "column order does not matter by design; columns are matched by name",
    "check_sample_weight_equivalence_on_dense_data":
        "validation folds are drawn over rows, so a repeated row is not the same as a weight of 2",
}

FAST = dict(time_budget=20, max_trials=2, seed=0, warm_start=False, write_back=False, n_jobs=1)


@parametrize_with_checks([AutoMLClassifier(**FAST), AutoMLRegressor(**FAST)],
                         expected_failed_checks=lambda est: _EXPECTED)
def test_sklearn_contract(estimator, check):
    check(estimator)


def test_automl_takes_the_estimators_parameters_and_a_task():
    """``AutoML`` repeats ``AutoMLBase``'s parameter list (scikit-learn reads the parameters from an explicit
    ``__init__`` signature): the two lists keep the same names and defaults, and a clone keeps every value."""
    from sklearn.base import clone

    from automl import AutoML
    front = AutoML().get_params()
    assert front.pop("task") is None
    assert front == AutoMLClassifier().get_params() == AutoMLRegressor().get_params()
    changed = {name: f"value of {name}" for name in front} | {"task": "binary"}
    assert clone(AutoML(**changed)).get_params() == changed
