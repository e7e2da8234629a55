"""The knowledge-base report on a real store: contents, the meta-feature map with a new dataset, who wins where."""
from __future__ import annotations

import knowledge_base

from automl.report import fit_report_html, kb_report_html, kb_tables
from tests.report.conftest import KB_DATASETS
from tests.report.pages import assert_valid_kb_page, assert_valid_page, images


def test_kb_tables_read_through_the_export(kb_store):
    datasets, evaluations, names = kb_tables(kb_store)
    assert len(datasets) == len(KB_DATASETS) and "fingerprint" in datasets.columns
    assert len(names) > 10 and all(n in datasets.columns for n in names)
    assert {"fingerprint", "family", "loss", "fidelity", "status", "metric"} <= set(evaluations.columns)
    assert set(evaluations["family"]) == {"lightgbm", "linear", "knn", "mlp"}


def test_kb_report_with_a_new_dataset(kb_report_page):
    page = kb_report_page.read_text(encoding="utf-8")
    assert_valid_kb_page(page)
    assert len(images(page)) == 3
    assert "Nearest past datasets to new.csv (binary)" in page
    assert page.count("<td>binary-") == 3  # the three binary datasets, nearest first
    assert "<td>linear</td>" in page and "<td>lightgbm</td>" in page  # the winners
    assert "<td>knn</td>" in page  # evaluated (table of evaluations), never a winner at low fidelity
    assert "&lt; 1k rows" in page


def test_kb_report_without_data_says_how_to_place_one(kb_store):
    page = kb_report_html(kb_store)
    assert_valid_kb_page(page)
    assert "--data DATA.csv --target COLUMN" in page


def test_kb_report_of_an_empty_store(tmp_path):
    store = knowledge_base.open_store(tmp_path / "empty.duckdb", seed_dir=None)
    page = kb_report_html(store)
    assert_valid_kb_page(page)
    assert "holds no dataset yet" in page and "at least 3 datasets" in page
    assert "No finished evaluation" in page


def test_fit_report_of_a_warm_started_model_shows_where_it_came_from(warm_model):
    model = warm_model["model"]
    assert model.neighbours_ and any(t["origin"] == "kb" for t in model.trials_)
    page = fit_report_html(model)
    assert_valid_page(page)
    assert len(images(page)) == 3  # anytime, families, neighbour distances
    for neighbour in model.neighbours_:
        assert f"<td>{neighbour['name']}</td>" in page
    assert "knowledge base" in page and "Warm-start configurations and how they scored here" in page
    assert model.warm_start_configs_[0]["explanation"].replace("'", "&#x27;") in page
