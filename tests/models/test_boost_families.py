"""The optional boosting families (CatBoost, XGBoost; ``automl-meta[boost]``): searched alone on real PMLB tables they
give models that predict, beat a constant predictor and reload; the seed fixes them; they early-stop, stop at the
deadline, stay quiet and use one thread; without their package the registry simply lacks them."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss, mean_squared_error, roc_auc_score
from sklearn.model_selection import train_test_split

from automl import AutoML
from automl.models import REGISTRY
from automl.models.boosting import MAX_ROUNDS, TrialTimeout
from automl.prepare import prepare
from automl.search.trial import fit_one, predict_one
from tests.conftest import PMLB, REPO

BOOST = ["catboost", "xgboost"]
# name -> (task, rows kept); the votes (0, 1, 2: missing, no, yes) are read as text: all its columns are categorical
TABLES = {"house_votes_84": ("binary", 435), "balance_scale": ("multiclass", 400), "560_bodyfat": ("regression", 252)}


def installed(key: str):
    return pytest.param(key, marks=pytest.mark.skipif(key not in REGISTRY, reason=f"{key} is not installed"))


def pmlb_table(name: str) -> tuple[pd.DataFrame, pd.Series]:
    path = PMLB / f"{name}.tsv.gz"
    if not path.exists():
        pytest.skip(f"PMLB table {name} not found at {PMLB}")
    frame = pd.read_csv(path, sep="\t")
    frame = frame.sample(n=TABLES[name][1], random_state=0) if name in TABLES else frame
    X, y = frame.drop(columns=["target"]), frame["target"]
    if name == "house_votes_84":
        X = X.astype(int).astype(str).replace({"0": "missing", "1": "n", "2": "y"})
    return X.reset_index(drop=True), y.reset_index(drop=True)


def encoded(name: str) -> tuple[pd.DataFrame, np.ndarray, str]:
    """The table as the search sees it (float and category columns; class codes)."""
    X, y = pmlb_table(name)
    task = TABLES[name][0]
    table = prepare(X, y, task, describe=False)
    return table.X, table.y, task


def search(key: str, X, y, seed: int = 0):
    return AutoML(include=(key,), max_trials=3, time_budget=120, seed=seed, n_jobs=1, warm_start=False,
                  write_back=False).fit(X, y)


def beats_a_constant(model, task: str, y_train, X_test, y_test) -> None:
    if task == "binary":
        assert roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]) > 0.75
    elif task == "multiclass":
        prior = np.tile(y_train.value_counts(normalize=True).sort_index().to_numpy(), (len(y_test), 1))
        proba = model.predict_proba(X_test)
        assert log_loss(y_test, proba, labels=model.classes_) < 0.75 * log_loss(y_test, prior, labels=model.classes_)
    else:
        constant = mean_squared_error(y_test, np.full(len(y_test), y_train.mean()))
        assert mean_squared_error(y_test, model.predict(X_test)) < 0.5 * constant


def split(name: str):
    """The table's training and test rows: ``X_train, X_test, y_train, y_test``."""
    X, y = pmlb_table(name)
    stratify = y if TABLES[name][0] != "regression" else None
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=stratify)


@pytest.fixture(scope="module")
def searched():
    """``searched(key, name)``: the search (seed 0) of family ``key`` on table ``name``'s training rows, run once for
    the tests that read it (the search test and the seed test); it neither reads nor writes a store."""
    done = {}

    def run(key: str, name: str):
        if (key, name) not in done:
            X_train, _, y_train, _ = split(name)
            done[key, name] = search(key, X_train, y_train)
        return done[key, name]
    return run


@pytest.mark.parametrize("name", sorted(TABLES))
@pytest.mark.parametrize("key", [installed(k) for k in BOOST])
def test_a_search_of_one_boost_family_predicts_beats_a_constant_and_reloads(key, name, tmp_path, searched):
    X_train, X_test, y_train, y_test = split(name)
    task = TABLES[name][0]
    model = searched(key, name)
    trials = model.leaderboard_[model.leaderboard_["kind"] != "final"]
    assert set(trials["family"]) == {key} and (trials["status"] == "ok").sum() >= 2, trials
    assert model.best_config_["family"] == key
    beats_a_constant(model, task, y_train, X_test, y_test)
    model.save(tmp_path / "m")
    again = AutoML.load(tmp_path / "m")
    out = "predict_proba" if task != "regression" else "predict"
    np.testing.assert_array_equal(getattr(again, out)(X_test), getattr(model, out)(X_test))
    assert again.fit_info_["versions"][key] not in (None, "absent")


@pytest.mark.parametrize("key", [installed(k) for k in BOOST])
def test_the_seed_fixes_a_search(key, searched):
    X, _, y, _ = split("balance_scale")
    first, second = searched(key, "balance_scale"), search(key, X, y)  # (the first: the search test's, seed 0)
    columns = ["config_id", "status", "score"]
    pd.testing.assert_frame_equal(first.leaderboard_[columns], second.leaderboard_[columns])
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))


SAMPLED = {"catboost": {"family": "catboost", "subsample": 0.7}, "xgboost": {"family": "xgboost", "subsample": 0.7}}


@pytest.mark.parametrize("key", [installed(k) for k in BOOST])
def test_the_seed_fixes_the_model_which_early_stops_on_the_validation_rows(key):
    X, y, task = encoded("house_votes_84")
    fit = {"eval_set": (X.iloc[350:], y[350:])}
    models = [fit_one(SAMPLED[key], X.iloc[:350], y[:350], task, 2, seed=seed, **fit) for seed in (0, 0, 1)]
    preds = [predict_one(m, X.iloc[350:], task, 2) for m in models]
    np.testing.assert_array_equal(preds[0], preds[1])
    assert not np.array_equal(preds[0], preds[2])
    rounds = REGISTRY.get(key).boosting.rounds(models[0])
    assert 0 < rounds.rounds < MAX_ROUNDS and rounds.curve and len(rounds.curve) <= 12


@pytest.mark.parametrize("key", [installed(k) for k in BOOST])
def test_boosting_stops_at_the_deadline(key):
    X, y = pmlb_table("phoneme")  # 5,404 rows: 2,000 rounds at a learning rate of 0.01 take seconds
    X, y, slow = X.astype(float), y.to_numpy(), {"family": key, "learning_rate": 0.01}
    model = fit_one(slow, X, y, "binary", 2, seed=0, end=time.monotonic() + 1.0, soft_deadline=True)
    inner = model[-1].model_  # (the text step, then the model)
    rounds = inner.tree_count_ if key == "catboost" else inner.get_booster().num_boosted_rounds()
    assert 1 < rounds < MAX_ROUNDS and predict_one(model, X, "binary", 2).shape == (len(y), 2)
    with pytest.raises(TrialTimeout):  # a hard deadline: the trial times out
        fit_one(slow, X, y, "binary", 2, seed=0, end=time.monotonic() + 1.0)


@pytest.mark.parametrize("key", [installed(k) for k in BOOST])
def test_quiet_one_thread_and_no_files(key, tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    X, y, task = encoded("house_votes_84")
    model = fit_one({"family": key}, X.iloc[:300], y[:300], task, 2, seed=0, eval_set=(X.iloc[300:], y[300:]))
    params = model[-1].model_.get_params()
    assert params.get("thread_count", params.get("n_jobs")) == 1
    out = capfd.readouterr()
    assert out.out == "" and out.err == ""
    assert list(tmp_path.iterdir()) == []  # (CatBoost writes catboost_info/ unless told not to)


ABSENT = textwrap.dedent("""
    import sys
    sys.modules["catboost"] = None
    sys.modules["xgboost"] = None
    import numpy as np
    from click.testing import CliRunner
    from sklearn.datasets import make_classification
    from automl import AutoMLClassifier
    from automl.exceptions import InputError
    from automl.models import REGISTRY
    from cli import main
    assert "catboost" not in REGISTRY.keys() and "xgboost" not in REGISTRY.keys(), REGISTRY.keys()
    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    model = AutoMLClassifier(time_budget=30, max_trials=2, warm_start=False, write_back=False,
                             exclude=("catboost",)).fit(X, y)  # (excluding an absent family changes nothing)
    assert not {"catboost", "xgboost"} & set(model.leaderboard_["family"]), model.leaderboard_
    assert (model.predict(X) == y).mean() > 0.8
    try:
        AutoMLClassifier(include=("xgboost",), time_budget=5).fit(X, y)
        raise SystemExit("no error")
    except InputError as exc:
        print("python:", exc)
    runner = CliRunner()
    help = runner.invoke(main, ["fit", "--help"])
    assert help.exit_code == 0 and "lightgbm" in help.output and "catboost" not in help.output, help.output
    result = runner.invoke(main, ["fit", sys.argv[1], "--target", "churned", "--include", "catboost",
                                  "--time-budget", "5", "--out", sys.argv[2]])
    print("exit", result.exit_code)
    print(result.output)
    from automl.exceptions import ModelLoadError
    from automl.persistence import load_model
    try:
        load_model(sys.argv[3])
        raise SystemExit("loaded")
    except ModelLoadError as exc:
        print("load:", exc)
""")


def test_without_the_packages_the_families_are_absent_and_named_with_how_to_install(tmp_path):
    from automl.persistence import save_model
    from tests.conftest import EXAMPLE
    saved = tmp_path / "saved"
    if "xgboost" in REGISTRY:  # a model with an XGBoost member, loaded where xgboost is absent
        from tests.models.test_families import ROUNDS, messy
        X, y = messy("binary")
        save_model(fit_one({"family": "xgboost"}, X, y, "binary", 2, seed=0, iterations=ROUNDS), saved, {})
    done = subprocess.run([sys.executable, "-c", ABSENT, str(EXAMPLE), str(tmp_path / "m"), str(saved)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "python: model family 'xgboost' needs the xgboost package" in done.stdout
    assert "exit 2" in done.stdout, done.stdout
    error = [line for line in done.stdout.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "catboost" in error[0] and "pip install 'automl-meta[boost]'" in error[0], done.stdout
    assert not (tmp_path / "m").exists()
    if "xgboost" in REGISTRY:
        assert "load: cannot load" in done.stdout and "needs the xgboost package" in done.stdout, done.stdout



ABSENT_STORE = textwrap.dedent("""
    import json
    import sys
    sys.modules["catboost"] = None
    sys.modules["xgboost"] = None
    from click.testing import CliRunner
    from cli import main
    from automl.refresh import rebuild_portfolio
    from automl.space import SPACE_VERSION
    from knowledge_base.portfolio import load_portfolio
    for table in sys.argv[2:]:
        result = CliRunner().invoke(main, ["kb", "similar", table, "--target", "y", "--kb", sys.argv[1], "--json"])
        assert result.exit_code == 0, result.output
        print(json.dumps([(s["origin"], s["config"]["family"]) for s in json.loads(result.stdout)["suggestions"]]))
    rebuilt = rebuild_portfolio(sys.argv[1], out=sys.argv[1] + ".rebuilt.json")
    print(json.dumps([c["family"] for c in load_portfolio("binary", str(SPACE_VERSION), path=rebuilt)]))
""")


def test_a_store_holding_boost_configurations_starts_a_fit_without_them_where_they_are_not_installed(tmp_path):
    """The bundled seed holds CatBoost and XGBoost evaluations (built with ``automl-meta[boost]``): without the
    packages, retrieval and the learned portfolio offer the best of the other families (not fewer suggestions), and
    a portfolio rebuilt there is learned from those families only."""
    import json

    import knowledge_base as kb
    import metafeatures
    from automl.data import TableEncoder, encode_target
    from automl.space import SPACE_VERSION
    from knowledge_base.portfolio import portfolio_document, portfolio_path, save_portfolio
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    frame["y"] = (frame["a"] + rng.normal(scale=0.3, size=120) > 0).map({True: "yes", False: "no"})
    X, target = TableEncoder().fit_transform(frame.drop(columns="y")), encode_target(frame["y"], None)
    configs = {"catboost": {"family": "catboost", "depth": 6}, "xgboost": {"family": "xgboost", "max_depth": 6},
               "lightgbm": {"family": "lightgbm", "num_leaves": 7}, "linear": {"family": "linear", "C": 1.0},
               "knn": {"family": "knn", "n_neighbors": 7}}
    losses = {"catboost": -0.97, "xgboost": -0.96, "lightgbm": -0.9, "linear": -0.85, "knn": -0.8}
    path = tmp_path / "kb.duckdb"
    store = kb.open_store(path, seed_dir=None)
    now = pd.Timestamp.now(tz="UTC").to_pydatetime()
    store.record_run(
        kb.RunRecord(run_id="r", kind="refresh", started_at=now, finished_at=now, budget_seconds=1.0, settings={},
                     versions={}),
        kb.DatasetRecord(fingerprint=kb.fingerprint(X, target.y), name="twin", source="test", task=target.task,
                         n_rows=120, n_features=2, metafeatures=metafeatures.compute(X, target.y, target.task),
                         metafeatures_version=metafeatures.METAFEATURES_VERSION),
        [kb.EvaluationRecord(config=configs[key], family=key, space_version=str(SPACE_VERSION), fidelity=1.0,
                             protocol="cv5", metric="roc_auc", score=-loss, loss=loss, fit_seconds=1.0, status="ok",
                             error=None, seed=0, library_version="t", origin="candidate")
         for key, loss in losses.items()])
    order = [configs[k] for k in ("xgboost", "catboost", "linear", "lightgbm")]
    save_portfolio(portfolio_document({"portfolios": {task: order for task in ("binary", "multiclass", "regression",
                                                                                "any")}},
                                      space_version=str(SPACE_VERSION), size=4), portfolio_path(path))
    near, far = tmp_path / "near.csv", tmp_path / "far.csv"  # far: a regression table, no stored neighbour
    frame.to_csv(near, index=False)
    frame.assign(y=frame["a"] * 2.0).to_csv(far, index=False)
    done = subprocess.run([sys.executable, "-c", ABSENT_STORE, str(path), str(near), str(far)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    suggested, portfolio, rebuilt = (json.loads(line) for line in done.stdout.splitlines()[-3:])
    assert [family for _, family in suggested] == ["lightgbm", "linear", "knn"], suggested
    assert portfolio == [["portfolio", "linear"], ["portfolio", "lightgbm"]], portfolio
    assert rebuilt == ["lightgbm"]  # the best of the families installed there (a one-dataset portfolio)
