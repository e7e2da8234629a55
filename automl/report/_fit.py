"""The fit report: what a fitted model knows about its search, and how it does on evaluation data.

Reads a model through its fitted attributes, falling back to the saved manifest for what an older
model lacks; evaluates it only through its public ``predict`` / ``predict_proba`` on raw tables.
"""
from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from knowledge_base.records import finite_or_none

from ..leaderboard import FINAL, PARTIAL_NOTE
from . import _data as D
from . import _figures as F
from ._page import Page, esc, fmt, img, kv_table, note, table

log = logging.getLogger("automl")

DEFAULT_MAX_ROWS = 1000
DEFAULT_REPEATS = 3
DEFAULT_IMPORTANCE_SECONDS = 20.0


# --------------------------------------------------------------------------- what the model knows
@dataclass
class ModelFacts:
    """Everything the report reads from a model (and its manifest), with defaults for what is missing."""

    task: str | None
    metric: str | None
    greater_is_better: bool | None
    trials: list[dict]
    leaderboard: pd.DataFrame | None
    ensemble: list
    best_config: dict
    best_score: float | None
    validation: str | None
    neighbours: list
    warm_start: list
    fit_info: dict
    schema: dict
    classes: list | None
    estimator: str
    manifest: dict = field(default_factory=dict)


def model_facts(model: Any, manifest: dict | None = None) -> ModelFacts:
    """What the report reads from ``model`` (a fitted estimator); raises NotFittedError for an unfitted one."""
    if hasattr(model, "fit") and hasattr(model, "get_params"):
        from sklearn.utils.validation import check_is_fitted
        check_is_fitted(model)
    manifest = manifest or {}
    task = getattr(model, "task_", None) or manifest.get("task")
    metric = getattr(model, "metric_", None) or manifest.get("metric")
    gib = None
    if metric and task:
        try:
            from ..metrics import get_metric
            gib = get_metric(metric, task).greater_is_better
        except Exception:  # an unknown (newer or removed) metric: directions come from the losses
            gib = None
    board = getattr(model, "leaderboard_", None)
    if board is None and manifest.get("leaderboard") is not None:
        board = pd.DataFrame(manifest["leaderboard"])
    encoder = getattr(model, "encoder_", None)
    schema = getattr(encoder, "schema", None) if encoder is not None else None
    classes = getattr(model, "classes_", None)
    return ModelFacts(
        task=task, metric=metric, greater_is_better=gib,
        trials=list(getattr(model, "trials_", None) or []),
        leaderboard=board,
        ensemble=list(getattr(model, "ensemble_", None) or manifest.get("ensemble") or []),
        best_config=dict(getattr(model, "best_config_", None) or manifest.get("best_config") or {}),
        best_score=finite_or_none(getattr(model, "best_score_", manifest.get("best_score"))),
        validation=getattr(model, "validation_", None) or manifest.get("validation"),
        neighbours=list(getattr(model, "neighbours_", None) or manifest.get("neighbours") or []),
        warm_start=list(getattr(model, "warm_start_configs_", None) or []),
        fit_info=dict(getattr(model, "fit_info_", None) or manifest.get("fit") or {}),
        schema=dict(schema or manifest.get("input_schema") or {}),
        classes=list(classes) if classes is not None else manifest.get("classes"),
        estimator=type(model).__name__,
        manifest=manifest)


# --------------------------------------------------------------------------- evaluation data
@dataclass
class Evaluation:
    """The model on evaluation rows: score, predictions for the diagnostics, permutation importance."""

    n_rows: int
    n_dropped: int
    score: float | None
    score_error: str | None
    confusion: dict | None = None
    calibration: dict | None = None
    residuals: dict | None = None
    importance: pd.DataFrame | None = None
    importance_error: str | None = None


def _scorer(model: Any, facts: ModelFacts):
    """(score(X, y_target) -> float, greater_is_better) through the model's public prediction methods."""
    from ..metrics import get_metric
    metric = get_metric(facts.metric, facts.task)

    def score(X: pd.DataFrame, target: np.ndarray) -> float:
        if facts.task == "regression":
            return metric.score(target, np.asarray(model.predict(X), dtype=float))
        proba = np.asarray(model.predict_proba(X), dtype=float)
        return metric.score(target, proba if metric.needs_proba else proba.argmax(axis=1))
    return score, metric.greater_is_better


def evaluate(model: Any, X: pd.DataFrame, y: Any, facts: ModelFacts | None = None, *,
             max_rows: int = DEFAULT_MAX_ROWS, n_repeats: int = DEFAULT_REPEATS, seed: int = 0,
             importance_seconds: float | None = DEFAULT_IMPORTANCE_SECONDS, importance: bool = True) -> Evaluation:
    """Score ``model`` on raw ``X`` / labels ``y``, compute the diagnostics and permutation importance.

    Rows with a missing or (classification) unknown label are dropped and counted. Importance runs on
    at most ``max_rows`` rows (seeded sample), shuffling the raw input columns the model uses.
    """
    facts = facts or model_facts(model)
    X = pd.DataFrame(X).reset_index(drop=True)
    y = pd.Series(y).reset_index(drop=True) if not isinstance(y, pd.Series) else y.reset_index(drop=True)
    if len(X) != len(y):
        from ..exceptions import InputError
        raise InputError(f"evaluation data has {len(X)} rows but {len(y)} target values")
    keep = np.array(y.notna().to_numpy(), dtype=bool)
    if facts.task != "regression":
        codes, known = D.encode_labels(y, facts.classes or [])
        keep &= known
        target = codes
    else:
        target = pd.to_numeric(y, errors="coerce").to_numpy(dtype=float)
        keep &= np.isfinite(target)
    n_dropped = int((~keep).sum())
    X, target = X[keep].reset_index(drop=True), target[keep]
    used = [c for c in (facts.schema.get("used") or {}) if c in X.columns] or list(X.columns)
    X = X[used]
    ev = Evaluation(n_rows=int(len(X)), n_dropped=n_dropped, score=None, score_error=None)
    if len(X) == 0:
        ev.score_error = "no evaluation row has a known target value"
        return ev
    score_fn, gib = _scorer(model, facts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ev.score = float(score_fn(X, target))
        except ValueError as exc:  # e.g. ROC AUC on rows of one class only
            ev.score_error = str(exc)
        if facts.task == "regression":
            ev.residuals = D.residuals_data(target, np.asarray(model.predict(X), dtype=float), seed=seed)
        else:
            proba = np.asarray(model.predict_proba(X), dtype=float)
            ev.confusion = D.confusion_data(target, proba.argmax(axis=1), facts.classes)
            ev.calibration = D.calibration_data(target, proba)
        if importance:
            rows = np.arange(len(X))
            if len(X) > max_rows:
                rows = np.sort(np.random.default_rng(seed).choice(len(X), max_rows, replace=False))
            Xs, ts = X.iloc[rows].reset_index(drop=True), target[rows]
            try:
                ev.importance = D.permutation_importance(lambda frame: score_fn(frame, ts), Xs, used,
                                                         greater_is_better=gib, n_repeats=n_repeats, seed=seed,
                                                         time_limit=importance_seconds)
            except ValueError as exc:
                ev.importance_error = str(exc)
    return ev


# --------------------------------------------------------------------------- the page
def fit_report_html(model: Any, *, manifest: dict | None = None, X: pd.DataFrame | None = None, y: Any = None,
                    data_label: str | None = None, in_sample: bool = False, max_rows: int = DEFAULT_MAX_ROWS,
                    n_repeats: int = DEFAULT_REPEATS, importance_seconds: float | None = DEFAULT_IMPORTANCE_SECONDS,
                    seed: int = 0, title: str | None = None) -> str:
    """The whole fit report as one self-contained HTML page.

    ``X``, ``y``: evaluation data (raw table and labels) for the test score, the diagnostics and
    permutation importance; without them those sections say what is needed. ``in_sample`` labels the
    data as the training rows (the score is then a training score, optimistic).
    """
    facts = model_facts(model, manifest)
    ev: Evaluation | None = None
    ev_error: str | None = None
    if X is not None and y is not None:
        try:
            ev = evaluate(model, X, y, facts, max_rows=max_rows, n_repeats=n_repeats, seed=seed,
                          importance_seconds=importance_seconds)
        except Exception as exc:  # shown in the sections that need the data
            log.warning("evaluating the model for the report failed: %s", exc)
            ev_error = f"{type(exc).__name__}: {exc}"
    label = data_label or ("training data (in-sample)" if in_sample else "evaluation data")
    subtitle = " \u00b7 ".join(str(s) for s in (facts.estimator, facts.task, facts.metric and
                                                 f"metric {facts.metric}") if s)
    page = Page(title or "AutoML fit report", subtitle)
    page.add("summary", "Summary", lambda: _summary(facts, ev, label, in_sample))
    page.add("leaderboard", "Leaderboard", lambda: _leaderboard(facts))
    page.add("anytime", "How fast the search found a good model", lambda: _anytime(facts))
    page.add("families", "Score by model family", lambda: _families(facts))
    page.add("warm-start", "Where the warm start came from", lambda: _warm_start(facts))
    page.add("importance", "Why it predicts what it does: permutation importance",
             lambda: _importance(facts, ev, ev_error, label))
    page.add("diagnostics", "Diagnostics" + (": confusion matrix and calibration" if facts.task != "regression"
                                             else ": residuals"), lambda: _diagnostics(facts, ev, ev_error, label))
    versions = facts.fit_info.get("versions") or facts.manifest.get("versions") or {}
    footer = ", ".join(f"{k} {v}" for k, v in versions.items())
    return page.render(footer=f"Versions: {footer}" if footer else "")


_NEEDS_DATA = ("This section needs evaluation data: run `automl report MODEL_DIR --data DATA.csv --target "
               "COLUMN` (or pass X and y in Python) with rows the model has not been trained on.")


def _summary(f: ModelFacts, ev: Evaluation | None, label: str, in_sample: bool) -> str:
    pairs = _search_facts(f) + [_test_score(ev, label, in_sample)] + _data_facts(f)
    pairs.append(("Warm start", f.fit_info.get("warm_start_note") or "-"))
    return kv_table(pairs) + _final_model_members(f)


def _search_facts(f: ModelFacts) -> list[tuple[str, Any]]:
    """The data's shape, task, metric, budget, trials, validation protocol and final validation score."""
    info = f.fit_info
    schema = f.schema
    n_in = len(schema.get("columns") or []) or None
    dropped = schema.get("dropped") or {}
    shape = (f"{fmt(info.get('n_rows'))} rows \u00d7 {fmt(n_in)} input columns "
             f"({len(schema.get('used') or {})} used, {len(dropped)} dropped) \u2192 "
             f"{fmt(info.get('n_features'))} model features") if info or schema else "unknown"
    budget = "-"
    if info.get("time_budget") is not None:
        budget = (f"{fmt(info.get('time_budget'))} s budget, {fmt(info.get('fit_seconds'))} s used, "
                  f"strategy {info.get('strategy', '-')}, {info.get('n_jobs', '-')} worker(s), "
                  f"seed {info.get('seed', '-')}")
    n_trials = len(f.trials)
    n_ok = sum(1 for t in f.trials if t.get("status") == "ok")
    return [
        ("Data", shape),
        ("Task", f.task or "-"),
        ("Metric", f"{f.metric or '-'} ({'higher' if f.greater_is_better else 'lower'} is better)"
         if f.greater_is_better is not None else (f.metric or "-")),
        ("Budget", budget),
        ("Trials", f"{n_trials} ({n_ok} finished)" if n_trials else "no search history in this model"),
        ("Validation protocol", f.validation or "-"),
        ("Final validation score", fmt(f.best_score, 5)),
    ]


def _test_score(ev: Evaluation | None, label: str, in_sample: bool) -> tuple[str, Any]:
    if ev is None:
        return ("Test score", "no evaluation data given")
    name = "Training score (in-sample, optimistic)" if in_sample else "Test score"
    text = fmt(ev.score, 5) if ev.score is not None else f"not computable: {ev.score_error}"
    extra = f" on {fmt(ev.n_rows)} rows of {label}"
    if ev.n_dropped:
        extra += f" ({fmt(ev.n_dropped)} rows without a known target left out)"
    return (name, text + extra)


def _data_facts(f: ModelFacts) -> list[tuple[str, Any]]:
    """Classes, decision threshold, dropped columns, the leakage check and rare classes, where the fit has them."""
    info = f.fit_info
    dropped = f.schema.get("dropped") or {}
    pairs: list[tuple[str, Any]] = []
    dist = info.get("class_distribution")
    if dist:
        shown = ", ".join(f"{c['class']}: {fmt(c['count'])} ({100 * c['share']:.1f} %)" for c in dist[:12])
        pairs.append(("Class distribution (training rows)",
                      f"{len(dist)} classes \u2014 {shown}" + (" \u2026" if len(dist) > 12 else "")))
    elif f.classes is not None:
        shown = ", ".join(map(str, f.classes[:12])) + (" \u2026" if len(f.classes) > 12 else "")
        pairs.append(("Classes", f"{len(f.classes)}: {shown}"))
    if info.get("decision_threshold") is not None:
        pairs.append(("Decision threshold", f"{info['decision_threshold']:.3f} on P({f.classes[1] if f.classes else 1}),"
                                            f" tuned on validation predictions for {f.metric}"))
    if dropped:
        pairs.append(("Dropped columns", "; ".join(f"{k} ({v})" for k, v in list(dropped.items())[:12])))
    if "leakage" in info:  # models fitted before the check have no entry
        leaks = info["leakage"] or []
        pairs.append(("Leakage check", "; ".join(
            f"{x['column']} predicts the target alone ({x['kind']}, {x['measure']} {x['score']:.4f}): "
            + ("kept, so validation scores may be optimistic" if x["kept"] else "dropped")
            for x in leaks) or "no column predicts the target alone"))
    rare = info.get("rare_classes")
    if rare:
        pairs.append(("Rare classes", f"{fmt(rare['n_rows'])} row(s) of classes with fewer than {rare['min_rows']} "
                                      f"rows ({', '.join(map(str, rare['classes']))}) "
                                      + (f"merged into {rare['merged_into']!r}" if rare["mode"] == "merge"
                                         else "set aside (never predicted; probability: their share of the rows)")))
    return pairs


def _final_model_members(f: ModelFacts) -> str:
    members = D.ensemble_members(f.ensemble, f.trials, f.best_config)
    out = "<h3>Final model: ensemble members and weights</h3>"
    if members.empty:
        return out + note(f"Single configuration: {f.best_config.get('family', 'unknown')} "
                          f"({D.config_summary(f.best_config)})" if f.best_config else "No ensemble recorded.")
    return out + table(members, ["family", "weight", "score", "config_id"],
                       headers={"score": "validation score"}, formats={"weight": lambda v: f"{v:.2f}"})


def _leaderboard(f: ModelFacts) -> str:
    board = D.leaderboard_frame(f.leaderboard, f.ensemble, limit=25)
    if board.empty:
        return note("This model carries no leaderboard (for example it was refit from one configuration).")
    total = len(f.leaderboard) if f.leaderboard is not None else len(board)
    if "config" in board.columns:
        board["hyperparameters"] = board["config"].map(D.config_summary)
        board["_full"] = board["config"].astype(str)
    if "origin" in board.columns:
        board["origin"] = board["origin"].map(D.origin_label)
    if "error" in board.columns:
        board["error"] = board["error"].map(lambda e: "" if e is None or (isinstance(e, float) and math.isnan(e))
                                            else str(e)[:80])
    cols = ["kind", "family", "fidelity", "score", "fit_seconds", "status", "origin", "ensemble_weight",
            "hyperparameters", "error", "config_id"]
    if "error" in board.columns and not board["error"].astype(bool).any():
        cols.remove("error")
    if "kind" in board.columns:  # the final model's row: its members and weights instead of hyperparameters
        final = board["kind"] == FINAL
        board.loc[final, "hyperparameters"] = (f.fit_info.get("final_model") or {}).get("description", "")
        board.loc[final, "ensemble_weight"] = 0.0
    else:  # a model saved before the final model had a row
        cols.remove("kind")
    return (table(board, cols, headers={"fit_seconds": "seconds", "ensemble_weight": "ensemble weight"},
                  formats={"ensemble_weight": lambda v: f"{v:.2f}" if v else "",
                           "fit_seconds": lambda v: fmt(v, 3)},
                  index="rank", titles={"hyperparameters": "_full"})
            + note(f"Showing {len(board)} of {total} rows: the final model that predict uses, then the trials at "
                   f"full fidelity by validation score, then the rest ({PARTIAL_NOTE})."))


def _anytime(f: ModelFacts) -> str:
    curve = D.anytime_curve(f.trials, f.greater_is_better)
    if not curve["n_trials"]:
        return note("This model carries no search history (for example it was refit from one configuration), "
                    "so there is no anytime curve.")
    fig, ax = F.figure(9, 4.6)
    F.draw_anytime(curve, ax, f.metric)
    text = (f"{curve['n_trials']} trials; the final best ({fmt(curve['final_best'], 5)}) was reached after "
            f"{fmt(curve['time_to_best'], 3)} s ({curve['time_axis']})." if curve["best"]
            else "No trial finished at full fidelity.")
    counts = pd.Series([t.get("origin") or "unknown" for t in f.trials]).map(D.origin_label).value_counts()
    text += " Trials by origin: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + "."
    return img(fig, "anytime curve") + note(text)


def _families(f: ModelFacts) -> str:
    summary = D.family_scores(f.trials, f.greater_is_better)
    if summary.empty:
        return note("This model carries no search history, so there are no per-family scores.")
    fig, ax = F.figure(9, 0.9 + 0.45 * len(summary) + 1.2)
    F.draw_families(summary, D.family_score_points(f.trials), ax, f.metric)
    return img(fig, "score by family") + table(
        summary, ["family", "n_trials", "n_ok", "n_failed", "n_full_fidelity", "best_score", "median_score",
                  "fit_seconds"],
        headers={"n_trials": "trials", "n_ok": "finished", "n_failed": "failed", "n_full_fidelity": "at full fidelity",
                 "best_score": "best", "median_score": "median", "fit_seconds": "seconds"},
        formats={"fit_seconds": lambda v: fmt(v, 3)})


def _warm_start(f: ModelFacts) -> str:
    neighbours = D.neighbours_frame(f.neighbours)
    out = ""
    if neighbours.empty:
        why = f.fit_info.get("warm_start_note") or "the knowledge base was not used"
        out += note(f"No past dataset was used: {why}.")
    else:
        if "distance" in neighbours.columns:
            fig, ax = F.figure(8, 0.9 + 0.4 * len(neighbours))
            F.draw_neighbours(neighbours, ax)
            out += img(fig, "nearest past datasets")
        if "fingerprint" in neighbours.columns:
            neighbours["fingerprint"] = neighbours["fingerprint"].map(lambda s: str(s)[:16])
        out += table(neighbours, [c for c in neighbours.columns][:9])
    ws = D.warm_start_trials(f.trials, f.warm_start)
    if len(ws):
        out += "<h3>Warm-start configurations and how they scored here</h3>"
        out += table(ws, ["family", "origin", "score", "fidelity", "explanation", "config_id"],
                     headers={"score": "score in this fit"})
    kb_trials = [t for t in f.trials if t.get("origin") == "kb"]
    if f.trials:
        curve = D.anytime_curve(f.trials, f.greater_is_better)
        winner = curve["best"][-1] if curve["best"] else None
        if winner:
            out += note(f"The best single configuration ({winner['family']}, {winner['config_id']}) came from: "
                        f"{D.origin_label(winner['origin'])}. {len(kb_trials)} trial(s) started from the "
                        f"knowledge base.")
    return out


def _importance(f: ModelFacts, ev: Evaluation | None, ev_error: str | None, label: str) -> str:
    if ev_error:
        return f'<p class="section-error">The evaluation data could not be used: {esc(ev_error)}</p>'
    if ev is None:
        return note(_NEEDS_DATA)
    if ev.importance is None:
        return note(f"Importance not computable: {ev.importance_error or ev.score_error}")
    imp = ev.importance
    fig, ax = F.figure(8, 0.9 + 0.32 * min(20, len(imp)) + 0.6)
    F.draw_importance(imp, ax, f.metric, greater_is_better=f.greater_is_better)
    a = imp.attrs
    change = "Increase" if f.greater_is_better is False else "Drop"
    text = (f"{change} in {f.metric} when one raw input column is shuffled, on {fmt(a.get('n_rows'))} rows of {label} "
            f"(baseline {fmt(a.get('baseline'), 5)}), mean \u00b1 std over up to {int(imp['repeats'].max())} "
            f"shuffles, {fmt(a.get('seconds'), 2)} s.")
    if a.get("out_of_time"):
        text += " Stopped early at the time limit: some columns have fewer shuffles (or none)."
    return img(fig, "permutation importance") + note(text) + table(
        imp, ["feature", "importance", "std", "repeats"])


def _diagnostics(f: ModelFacts, ev: Evaluation | None, ev_error: str | None, label: str) -> str:
    if ev_error:
        return f'<p class="section-error">The evaluation data could not be used: {esc(ev_error)}</p>'
    if ev is None:
        return note(_NEEDS_DATA)
    if f.task == "regression":
        if not ev.residuals:
            return note("No residuals: no usable evaluation row.")
        fig = F.figure(11, 4.2)[0]
        fig.clf()
        axes = fig.subplots(1, 2)
        F.draw_residuals(ev.residuals, axes)
        r = ev.residuals
        return img(fig, "residuals") + note(f"On {fmt(r['n'])} rows of {label}: RMSE {fmt(r['rmse'])}, MAE "
                                            f"{fmt(r['mae'])}, mean residual {fmt(r['bias'])}.")
    if not ev.confusion:
        return note("No diagnostics: no usable evaluation row.")
    k = len(ev.confusion["labels"])
    fig = F.figure(11, max(4.2, 0.5 * k + 2))[0]
    fig.clf()
    ax1, ax2 = fig.subplots(1, 2)
    F.draw_confusion(ev.confusion, ax1)
    F.draw_calibration(ev.calibration, ax2)
    return img(fig, "confusion matrix and calibration") + note(f"On {fmt(ev.confusion['n'])} rows of {label}.")


# --------------------------------------------------------------------------- entry points
def load_for_report(model_dir: str | Path) -> tuple[Any, dict]:
    """Load a model directory (same major format version) with its manifest."""
    from ..exceptions import ModelLoadError
    from ..persistence import load_model
    obj, manifest = load_model(model_dir)
    if not hasattr(obj, "predict"):
        raise ModelLoadError(f"{str(model_dir)!r} does not hold an AutoML model")
    return obj, manifest


def write_fit_report(model: Any, out: str | Path, **kwargs: Any) -> Path:
    """Write the fit report for ``model`` (a fitted model or a model directory) to ``out``; returns the path."""
    from ..persistence import atomic_write_text
    manifest = kwargs.pop("manifest", None)
    if isinstance(model, (str, Path)):
        model, manifest = load_for_report(model)
    text = fit_report_html(model, manifest=manifest, **kwargs)
    out = Path(out)
    atomic_write_text(out, text)
    return out
