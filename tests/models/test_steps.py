"""Pipeline steps as choices (issue 27): each step builds and fits on the bundled example for every family that
offers it; a configuration without step keys builds today's pipeline; the target encoder does not leak; a user
step works like a built-in one."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from automl.data import TableEncoder
from automl.models import REGISTRY
from automl.models.preprocessing import for_dense_models, for_trees
from automl.models.steps import NONE, STEPS, Step, describe
from automl.search.trial import fit_one, predict_one
from tests.models.test_families import ROUNDS, unseen_rows

EXAMPLE = "examples/customers.csv"


@pytest.fixture(scope="module")
def customers():
    from automl.data import load_table
    frame = load_table(EXAMPLE)
    y = frame.pop("churned")
    y = pd.factorize(y.astype(str))[0].astype(np.int64)
    X = TableEncoder().fit(frame).transform(frame)
    X.index = pd.RangeIndex(len(X))
    return X.iloc[:300], y[:300]


def _choices():
    """(family key, slot, step key) for every step a built-in family offers."""
    for family in (REGISTRY.get(k) for k in REGISTRY.keys()):
        for p in family.space()[len(family.params):]:
            if p.name in dict(family.steps):
                for key in p.choices:
                    if key != NONE:
                        yield family.key, p.name, key


@pytest.mark.parametrize("family,slot,key", sorted(set(_choices())))
def test_each_step_fits_and_predicts_on_the_example(customers, family, slot, key):
    X, y = customers
    config = REGISTRY.get(family).complete({"family": family, slot: key}, "binary")
    assert config.get(slot) == key or REGISTRY.get(family).expanded(config)[slot] == key
    model = fit_one(config, X, y, "binary", 2, seed=0, iterations=ROUNDS)  # (a boosting family's rounds)
    pred = predict_one(model, unseen_rows(X)[list(X.columns)], "binary", 2)  # (LightGBM reads the columns as given)
    assert np.isfinite(pred).all() and pred.shape[0] == 4


def test_a_configuration_without_step_keys_builds_todays_pipeline(customers):
    X, y = customers
    from sklearn.linear_model import LogisticRegression
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    for key, before in (("linear", make_pipeline(for_dense_models(), LogisticRegression(max_iter=300, random_state=0))),
                        ("random_forest", make_pipeline(for_trees(), RandomForestClassifier(
                            n_estimators=100, max_features=0.5, random_state=0, n_jobs=1)))):
        family = REGISTRY.get(key)
        config = family.default_config("binary")
        assert not set(config) & set(dict(family.steps))  # defaults are omitted: today's ids
        now = fit_one(config, X, y, "binary", 2, seed=0)
        assert np.array_equal(now.predict_proba(X), before.fit(X, y).predict_proba(X))


def test_step_defaults_are_omitted_and_choices_kept():
    linear = REGISTRY.get("linear")
    config = linear.complete({"family": "linear", "numeric_transform": "quantile", "selection": "percentile",
                              "percentile__percentile": 30, "pca__variance": 0.7}, "binary")
    assert config["numeric_transform"] == "quantile" and config["percentile__percentile"] == 30
    assert "pca__variance" not in config and "construction" not in config  # inactive / default
    assert "quantile__n_quantiles" not in config  # the chosen step's own default is omitted too
    assert linear.expanded(config, "binary")["quantile__n_quantiles"] == 100
    assert describe(config) == "quantile > percentile(30) > linear"
    trees = REGISTRY.get("extra_trees")
    assert "numeric_transform" not in {p.name for p in trees.space()}  # trees need no scaling
    assert "nystroem" not in next(p for p in REGISTRY.get("knn").space() if p.name == "construction").choices


def test_target_encoding_does_not_leak():
    """A column of random high-cardinality IDs carries no signal: the pipeline's fit encodes each training row with
    the other internal folds' means (in-sample means would correlate with the row's own target, ~0.6 here, and
    the model would learn that), and a model on it scores near chance on validation rows."""
    rng = np.random.default_rng(0)
    n = 1200
    X = pd.DataFrame({"id": pd.Categorical([f"u{i}" for i in rng.integers(0, 400, n)]),
                      "noise": rng.normal(size=n)})
    y = rng.integers(0, 2, n).astype(np.int64)
    Xa, Xb, ya, yb = train_test_split(X, y, test_size=0.3, random_state=0)
    config = {"family": "random_forest", "categorical_encoding": "target", "min_samples_leaf": 5}
    model = fit_one(REGISTRY.get("random_forest").complete(config, "binary"), Xa, ya, "binary", 2, seed=0)
    columns = model.named_steps["columntransformer"]  # (after the text step, which passes this table as it is)
    encoded = columns.fit_transform(Xa, ya)[:, list(columns.get_feature_names_out()).index("id")]
    assert abs(np.corrcoef(encoded, ya)[0, 1]) < 0.15
    from sklearn.metrics import roc_auc_score
    auc = roc_auc_score(yb, predict_one(model, Xb, "binary", 2)[:, 1])
    assert 0.4 < auc < 0.6


def _double(params, task, seed):
    from sklearn.preprocessing import FunctionTransformer
    return FunctionTransformer(_times, kw_args={"factor": params["factor"]})


def _times(X, factor):
    return X * factor


def test_a_user_step_works_like_a_built_in_one(customers):
    X, y = customers
    step = Step("scaled_twice", "numeric_transform", _double, (__import__("automl.space").space.Float(
        "factor", 0.5, 4.0, 2.0),))
    STEPS.register(step)
    try:
        with pytest.raises(ValueError, match="already registered"):
            STEPS.register(step)
        linear = REGISTRY.get("linear")
        assert "scaled_twice" in next(p for p in linear.space() if p.name == "numeric_transform").choices
        config = linear.complete({"family": "linear", "numeric_transform": "scaled_twice",
                                  "scaled_twice__factor": 3.0}, "binary")
        model = fit_one(config, X, y, "binary", 2, seed=0)
        assert predict_one(model, X, "binary", 2).shape == (len(X), 2)
        assert step in REGISTRY.user_families()  # shipped to worker processes with the user's families
        from automl import AutoMLClassifier
        from tests.conftest import EXAMPLE
        frame = pd.read_csv(EXAMPLE).head(300)
        fitted = AutoMLClassifier(include=("linear", "scaled_twice"), strategy="random", max_trials=3, time_budget=60,
                                  seed=0, write_back=False, warm_start=False).fit(frame.drop(columns=["churned"]),
                                                                                  frame["churned"])
        ok = [t for t in fitted.trials_ if t["status"] == "ok"]  # fitted in worker processes
        assert len(ok) == 3 and all(t["config"]["numeric_transform"] == "scaled_twice" for t in ok)
        assert " > scaled_twice(" in fitted.leaderboard_["pipeline"].iloc[1]
    finally:
        STEPS.unregister("scaled_twice")
    from automl.models import upgrade_config
    assert upgrade_config(config, "binary") is None  # a stored row of a step not registered now: left out
    with pytest.raises(Exception, match="valid: median_indicator, constant, onehot"):
        STEPS.get("scaled_twice")


def test_exclude_removes_a_step_from_the_search_and_include_keeps_a_slot_to_its_steps():
    from automl import AutoMLClassifier
    from automl.models.steps import uses_any
    from tests.conftest import EXAMPLE
    frame = pd.read_csv(EXAMPLE).head(300)
    X, y = frame.drop(columns=["churned"]), frame["churned"]
    # three families that each offer both excluded steps (the tree families offer neither: their trials could not
    # break the exclusion; the CLI test below excludes pca from them)
    model = AutoMLClassifier(include=("linear", "knn", "svm"), exclude=("pca", "l1"), strategy="random",
                             max_trials=14, time_budget=60, seed=3, write_back=False, warm_start=False).fit(X, y)
    trials = model.trials_
    assert len(trials) >= 10 and {t["family"] for t in trials} <= {"linear", "knn", "svm"}
    assert not any(uses_any(t["config"], ("pca", "l1")) for t in trials)
    assert any(set(t["config"]) & {"numeric_transform", "selection", "construction", "categorical_encoding"}
               for t in trials), "the steps are searched"
    board = model.leaderboard_
    assert board["pipeline"].iloc[1:].str.endswith(tuple(("linear", "knn", "svm"))).all()
    only = AutoMLClassifier(include=("linear", "quantile"), strategy="random", max_trials=6, time_budget=60,
                            seed=0, write_back=False, warm_start=False).fit(X, y)
    for t in only.trials_:
        assert REGISTRY.get("linear").expanded(t["config"])["numeric_transform"] == "quantile"
    with pytest.raises(Exception, match="valid families: .*steps: .*pca"):
        AutoMLClassifier(exclude=("pcaa",), time_budget=5).fit(X, y)


def test_the_shipped_seed_keeps_its_ids_with_steps_in_the_space():
    """Every seed configuration (written before steps were choices) is already in the stored form: its id is
    unchanged and it builds the family's default pipeline."""
    import json

    import pyarrow.parquet as pq

    from automl.models import upgrade_config
    from knowledge_base.canonical import config_id
    from tests.models.test_upgrade import SEED
    configs = pq.read_table(SEED / "configurations.parquet").to_pandas()
    evals = pq.read_table(SEED / "evaluations.parquet").to_pandas()
    tasks = dict(zip(*pq.read_table(SEED / "datasets.parquet", columns=["fingerprint", "task"]).to_pandas().T.values))
    by_id = dict(zip(configs.config_id, configs.config))
    for cid, task in {(c, tasks[f]) for c, f in zip(evals.config_id, evals.fingerprint)}:
        assert config_id(upgrade_config(json.loads(by_id[cid]), task)) == cid


def test_cli_exclude_pca_and_an_unknown_step(tmp_path):
    import json

    from click.testing import CliRunner

    from cli import main
    from tests.conftest import EXAMPLE
    # (the boosting families excluded too: CatBoost's trial and refit took most of this test's time)
    result = CliRunner().invoke(main, ["fit", str(EXAMPLE), "--target", "churned", "--exclude",
                                       "pca,lightgbm,catboost,xgboost", "--strategy", "random", "--max-trials", "5",
                                       "--time-budget", "60", "--json", "--no-warm-start", "--out", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    board = json.loads(result.stdout)["leaderboard"]
    assert len(board) >= 4 and not any("pca" in (row.get("pipeline") or "") for row in board)
    assert all(row["family"] not in ("lightgbm", "catboost", "xgboost") for row in board[1:])
    bad = CliRunner().invoke(main, ["fit", str(EXAMPLE), "--target", "churned", "--exclude", "pcb",
                                    "--out", str(tmp_path / "n")])
    assert bad.exit_code == 2 and "pipeline step" in bad.output and "nystroem" in bad.output


def test_the_refresh_candidate_pool_samples_without_steps():
    """The seeded candidate pool (grown by appending, its evaluations in the seed) keeps its random stream: its
    samples hold the families' own parameters, steps at their defaults; steps are chosen only by the step
    variants the pool grew by (``CANDIDATE_STEP_VARIANTS``)."""
    from automl.models.steps import SLOTS
    from automl.refresh.candidates import CANDIDATE_STEP_VARIANTS, pool_growth, portfolio_candidates
    pool, growth = portfolio_candidates(0), pool_growth(0)
    assert not any(set(c) & set(SLOTS) for c in pool[:len(pool) - len(growth)])
    variants = [v for vs in CANDIDATE_STEP_VARIANTS.values() for v in vs]
    assert [{k: c[k] for k in set(c) & set(SLOTS)} for c in growth if set(c) & set(SLOTS)] == variants
