"""Rendering: every figure draws from its data (and from empty data) onto an Agg canvas, no pyplot needed."""
from __future__ import annotations

import base64

import numpy as np
import pandas as pd
import pytest

from automl.report import data as D
from automl.report import figures as F
from tests.report.factories import kb_tables as _kb_tables
from tests.report.factories import make_trial

TRIALS = [make_trial(0, "lightgbm", 0.8, origin="kb"), make_trial(1, "linear", 0.7, origin="portfolio"),
          make_trial(2, "lightgbm", 0.9, fidelity=0.25, origin="surrogate"),
          make_trial(3, "knn", 0.0, status="timeout", origin="random"), make_trial(4, "mlp", 0.85, origin="promoted")]


def png(fig) -> bytes:
    data = base64.b64decode(F.png_base64(fig))
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    return data


def test_anytime_figure_shows_origins_fidelity_and_failures():
    fig, ax = F.figure()
    F.draw_anytime(D.anytime_curve(TRIALS, True), ax, "roc_auc")
    labels = ax.get_legend_handles_labels()[1]
    for expected in ("knowledge base", "portfolio", "surrogate", "promoted (higher fidelity)",
                     "best so far (fidelity 1)", "failed / timed out"):
        assert expected in labels
    assert ax.get_ylabel() == "validation roc_auc"
    png(fig)


@pytest.mark.parametrize("draw", [
    lambda ax: F.draw_anytime(D.anytime_curve([]), ax),
    lambda ax: F.draw_families(D.family_scores([]), D.family_score_points([]), ax),
    lambda ax: F.draw_neighbours(D.neighbours_frame([]), ax),
    lambda ax: F.draw_importance(pd.DataFrame(), ax),
    lambda ax: F.draw_confusion({}, ax),
    lambda ax: F.draw_calibration({}, ax),
    lambda ax: F.draw_kb_sizes(D.kb_overview(pd.DataFrame()), ax),
    lambda ax: F.draw_kb_map(D.metafeature_map(pd.DataFrame(), []), ax),
    lambda ax: F.draw_wins(pd.DataFrame(), ax),
], ids=["anytime", "families", "neighbours", "importance", "confusion", "calibration", "kb-sizes", "kb-map",
        "wins"])
def test_empty_data_draws_a_message_not_an_error(draw):
    fig, ax = F.figure(5, 3)
    draw(ax)
    assert not ax.axison and ax.texts  # axis hidden, a message instead
    png(fig)


def test_every_figure_renders():
    rng = np.random.default_rng(0)
    datasets, evaluations, names = _kb_tables()
    wins = D.winning_families(evaluations, datasets)
    draws = [
        lambda ax: F.draw_families(D.family_scores(TRIALS, True), D.family_score_points(TRIALS), ax, "auc"),
        lambda ax: F.draw_neighbours(D.neighbours_frame([{"name": "iris", "distance": 0.2},
                                                         {"fingerprint": "abc", "distance": 0.5}]), ax),
        lambda ax: F.draw_importance(pd.DataFrame({"feature": ["a", "b"], "importance": [0.2, -0.01],
                                                   "std": [0.01, np.nan], "repeats": [3, 3]}), ax, "rmse",
                                     greater_is_better=False),
        lambda ax: F.draw_confusion(D.confusion_data([0, 1, 2, 2], [0, 1, 1, 2], ["x", "y", "z"]), ax),
        lambda ax: F.draw_calibration(D.calibration_data(rng.integers(0, 2, 200), rng.uniform(size=200)), ax),
        lambda ax: F.draw_kb_sizes(D.kb_overview(datasets), ax),
        lambda ax: F.draw_kb_map(D.metafeature_map(datasets, names, new=datasets.iloc[0].to_dict(),
                                                   neighbours=["fp1"]), ax),
        lambda ax: F.draw_wins(D.wins_table(wins, "size"), ax, "size"),
    ]
    for draw in draws:
        fig, ax = F.figure(6, 4)
        draw(ax)
        assert ax.axison
        png(fig)
    fig = F.figure(8, 3)[0]
    fig.clf()
    axes = fig.subplots(1, 2)
    F.draw_residuals(D.residuals_data(rng.normal(size=50), rng.normal(size=50)), axes)
    assert axes[1].get_ylabel().startswith("residual")
    png(fig)


def test_importance_axis_says_which_way_is_worse():
    imp = pd.DataFrame({"feature": ["a"], "importance": [0.2], "std": [0.0], "repeats": [1]})
    fig, ax = F.figure()
    F.draw_importance(imp, ax, "rmse", greater_is_better=False)
    assert ax.get_xlabel().startswith("increase in rmse")
    F.draw_importance(imp, ax, "roc_auc", greater_is_better=True)
    assert ax.get_xlabel().startswith("drop in roc_auc")
