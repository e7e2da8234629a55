"""The history: observations per fidelity, duplicates, and cost estimates for the budget checks."""
from __future__ import annotations

from automl.search.history import History, Trial
from automl.search.messages import TrialDetails


def _trial(i, family, fidelity, seconds, status="ok", loss=0.5, raced_out=None, full_seconds=None):
    return Trial(i, {"family": family}, f"id{i}", family, fidelity, "random", status=status, loss=loss,
                 fit_seconds=seconds, details=TrialDetails(raced_out=raced_out), full_seconds=full_seconds)


def test_cost_estimates_scale_with_fidelity_and_racing():
    h = History()
    h.add(_trial(0, "lightgbm", 1 / 3, 1.0))
    h.add(_trial(1, "lightgbm", 1.0, 0.6, raced_out=1, full_seconds=3.0))  # raced out after 1 of 5 folds
    assert h.cost_estimate("lightgbm", 1.0) == 3.0  # median of 3.0 and 3.0
    assert h.cost_estimate("lightgbm", 1 / 3) == 1.0


def test_unknown_family_cost_from_hints_and_only_successful_trials():
    h = History()
    h.add(_trial(0, "linear", 1.0, 0.5))
    h.add(_trial(1, "faulty", 1.0, 9.0, status="timeout", loss=None))
    costs = {"linear": 0.5, "random_forest": 2.0, "faulty": 1.0}
    assert h.cost_estimate("random_forest", 1.0) is None
    assert h.cost_estimate("random_forest", 1.0, costs) == 2.0  # 0.5 s / 0.5 x 2.0; the timeout is ignored
    assert h.cost_estimate("faulty", 1.0, costs) == 9.0  # a family's own timeouts do count


def test_cost_estimates_per_configuration_with_the_family_cost_model():
    from automl.models import REGISTRY
    lgbm = REGISTRY.get("lightgbm")
    h = History()
    slow = {**lgbm.default_config(), "learning_rate": 0.02}
    h.add(Trial(0, slow, "slow", "lightgbm", 1.0, "kb", status="ok", loss=0.5, fit_seconds=4.0))
    relative = lgbm.relative_cost
    assert relative(slow) > 1.5 and relative({**slow, "learning_rate": 0.3}) < 1.0  # ~1 / learning rate rounds
    unit = h.cost_estimate("lightgbm", 1.0, relative=relative)
    assert abs(unit - 4.0 / relative(slow)) < 1e-9  # the default configuration's seconds
    fast = {**slow, "learning_rate": 0.3}
    assert h.cost_estimate("lightgbm", 1.0, relative=relative) * relative(fast) < 0.4 * 4.0
    assert h.cost_estimate("lightgbm", 1.0) == 4.0  # without the model: the family's median
    assert 0 < lgbm.min_relative_cost() < relative(fast)
    assert REGISTRY.get("knn").relative_cost({"family": "knn", "n_neighbors": 3}) == 1.0  # no cost model


def test_best_and_seen_per_fidelity():
    h = History()
    h.add(_trial(0, "knn", 1 / 3, 0.1, loss=0.2))
    h.add(_trial(1, "knn", 1.0, 0.1, loss=0.4))
    h.add(_trial(2, "knn", 1.0, 0.1, status="failed", loss=None))
    assert h.best().trial_id == 0 and h.best(1.0).trial_id == 1
    assert h.seen("id0", 1 / 3) and not h.seen("id0", 1.0)
    assert len(h.finished()) == 3 and len(h.ok()) == 2
