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


def fit(kb, X, y, max_trials: int, **kw) -> AutoMLClassifier:
    return AutoMLClassifier(time_budget=30, max_trials=max_trials, knowledge_base=str(kb), **kw).fit(X, y)


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
    cross_val_score(AutoMLClassifier(time_budget=30, max_trials=2, knowledge_base=str(kb)), X, y, cv=3)
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
