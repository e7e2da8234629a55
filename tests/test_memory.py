"""Memory that pays (#28), end to end on real store files: a table's own history first, near copies written to
one dataset, the store's learned portfolio as the fallback, and ``kb similar`` showing what a fit starts from."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.model_selection import cross_val_score

import knowledge_base
from automl import AutoMLClassifier
from automl.data import load_table, split_target
from automl.models import REGISTRY
from automl.search.portfolio import static_portfolio
from cli import main
from knowledge_base.portfolio import FORMAT, load_portfolio, portfolio_path
from knowledge_base.records import OWN_HISTORY_ORIGIN
from tests.conftest import EXAMPLE
from tests.fixtures.tables import make_dataset


def example() -> tuple[pd.DataFrame, pd.Series]:
    return split_target(load_table(EXAMPLE), "churned")


# the max_trials fits' budget: the tests count trials, not seconds, and a fit ends when its trials are done, so a
# long budget costs nothing and keeps a busy machine's deadline from cutting the trials these tests compare
TRIALS_BUDGET = 300


def fit(kb, X, y, max_trials: int, **kw) -> AutoMLClassifier:
    return AutoMLClassifier(time_budget=TRIALS_BUDGET, max_trials=max_trials, knowledge_base=str(kb), **kw).fit(X, y)


@pytest.fixture(scope="module")
def first_fit(tmp_path_factory):
    """A store (the bundled seed) holding one fit of the bundled example; tests copy it before writing."""
    kb = tmp_path_factory.mktemp("memory") / "kb.duckdb"
    X, y = example()
    model = fit(kb, X, y, max_trials=5)
    return kb, model


def copy_store(kb, tmp_path):
    shutil.copy(kb, tmp_path / "kb.duckdb")
    return tmp_path / "kb.duckdb"


def test_a_new_version_of_a_table_starts_from_the_previous_versions_best(first_fit, tmp_path):
    kb, first = copy_store(first_fit[0], tmp_path), first_fit[1]
    X, y = example()
    X90 = X.sample(frac=0.9, random_state=1)
    second = fit(kb, X90, y.loc[X90.index], max_trials=4)
    own = second.trials_[:3]
    assert [t["origin"] for t in own] == [OWN_HISTORY_ORIGIN] * 3
    assert own[0]["config_id"] == knowledge_base.config_id(first.best_config_)
    assert {t["config_id"] for t in own} <= {t["config_id"] for t in first.trials_}
    board = second.leaderboard_.set_index("config_id")
    assert (board.loc[[t["config_id"] for t in own], "origin"] == OWN_HISTORY_ORIGIN).all()
    # another table (other columns) has no previous version
    frame = make_dataset(n=120, seed=3)
    other = fit(kb, frame.drop(columns="y"), frame["y"], max_trials=2)
    assert OWN_HISTORY_ORIGIN not in {t["origin"] for t in other.trials_}


def test_a_fit_records_its_tables_lineage(first_fit):
    kb, first = first_fit
    stored = knowledge_base.open_store(kb).datasets().set_index("fingerprint")
    lineage = stored.loc[stored["source"] == "local", "lineage"].tolist()
    assert lineage == [knowledge_base.lineage(first.encoder_.column_kinds(), "churned", "binary")]
    assert first.encoder_.column_kinds()["customer_id"] == "dropped"  # (an ID column: dropped, still a column)


def test_an_unnamed_target_has_no_name_in_the_lineage():
    from automl.fitting import target_name
    assert target_name(np.array([0, 1])) is None and target_name(pd.Series([0, 1])) is None
    assert target_name(pd.Series([0, 1], name="churned")) == "churned"
    assert target_name(pd.DataFrame({"churned": [0, 1]})) == "churned"


def test_cross_validation_folds_of_one_table_are_one_dataset(first_fit, tmp_path):
    kb = copy_store(first_fit[0], tmp_path)
    before = knowledge_base.open_store(kb).info()
    X, y = example()
    cross_val_score(AutoMLClassifier(time_budget=TRIALS_BUDGET, max_trials=2, knowledge_base=str(kb)), X, y, cv=3)
    after = knowledge_base.open_store(kb).info()
    assert after["n_runs"] == before["n_runs"] + 3
    assert after["n_evaluations"] == before["n_evaluations"] + 6
    assert after["n_datasets"] == before["n_datasets"]  # every fold went to the example's dataset


def test_the_fallback_is_the_learned_portfolio_and_the_hand_written_list_only_without_a_store(tmp_path):
    X, y = example()
    empty = tmp_path / "empty.duckdb"
    knowledge_base.open_store(empty, seed_dir=None)  # no similar dataset, no portfolio file: the seed's
    from automl.space import SPACE_VERSION
    seed_first = load_portfolio("binary", SPACE_VERSION, store_path=empty)[0]
    first = fit(empty, X, y, max_trials=1, write_back=False).trials_[0]
    assert (first["config"], first["origin"]) == (seed_first, "portfolio")
    distinctive = REGISTRY.get("knn").complete({"family": "knn", "n_neighbors": 7, "weights": "uniform", "p": 1})
    document = {"format": FORMAT, "format_version": 1, "space_version": SPACE_VERSION,
                "portfolios": {"any": [distinctive]}}
    portfolio_path(empty).write_text(json.dumps(document))
    first = fit(empty, X, y, max_trials=1, write_back=False).trials_[0]
    assert (first["config"], first["origin"]) == (distinctive, "portfolio")
    not_a_store = tmp_path / "not-a-store.duckdb"
    not_a_store.write_bytes(b"not a database" * 100)
    first = fit(not_a_store, X, y, max_trials=1, write_back=False).trials_[0]
    assert first["config"] == static_portfolio(REGISTRY.for_task("binary", len(y)))[0] and first["origin"] == "portfolio"


def test_kb_similar_lists_what_a_fit_starts_from(first_fit, tmp_path):
    kb = copy_store(first_fit[0], tmp_path)
    X, y = example()
    rows = X.sample(frac=0.9, random_state=2).index
    data = tmp_path / "customers-v2.csv"
    pd.concat([X.loc[rows], y.loc[rows]], axis=1).to_csv(data, index=False)
    result = CliRunner().invoke(main, ["kb", "similar", str(data), "--target", "churned", "--kb", str(kb), "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)["suggestions"]
    assert len(shown) == 10 and shown[0]["origin"] == OWN_HISTORY_ORIGIN
    Xv, yv = split_target(load_table(data), "churned")
    model = fit(kb, Xv, yv, max_trials=6)
    assert [(t["config_id"], t["origin"]) for t in model.trials_] == [(s["config_id"], s["origin"]) for s in shown[:6]]


# ------------------------------------------------------------------------ the own history within a trial's time
LAST_MONTH_SECONDS = 60.0


def phoneme(pmlb_dir) -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(pmlb_dir / "phoneme.tsv.gz", sep="\t")  # 5,404 rows: 3-fold CV
    return frame.drop(columns="target"), frame["target"]


def slow_and_cheap() -> list[tuple[dict, float, float]]:
    """Last month's trials as (configuration, validation AUC, seconds of the whole 3-fold evaluation): the two
    best are slow boosting configurations, the next ones cheap."""
    def config(family: str, **params) -> dict:
        return REGISTRY.get(family).complete({**REGISTRY.get(family).default_config("binary"), **params}, "binary")
    return [(config("lightgbm", learning_rate=0.011), 0.95, 14.0),
            (config("catboost", learning_rate=0.013), 0.94, 12.0), (config("random_forest"), 0.93, 0.9), (config("extra_trees"), 0.92, 0.7), (config("linear"), 0.80, 0.1)]


def write_last_month(kb, X, y) -> None:
    """A fit of ``(X, y)`` as its write-back records it: the table and its trials (``slow_and_cheap``)."""
    import metafeatures
    from datetime import datetime, timezone

    from automl.kb_records import evaluation_record
    from automl.prepare import prepare
    from automl.search.validation import choose_protocol
    from automl.space import SPACE_VERSION
    table = prepare(X, y)
    dataset = knowledge_base.DatasetRecord(
        fingerprint=table.fingerprint, name=None, source="local", task=table.task, n_rows=len(table.y),
        n_features=table.X.shape[1], metafeatures=table.metafeatures,
        metafeatures_version=metafeatures.METAFEATURES_VERSION,
        lineage=knowledge_base.lineage(table.encoder.column_kinds(), "target", table.task))
    trials = [{"config": c, "fidelity": 1.0, "status": "ok", "score": auc, "loss": -auc, "fit_seconds": seconds,
               "origin": "bo"} for c, auc, seconds in slow_and_cheap()]
    now = datetime.now(timezone.utc)
    run = knowledge_base.RunRecord(run_id="last-month", kind="fit", started_at=now, finished_at=now,
                                   budget_seconds=LAST_MONTH_SECONDS, settings={}, versions={})
    evaluations = [evaluation_record(t, space_version=SPACE_VERSION, protocol=choose_protocol(len(table.y)),
                                     metric="roc_auc", seed=0) for t in trials]
    assert knowledge_base.open_store(kb).record_run(run, dataset, evaluations) == len(trials)


@pytest.fixture(scope="module")
def phoneme_history(tmp_path_factory):
    """A store (the bundled seed) holding last month's fit of phoneme on 60 % of its rows."""
    from tests.conftest import PMLB
    if not (PMLB / "phoneme.tsv.gz").exists():
        pytest.skip(f"PMLB datasets not found at {PMLB}")
    kb = tmp_path_factory.mktemp("own-history") / "kb.duckdb"
    X, y = phoneme(PMLB)
    last_month = X.sample(frac=0.6, random_state=0).index
    write_last_month(kb, X.loc[last_month], y.loc[last_month])
    return kb


def own_picks(kb, X, y, budget) -> list[str]:
    from automl.prepare import prepare
    from automl.warm_start import warm_start
    table = prepare(X, y)
    lineage = knowledge_base.lineage(table.encoder.column_kinds(), "target", table.task)
    store = kb if isinstance(kb, knowledge_base.KnowledgeBase) else knowledge_base.open_store(kb)
    start = warm_start(store, table.metafeatures, table.task, "roc_auc", lineage=lineage, budget=budget)
    return [s.config_id for s in start.suggestions if s.origin == OWN_HISTORY_ORIGIN]


class StopAfterATrial:
    """A fit's progress callback that stops it as Ctrl-C would once a trial succeeded (the best model so far is
    kept). Once only: results that arrive while the search stops reach the callback too."""

    def __init__(self) -> None:
        self.stopped = False

    def __call__(self, event: dict) -> None:
        if not self.stopped and event["trial"].status == "ok":
            self.stopped = True
            raise KeyboardInterrupt


def test_a_timed_fit_starts_from_the_previous_versions_best_that_fit_in_one_trial(phoneme_history, pmlb_dir,
                                                                                  tmp_path):
    from automl.search.budget import fit_trial_cap
    from automl.trial_budget import TrialBudget
    X, y = phoneme(pmlb_dir)
    ids = [knowledge_base.config_id(c) for c, *_ in slow_and_cheap()]
    lightgbm, catboost, forest, trees, linear = ids
    unlimited = own_picks(phoneme_history, X, y, None)
    assert unlimited == [lightgbm, catboost, forest]  # without a budget (max_trials): by stored score, as before
    # 10 s: one trial may take fit_trial_cap(10) < 4 s; the boosting ones, 12-14 s on 3,242 rows, are over it
    assert fit_trial_cap(10) < 4
    assert own_picks(phoneme_history, X, y, TrialBudget.for_fit(10, len(y))) == [forest, trees, linear]
    assert own_picks(phoneme_history, X, y, TrialBudget.for_fit(300, len(y))) == unlimited  # a cap of 100+ s
    # a timed fit starts from them (15 s: room for a trial on a busy machine; its write-back left out: the store
    # stays as it is; stopped as by Ctrl-C once a trial is done: its start is what is checked here), and
    # ``kb similar --time-budget`` shows exactly what it starts from
    model = AutoMLClassifier(time_budget=15, knowledge_base=str(phoneme_history), write_back=False,
                             callback=StopAfterATrial()).fit(X, y)
    started = [(knowledge_base.config_id(s["config"]), s["origin"]) for s in model.warm_start_configs_]
    assert [cid for cid, origin in started if origin == OWN_HISTORY_ORIGIN] == [forest, trees, linear]
    data = tmp_path / "phoneme.csv"
    pd.concat([X, y], axis=1).to_csv(data, index=False)
    command = ["kb", "similar", str(data), "--target", "target", "--kb", str(phoneme_history), "--json"]
    for extra, expected in (([], unlimited), (["--time-budget", "15"], [forest, trees, linear])):
        result = CliRunner().invoke(main, [*command, *extra])
        assert result.exit_code == 0, result.output
        shown = [(s["config_id"], s["origin"]) for s in json.loads(result.stdout)["suggestions"]]
        assert [cid for cid, origin in shown if origin == OWN_HISTORY_ORIGIN] == expected
    assert shown == started


def counted_timings(store) -> list[int]:
    """The reads of ``store``'s every timing (``KnowledgeBase.timings``), one entry each; it answers as before."""
    calls, read = [], store.timings

    def timings():
        calls.append(1)
        return read()
    store.timings = timings
    return calls


def test_a_timed_fit_reads_every_timing_only_when_its_lineage_has_timed_versions(phoneme_history, pmlb_dir):
    from automl.cost_prior import PRIOR_MIN_ROWS
    from automl.trial_budget import TrialBudget
    store = knowledge_base.open_store(phoneme_history)
    calls = counted_timings(store)
    X, y = example()  # a lineage the store does not hold, too small for a cost prior: the timings are not read
    assert len(y) < PRIOR_MIN_ROWS
    # (the timings are read in the warm start, if at all: the fit stops once a trial is done)
    model = AutoMLClassifier(time_budget=5, knowledge_base=store, write_back=False,
                             callback=StopAfterATrial()).fit(X, y)
    assert model.warm_start_configs_ and calls == []
    X, y = phoneme(pmlb_dir)  # last month's version was timed: read once, the same picks as from a fresh store
    *_, forest, trees, linear = [knowledge_base.config_id(c) for c, *_ in slow_and_cheap()]
    assert own_picks(store, X, y, TrialBudget.for_fit(10, len(y))) == [forest, trees, linear] and calls == [1]
