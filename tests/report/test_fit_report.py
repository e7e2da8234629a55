"""The fit report on small real fitted models: sections, embedded figures, older and history-less models."""
from __future__ import annotations

import json

import pytest

from automl import AutoML
from automl.persistence import MANIFEST_FILE, save_model
from automl.report import fit_report_html, plot_anytime, plot_diagnostics, plot_families, plot_importance, \
    write_fit_report
from tests.report.pages import assert_valid_page, images


def test_binary_report_with_evaluation_data(binary_model, tmp_path):
    out = write_fit_report(binary_model["dir"], tmp_path / "r.html", X=binary_model["X"], y=binary_model["y"],
                           importance_seconds=10, n_repeats=1)
    page = out.read_text(encoding="utf-8")
    assert_valid_page(page)
    assert len(images(page)) == 4  # anytime, families, importance, confusion + calibration
    assert "Test score" in page and "on 80 rows of evaluation data" in page
    assert "roc_auc" in page and "Confusion matrix" not in page.split("<main>")[0]
    for column in ("a", "b", "colour"):  # raw input columns, not encoded ones
        assert f"<td>{column}</td>" in page
    assert "needs evaluation data" not in page
    model = binary_model["model"]
    assert model.leaderboard_.iloc[0]["config_id"] in page


def test_regression_report_shows_residuals(regression_model):
    page = fit_report_html(regression_model["model"], X=regression_model["X"], y=regression_model["y"],
                           importance_seconds=10, n_repeats=1)
    assert_valid_page(page)
    assert "Diagnostics: residuals" in page and "RMSE" in page and "Calibration" not in page
    assert "Increase in rmse" in page


def test_report_without_data_says_what_is_needed(binary_model):
    page = fit_report_html(binary_model["model"])
    assert_valid_page(page)
    assert page.count("This section needs evaluation data") == 2
    assert "no evaluation data given" in page and len(images(page)) == 2


def test_unknown_labels_are_left_out_and_counted(binary_model):
    y = binary_model["y"].copy()
    y.iloc[:5] = "never-seen"
    page = fit_report_html(binary_model["model"], X=binary_model["X"], y=y, n_repeats=1)
    assert "(5 rows without a known target left out)" in page


def test_report_of_a_model_saved_by_an_earlier_version(binary_model, tmp_path):
    """An older 1.x model: fewer fitted attributes, trials without times, losses or origins."""
    model = AutoML.load(binary_model["dir"])
    for name in ("neighbours_", "warm_start_configs_", "validation_", "leaderboard_"):
        delattr(model, name)
    model.trials_ = [{k: v for k, v in t.items() if k in ("config", "score", "fit_seconds", "status", "fidelity")}
                     for t in model.trials_]
    manifest = json.loads((binary_model["dir"] / MANIFEST_FILE).read_text())
    for key in ("neighbours", "validation"):
        manifest.pop(key)
    old = save_model(model, tmp_path / "old", manifest)
    data = json.loads((old / MANIFEST_FILE).read_text())
    data["format_version"] = "1.0"
    (old / MANIFEST_FILE).write_text(json.dumps(data))
    page = write_fit_report(old, tmp_path / "old.html", X=binary_model["X"], y=binary_model["y"],
                            n_repeats=1).read_text()
    assert_valid_page(page)
    assert "cumulative trial seconds" in page  # the anytime curve falls back to summed trial times
    assert "Showing" in page  # the leaderboard comes from the manifest


def test_report_of_a_model_without_search_history(binary_model):
    model = AutoML.load(binary_model["dir"])
    model.trials_ = []
    model.leaderboard_ = model.leaderboard_.iloc[0:0]
    model.ensemble_ = []
    model.neighbours_ = []
    page = fit_report_html(model, X=binary_model["X"], y=binary_model["y"], n_repeats=1)
    assert_valid_page(page)
    assert "carries no search history" in page and "no leaderboard" in page
    assert "Single configuration" in page
    assert len(images(page)) == 2  # importance and diagnostics still drawn


def test_plot_functions_draw_on_given_axes(binary_model, regression_model):
    from automl.report import figures
    figure = figures.figure
    m = binary_model["model"]
    fig, ax = figure()
    assert plot_anytime(m, ax=ax) is ax and ax.get_xlabel().startswith("seconds")
    fig, ax = figure()
    assert plot_families(m, ax=ax) is ax and len(ax.get_yticklabels()) >= 2
    fig, ax = figure()
    assert plot_importance(m, binary_model["X"], binary_model["y"], ax=ax, n_repeats=1) is ax
    fig = figure(10, 4)[0]
    fig.clf()
    axes = fig.subplots(1, 2)
    plot_diagnostics(regression_model["model"], regression_model["X"], regression_model["y"], ax=axes)
    assert axes[0].get_xlabel() == "actual"
    import matplotlib
    matplotlib.use("Agg")
    assert plot_anytime(m) is not None  # without ax: a new pyplot Axes
    import matplotlib.pyplot as plt
    plt.close("all")


def test_report_of_a_non_model_directory_is_an_input_error(tmp_path):
    from automl.exceptions import ModelLoadError
    with pytest.raises(ModelLoadError):
        write_fit_report(tmp_path / "missing", tmp_path / "r.html")


def test_an_unfitted_model_is_refused():
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        plot_anytime(AutoML())
    with pytest.raises(NotFittedError):
        fit_report_html(AutoML())
