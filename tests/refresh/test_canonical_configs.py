"""Every configuration a refresh evaluates or stores is canonical for its dataset's task (space version 2), and
the pool's ids per task are the seed's, so a refresh over the seed's own datasets evaluates nothing again."""
from __future__ import annotations

import json

import duckdb
import pytest
from click.testing import CliRunner

import knowledge_base as kb
from cli import main
from automl.models import REGISTRY, upgrade_config
from automl.refresh import RefreshOptions, map_openml_run, refresh_from_dir
from automl.refresh.candidates import CANDIDATES_FILE, load_task_candidates, missing_candidates
from automl.refresh.index import StoreIndex
from automl.space import SPACE_VERSION, active
from knowledge_base.canonical import config_id
from tests.fixtures.pmlb import PMLB, write_pmlb_folder
from tests.refresh.conftest import TINY_POOL

SEED = CANDIDATES_FILE.parent


def _stored_rows(path) -> list[tuple]:
    """(config_id, config, family, task, origin) of every evaluation in the DuckDB file at ``path``."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute("SELECT e.config_key, c.config, c.family, d.task, e.origin FROM evaluations e "
                           "JOIN configurations c USING (config_key) JOIN datasets d USING (dataset_id)").fetchall()
    finally:
        con.close()
    return [(f"{int(key):016x}", *rest) for key, *rest in rows]  # the store's 16-hex config id



def test_a_refresh_stores_only_parameters_active_for_the_task(tmp_path):
    folder = write_pmlb_folder(tmp_path / "datasets", ("1096_FacultySalaries", "analcatdata_aids"))
    path = tmp_path / "kb" / "refresh.duckdb"
    kb.open_store(path, seed_dir=None)  # an unseeded store
    pool = tmp_path / "pool.json"  # task-free (the linear candidate with C, alpha, l1_ratio and class_weight)
    pool.write_text(json.dumps(TINY_POOL))
    result = CliRunner().invoke(main, ["kb", "refresh", "--kb", str(path), "--from-dir", str(folder), "--budget", "4",
                                       "--candidates", str(pool), "--quiet", "--json"])
    assert result.exit_code == 0, result.output
    rows = _stored_rows(path)
    assert {r[3] for r in rows} == {"regression", "binary"}
    assert {r[4] for r in rows} > {"candidate"}  # the search's trials are stored too
    for cid, text, family, task, origin in rows:
        config = json.loads(text)
        params = REGISTRY.get(family).space()  # the family's parameters and its pipeline steps'
        live = {p.name for p, on in zip(params, active(params, config, task)) if on}
        # every key active for the task; step slots at their default are left out of the canonical form
        assert set(config) - {"family"} <= live, (task, origin, config)
        assert set(config) - {"family"} >= {p.name for p in REGISTRY.get(family).params
                                           if p.name in live}, (task, origin, config)
        assert upgrade_config(config, task) == config and config_id(config) == cid, (task, origin, config)
        if task == "regression":  # (an SVR's C is a regression parameter; the linear family's is not)
            assert "class_weight" not in config and (family != "linear" or "C" not in config)
    linear = [json.loads(r[1]) for r in rows if r[2] == "linear" and r[3] == "regression" and r[4] == "candidate"]
    assert linear == [{"family": "linear", "penalty": "elasticnet", "alpha": 0.001, "l1_ratio": 0.1}]


def test_the_pool_per_task_is_the_seeds_and_a_seed_dataset_lacks_no_candidate(tmp_path):
    doc = json.loads(CANDIDATES_FILE.read_text(encoding="utf-8"))
    pools = load_task_candidates()
    for task, ids in doc["task_config_ids"].items():
        assert [config_id(c) for c in pools[task]] == ids
        assert all(upgrade_config(c, task) == c for c in pools[task])
    store = kb.open_store(tmp_path / "kb.duckdb", seed_dir=SEED)
    index = StoreIndex.from_store(store, str(SPACE_VERSION))
    datasets = store.datasets()
    assert len(datasets) > 200
    for fp, task, n_rows in zip(datasets["fingerprint"], datasets["task"], datasets["n_rows"]):
        state = index.state(str(fp))
        rows = min(int(n_rows), RefreshOptions().max_rows)
        assert missing_candidates(pools[task], state.done, task, rows) == [], (fp, task)


@pytest.mark.skipif(not PMLB.exists(), reason="the real PMLB tables (the seed's datasets) are not on this machine")
def test_a_refresh_over_seed_datasets_evaluates_nothing_again(tmp_path):
    folder = write_pmlb_folder(tmp_path / "datasets", ("analcatdata_aids", "iris", "1096_FacultySalaries"))
    store = kb.open_store(tmp_path / "kb.duckdb", seed_dir=SEED)
    before = store.info()["n_evaluations"]
    summary = refresh_from_dir(folder, store=store, options=RefreshOptions(budget=0.0, n_jobs=1))
    assert [o.status for o in summary.outcomes] == ["skipped"] * 3, [(o.name, o.reason) for o in summary.outcomes]
    assert store.info()["n_evaluations"] == before


@pytest.mark.parametrize("flow, family", [("sklearn.ensemble._forest.RandomForestRegressor", "random_forest"),
                                          ("sklearn.ensemble._forest.ExtraTreesRegressor", "extra_trees")])
def test_an_openml_forest_on_a_regression_task_holds_no_class_weight(flow, family):
    config, reason = map_openml_run({flow: {"n_estimators": "100", "max_features": "1.0", "bootstrap": "true",
                                            "min_samples_leaf": "2"}}, "regression", 200, 8)
    assert reason == "" and config["family"] == family
    assert "class_weight" not in config
    assert upgrade_config(config, "regression") == config
    classifier, _ = map_openml_run({flow.replace("Regressor", "Classifier"): {"class_weight": '"balanced"'}},
                                   "binary", 200, 8)
    assert classifier["class_weight"] == "balanced"
