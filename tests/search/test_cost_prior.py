"""The search's prior on seconds from the knowledge base (``automl.cost_prior``): exponents fitted from the shipped
seed, a prior that follows the recorded seconds and the table's rows, and a time model that uses it only until the
run has timed the family itself."""
from __future__ import annotations

import json

import numpy as np
import pytest

from automl.cost_prior import EXPONENT_RANGE, CostPrior, cost_prior, fit_exponents, timed_evaluations
from automl.deadline import Deadline
from automl.models import REGISTRY
from automl.refresh.candidates import CANDIDATES_FILE
from automl.search.budget import CostModel
from automl.search.history import History, Trial
from automl.search.messages import Status
from knowledge_base.canonical import config_id


@pytest.fixture(scope="module")
def seed_store(tmp_path_factory):
    import knowledge_base as kb
    return kb.open_store(tmp_path_factory.mktemp("seed") / "kb.duckdb", seed_dir=CANDIDATES_FILE.parent)


@pytest.fixture(scope="module")
def seed_timings(seed_store):
    return timed_evaluations(seed_store.timings())


def _relative(store, fingerprints) -> dict[str, float]:
    """Config id -> its cost relative to its family default, for the configurations evaluated on ``fingerprints``."""
    out = {}
    for fp in fingerprints:
        ev = store.evaluations(fp)
        for cid, text in zip(ev["config_id"], ev["config"]):
            config = json.loads(text)
            out[cid] = REGISTRY.get(config["family"]).relative_cost(config) if config["family"] in REGISTRY else 1.0
    return out


def test_the_seed_fits_a_sublinear_positive_row_exponent_for_lightgbm_and_random_forest(seed_timings):
    exponents = fit_exponents(seed_timings)
    for family in ("lightgbm", "random_forest"):
        assert EXPONENT_RANGE[0] < exponents[family] < 2.0, exponents  # fitted, not clipped nor the default


def test_the_prior_orders_configurations_as_their_recorded_seconds_and_grows_with_the_rows(seed_store,
                                                                                            seed_timings):
    lgbm = seed_timings[seed_timings["family"] == "lightgbm"]
    neighbours = lgbm.groupby("fingerprint")["train_rows"].max().sort_values().index[-5:]  # 5 larger datasets
    near = lgbm[lgbm["fingerprint"].isin(neighbours)]
    mean_seconds = near.groupby("config_id")["seconds"].mean().sort_values()
    fast, slow = mean_seconds.index[0], mean_seconds.index[-1]
    assert mean_seconds[slow] > 3 * mean_seconds[fast]
    relative = _relative(seed_store, neighbours)
    small = cost_prior(seed_timings, {fp: 1.0 for fp in neighbours}, 1_000, relative)
    large = cost_prior(seed_timings, {fp: 1.0 for fp in neighbours}, 50_000, relative)
    assert small.fit_seconds("lightgbm", 1_000, slow) > small.fit_seconds("lightgbm", 1_000, fast)
    for cid in (fast, slow):
        assert large.fit_seconds("lightgbm", 50_000, cid) > small.fit_seconds("lightgbm", 1_000, cid)
        assert small.fit_seconds("lightgbm", 50_000, cid) == pytest.approx(large.fit_seconds("lightgbm", 50_000, cid))
    assert small.fit_seconds("lightgbm", 1_000) > 0  # a configuration no neighbour timed: its family's
    assert cost_prior(seed_timings, {"not-stored": 1.0}, 1_000, relative) is None


def test_an_evaluations_seconds_are_one_fits_on_its_training_rows_times_its_fits():
    prior = CostPrior(rows=1_000, family_seconds={"lightgbm": 0.5}, config_seconds={"timed": 3.0},
                      exponents={"lightgbm": 0.5})
    # 5 folds of 4,000 training rows each: one fit's seconds scale by (4,000 / 1,000) ** 0.5 = 2
    assert prior.evaluation_seconds("lightgbm", 4_000, 5) == pytest.approx(5 * 0.5 * 2.0)
    assert prior.evaluation_seconds("lightgbm", 4_000, 5, "timed") == pytest.approx(5 * 3.0 * 2.0)
    assert prior.evaluation_seconds("lightgbm", 4_000, 5, "other", relative=3.0) == pytest.approx(5 * 1.5 * 2.0)
    # a holdout (one fit) on 250 rows: (250 / 1,000) ** 0.5 = 0.5
    assert prior.evaluation_seconds("lightgbm", 250, 1) == pytest.approx(0.5 * 0.5)
    assert prior.evaluation_seconds("random_forest", 4_000, 5) is None  # no neighbour timed the family


def _model(history: History, prior: CostPrior | None, deterministic: bool = False) -> CostModel:
    families = [REGISTRY.get("lightgbm"), REGISTRY.get("random_forest")]
    # 3 folds of 3,000 rows: each fit trains on 2,000
    return CostModel(Deadline(60.0), families, history, 3, deterministic=deterministic, refit_enabled=False,
                     best_kept=lambda: None, prior=prior, train_rows=2_000, all_rows=3_000)


def test_the_time_model_uses_the_prior_until_the_run_times_the_family_then_its_own_seconds():
    lgbm = REGISTRY.get("lightgbm").default_config()
    forest = REGISTRY.get("random_forest").default_config()
    prior = CostPrior(rows=1_000, family_seconds={"lightgbm": 0.5, "random_forest": 2.0},
                      config_seconds={config_id(forest): 3.0}, exponents={"lightgbm": 1.0, "random_forest": 0.5})
    history = History()
    cost = _model(history, prior)
    # before any trial: one fit on 2,000 rows (twice the prior's), three folds
    assert cost.seconds(lgbm, 1.0) == pytest.approx(3 * 0.5 * 2.0)
    assert cost.seconds(forest, 1.0) == pytest.approx(3 * 3.0 * np.sqrt(2.0))  # its own recorded seconds
    assert cost.seconds(forest, 0.5) == pytest.approx(3 * 3.0)
    assert _model(History(), None).seconds(lgbm, 1.0) is None  # without the prior nothing is known
    assert _model(History(), prior, deterministic=True).seconds(lgbm, 1.0) is None  # max_trials: unchanged

    # a LightGBM trial took 4 times the prior: its own seconds price LightGBM, the factor the forest
    history.add(Trial(0, lgbm, config_id(lgbm), "lightgbm", 1.0, "kb", Status.OK, 0.9, -0.9, fit_seconds=12.0))
    assert cost.seconds(lgbm, 1.0) == pytest.approx(12.0)
    assert cost.machine_factor() == pytest.approx(4.0)
    assert cost.seconds(forest, 1.0) == pytest.approx(4.0 * 3 * 3.0 * np.sqrt(2.0))
    history.add(Trial(1, forest, config_id(forest), "random_forest", 1.0, "kb", Status.OK, 0.9, -0.9,
                      fit_seconds=5.0))
    assert cost.seconds(forest, 1.0) == pytest.approx(5.0)


def test_a_fits_warm_start_carries_the_prior_for_its_rows_from_the_two_rung_size_on(seed_store):
    from automl.cost_prior import PRIOR_MIN_ROWS
    from automl.prepare import prepare
    from automl.warm_start import warm_start_for_fit
    from tests.fixtures.tables import make_dataset

    def warm_start(n: int):
        frame = make_dataset("binary", n=n, seed=1)
        table = prepare(frame.drop(columns="y"), frame["y"], "binary")
        return warm_start_for_fit(table, "y", describe=True, retrieve=True, open_store=lambda: seed_store,
                                  metric="roc_auc")
    small = warm_start(600)  # every trial sees all the rows: the run's own seconds come at once, no prior
    assert small.suggestions and small.cost_prior is None
    warm = warm_start(PRIOR_MIN_ROWS)
    prior = warm.cost_prior
    assert warm.suggestions and prior is not None and prior.rows == PRIOR_MIN_ROWS
    assert {"lightgbm", "random_forest"} <= set(prior.family_seconds) and prior.config_seconds
    assert set(prior.config_seconds) >= {s.config_id for s in warm.suggestions if s.origin == "kb"}


def test_a_timed_out_trial_counts_for_the_machine_factor_as_a_lower_bound():
    lgbm = REGISTRY.get("lightgbm").default_config()
    prior = CostPrior(rows=2_000, family_seconds={"lightgbm": 0.5, "random_forest": 2.0}, config_seconds={},
                      exponents={})
    history = History()
    cost = _model(history, prior)
    history.add(Trial(0, lgbm, config_id(lgbm), "lightgbm", 1.0, "kb", Status.TIMEOUT, fit_seconds=4.5))
    assert cost.machine_factor() == pytest.approx(3.0)  # 4.5 s where the prior said 3 x 0.5 s
    assert cost.seconds(REGISTRY.get("random_forest").default_config(), 1.0) == pytest.approx(3.0 * 3 * 2.0)


def test_one_familys_miss_on_this_table_moves_the_others_price_by_the_machine_factors_range_at_most():
    # a linear model on a table of many categories takes 100 x its prior (one-hot columns): that says nothing of
    # LightGBM's seconds, which stay within MACHINE_FACTOR_RANGE of the prior's
    from automl.search.budget import MACHINE_FACTOR_RANGE
    linear = REGISTRY.get("linear").default_config()
    prior = CostPrior(rows=2_000, family_seconds={"lightgbm": 0.5, "linear": 0.05}, config_seconds={}, exponents={})
    history = History()
    cost = CostModel(Deadline(60.0), [REGISTRY.get("lightgbm"), REGISTRY.get("linear")], history, 3,
                     deterministic=False, refit_enabled=False, best_kept=lambda: None, prior=prior, train_rows=2_000,
                     all_rows=3_000)
    history.add(Trial(0, linear, config_id(linear), "linear", 1.0, "kb", Status.OK, 0.8, -0.8, fit_seconds=15.0))
    low, high = MACHINE_FACTOR_RANGE
    assert cost.machine_factor() == pytest.approx(high)  # (the raw median: 100)
    assert cost.seconds(REGISTRY.get("lightgbm").default_config(), 1.0) == pytest.approx(high * 3 * 0.5)
    history.add(Trial(1, linear, config_id(linear), "linear", 1.0, "kb", Status.OK, 0.8, -0.8, fit_seconds=0.0015))
    history.add(Trial(2, linear, config_id(linear), "linear", 1.0, "kb", Status.OK, 0.8, -0.8, fit_seconds=0.0015))
    assert cost.machine_factor() == pytest.approx(low)  # (the raw median: 0.01)


def test_a_refit_is_priced_from_the_folds_training_rows_to_every_row():
    lgbm = REGISTRY.get("lightgbm").default_config()
    trial = Trial(0, lgbm, config_id(lgbm), "lightgbm", 0.5, "kb", Status.OK, 0.9, -0.9, fit_seconds=3.0)
    for n_folds, train_rows, all_rows in ((1, 975_000, 1_000_000), (1, 8_000, 10_000), (3, 2_000, 3_000)):
        cost = CostModel(Deadline(60.0), [REGISTRY.get("lightgbm")], History(), n_folds, deterministic=False,
                         refit_enabled=True, best_kept=lambda: None, train_rows=train_rows, all_rows=all_rows)
        # one fold's seconds at full fidelity (3 s at half the rows, over the folds), times all rows over its rows
        assert cost.refit_seconds(trial) == pytest.approx(6.0 / n_folds * all_rows / train_rows)


def test_a_cost_model_needs_the_rows_a_refit_trains_on():
    # no default: one fold's rows standing in would price every refit as one fold's fit
    with pytest.raises(TypeError, match="all_rows"):
        CostModel(Deadline(60.0), [REGISTRY.get("lightgbm")], History(), 3, deterministic=False, refit_enabled=True,
                  best_kept=lambda: None, train_rows=2_000)
