"""Shared report fixtures: small real fitted models (module-wide, a few seconds each) and their test rows."""
from __future__ import annotations

import pytest

from automl import AutoML
from tests.fixtures.tables import make_dataset

N_TRAIN = 180


def _fit(task: str, tmp_path_factory, seed: int = 0):
    table = make_dataset(task, n=260, seed=seed)
    X, y = table.drop(columns="y"), table["y"]
    model = AutoML(time_budget=10, warm_start=False, write_back=False, max_trials=3, seed=seed)
    model.fit(X.iloc[:N_TRAIN], y.iloc[:N_TRAIN])
    directory = tmp_path_factory.mktemp(f"model-{task}") / "model"
    model.save(directory)
    test = table.iloc[N_TRAIN:].reset_index(drop=True)
    csv = directory.parent / "test.csv"
    test.to_csv(csv, index=False)
    return {"model": model, "dir": directory, "X": test.drop(columns="y"), "y": test["y"], "csv": csv}


@pytest.fixture(scope="session")
def binary_model(tmp_path_factory):
    return _fit("binary", tmp_path_factory)


@pytest.fixture(scope="session")
def regression_model(tmp_path_factory):
    return _fit("regression", tmp_path_factory, seed=1)


KB_DATASETS = [(task, n, seed) for seed, (task, n) in enumerate(
    [(t, n) for t in ("binary", "multiclass", "regression") for n in (120, 600, 2500)])]


def _evaluation(records, family, loss, *, metric, seed, fidelity=1.0, status="ok"):
    import numpy as np

    from automl.models import REGISTRY
    config = REGISTRY.get(family).sample(np.random.default_rng(seed))  # real configurations: the search can run them
    return records.EvaluationRecord(
        config=config, family=family, space_version="1", fidelity=fidelity,
        protocol="cv5", metric=metric, score=-loss if status == "ok" else None, loss=loss if status == "ok" else None,
        fit_seconds=0.1, status=status, error=None if status == "ok" else "boom", seed=0, library_version="test",
        origin="random")


@pytest.fixture(scope="session")
def kb_store(tmp_path_factory):
    """A real DuckDB store (no seed) holding nine small datasets with real meta-features and evaluations."""
    from datetime import datetime, timezone

    import knowledge_base as kb
    import metafeatures

    from automl.data import TableEncoder, encode_target
    store = kb.open_store(tmp_path_factory.mktemp("kb") / "kb.duckdb", seed_dir=None)
    now = datetime.now(timezone.utc)
    for i, (task, n, seed) in enumerate(KB_DATASETS):
        table = make_dataset(task, n=n, seed=seed, messy=bool(i % 2))
        X = TableEncoder().fit_transform(table.drop(columns="y"))
        target = encode_target(table["y"], task)
        metric = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}[task]
        dataset = kb.DatasetRecord(fingerprint=kb.fingerprint(X, target.y), name=f"{task}-{n}", source="test",
                                   task=task, n_rows=n, n_features=X.shape[1],
                                   metafeatures=metafeatures.compute(X, target.y, task),
                                   metafeatures_version=metafeatures.METAFEATURES_VERSION)
        small = n < 1000  # linear wins on small data, lightgbm on large: something for the "who wins" figure
        evaluations = [_evaluation(kb.records, "lightgbm", 0.3 if small else 0.1, metric=metric, seed=i),
                       _evaluation(kb.records, "linear", 0.2 if small else 0.4, metric=metric, seed=i),
                       _evaluation(kb.records, "knn", -5.0, metric=metric, seed=i, fidelity=0.25),
                       _evaluation(kb.records, "mlp", 0.0, metric=metric, seed=i, status="failed")]
        run = kb.RunRecord(run_id=f"run-{i}", kind="fit", started_at=now, finished_at=now, budget_seconds=1.0,
                           settings={}, versions={})
        store.record_run(run, dataset, evaluations)
    return store


@pytest.fixture(scope="session")
def kb_report_page(kb_store, tmp_path_factory):
    """The knowledge-base report with a new dataset placed on the map."""
    from automl.report import write_kb_report
    table = make_dataset("binary", n=300, seed=42)
    out = tmp_path_factory.mktemp("kb-report") / "kb.html"
    return write_kb_report(out, kb_store, X=table.drop(columns="y"), y=table["y"], data_name="new.csv")


@pytest.fixture(scope="session")
def warm_model(kb_store, tmp_path_factory):
    """A model warm-started from ``kb_store`` (its trials come from the knowledge base, its neighbours recorded)."""
    table = make_dataset("binary", n=260, seed=5)
    X, y = table.drop(columns="y"), table["y"]
    model = AutoML(time_budget=10, knowledge_base=str(kb_store.path), write_back=False, max_trials=3)
    model.fit(X.iloc[:N_TRAIN], y.iloc[:N_TRAIN])
    return {"model": model, "X": X.iloc[N_TRAIN:], "y": y.iloc[N_TRAIN:]}
