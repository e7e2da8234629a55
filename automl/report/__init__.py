"""Reports a person would rather look at than read: the fit report and the knowledge-base map.

Three layers, each usable alone:

* figure data (``automl.report.data``): pure functions from trials, predictions and tables to plain
  dicts and DataFrames (``anytime_curve``, ``family_scores``, ``permutation_importance``, ...);
* rendering (``automl.report.figures``): matplotlib, one ``draw_*`` per figure, drawing on a given Axes;
* HTML assembly: ``fit_report_html`` / ``write_fit_report`` and ``kb_report_html`` / ``write_kb_report``
  build one self-contained page (PNG figures embedded, no script, opens offline).

The ``plot_*`` functions below are what the estimators' ``plot_*`` methods call: they draw on ``ax``
(or a new pyplot Axes) and return the Axes.
"""
from __future__ import annotations

from typing import Any

from . import _data as data
from . import _figures as figures
from ._fit import Evaluation, evaluate, fit_report_html, load_for_report, model_facts, write_fit_report
from ._kb import kb_report_html, kb_tables, write_kb_report


def plot_anytime(model: Any, ax=None):
    """Best validation score against time, trials coloured by origin and sized by fidelity."""
    facts = model_facts(model)
    return figures.draw_anytime(data.anytime_curve(facts.trials, facts.greater_is_better),
                                figures.user_axes(ax, 9, 4.6), facts.metric)


def plot_families(model: Any, ax=None):
    """Every trial's validation score per model family, with each family's best."""
    facts = model_facts(model)
    return figures.draw_families(data.family_scores(facts.trials, facts.greater_is_better),
                                 data.family_score_points(facts.trials), figures.user_axes(ax), facts.metric)


def plot_importance(model: Any, X, y, ax=None, *, max_rows: int = 1000, n_repeats: int = 3, seed: int = 0,
                    time_limit: float | None = 20.0):
    """Permutation importance of the raw input columns on evaluation data ``X``, ``y``."""
    facts = model_facts(model)
    ev = evaluate(model, X, y, facts, max_rows=max_rows, n_repeats=n_repeats, seed=seed,
                  importance_seconds=time_limit)
    if ev.importance is None:
        from ..exceptions import InputError
        raise InputError(f"permutation importance is not computable: {ev.importance_error or ev.score_error}")
    return figures.draw_importance(ev.importance, figures.user_axes(ax), facts.metric,
                                   greater_is_better=facts.greater_is_better)


def plot_diagnostics(model: Any, X, y, ax=None):
    """Confusion matrix and calibration (classification) or predicted-vs-actual and residuals (regression).

    ``ax``: a pair of Axes; returns the pair.
    """
    facts = model_facts(model)
    ev = evaluate(model, X, y, facts, importance=False)
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    if facts.task == "regression":
        return figures.draw_residuals(ev.residuals or {}, ax)
    figures.draw_confusion(ev.confusion or {}, ax[0])
    figures.draw_calibration(ev.calibration or {}, ax[1])
    return ax


__all__ = ["data", "figures", "plot_anytime", "plot_families", "plot_importance", "plot_diagnostics",
           "fit_report_html", "write_fit_report", "kb_report_html", "write_kb_report", "kb_tables", "evaluate",
           "Evaluation", "model_facts", "load_for_report"]
