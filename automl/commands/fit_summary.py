"""What ``automl fit`` reports about the model it saved: the ``--json`` summary and the printed leaderboard."""
from __future__ import annotations

import json
from pathlib import Path

import click


def fit_summary(model, out_dir: Path, seconds: float) -> dict:
    from automl.persistence import directory_size
    from automl.search.messages import Status
    board = model.leaderboard_
    n_ok = sum(1 for t in model.trials_ if t.get("status") == Status.OK)
    return {
        "task": model.task_,
        "metric": model.metric_,
        "best_score": model.best_score_,
        "best_config": model.best_config_,
        "validation": model.validation_,
        "validation_scheme": model.fit_info_.get("validation"),
        "class_distribution": model.class_distribution_,
        "decision_threshold": model.decision_threshold_,
        "options": model.fit_info_["options"],
        "ensemble": model.ensemble_,
        "final_model": model.fit_info_["final_model"],
        "n_trials": len(model.trials_),
        "n_trials_ok": n_ok,
        "n_evaluations_written": model.n_evaluations_written_,
        "resumed_from": model.resumed_from_,
        "warm_start": model.fit_info_["warm_start_note"],
        "dropped_columns": model.encoder_.schema["dropped"],
        "leakage": model.fit_info_["leakage"],
        "rare_classes": model.fit_info_["rare_classes"],
        "rows_dropped_missing_target": model.n_rows_dropped_,
        "model_dir": str(out_dir),
        "model_size_bytes": directory_size(out_dir),
        "fallback": model.fit_info_.get("fallback"),
        "kept_previous_model": bool(model.fit_info_.get("kept_previous_model")),
        "compact": model.fit_info_.get("compact"),
        "startup": (model.fit_info_.get("timings") or {}).get("startup"),
        "interrupted": bool(model.fit_info_.get("interrupted")),
        "elapsed_seconds": round(seconds, 3),
        "time_budget": model.time_budget,
        "leaderboard": json.loads(board.head(20).to_json(orient="records")),
    }


def print_leaderboard(model, summary: dict) -> None:
    click.echo(f"task {summary['task']}, metric {summary['metric']}, validation {summary['validation']}, "
               f"{summary['n_trials']} trials in {summary['elapsed_seconds']:.1f}s")
    if summary["class_distribution"]:
        click.echo("classes: " + ", ".join(f"{c['class']} {c['count']} ({100 * c['share']:.1f}%)"
                                           for c in summary["class_distribution"][:20])
                   + (" ..." if len(summary["class_distribution"]) > 20 else "")
                   + (f"; decision threshold {summary['decision_threshold']:.3f}"
                      if summary["decision_threshold"] is not None else ""))
    _print_board(model.leaderboard_.head(16), summary["final_model"]["description"])
    if summary["interrupted"]:
        click.echo("search interrupted: the best model found so far was kept")
    if summary["fallback"]:
        click.echo(f"fallback: {summary['fallback']['reason']}; {summary['fallback']['family']} scored on "
                   f"{summary['fallback']['holdout_rows']} held-out rows")
    if summary["kept_previous_model"]:
        click.echo("the resumed model scored better on its validation than this search's: it was kept")
    click.echo(f"best {summary['metric']}: {summary['best_score']:.5g}  ({summary['final_model']['description']})")
    click.echo(f"model saved to {summary['model_dir']} ({summary['model_size_bytes'] / 1e6:.1f} MB); "
               f"{summary['n_evaluations_written']} evaluation(s) written to the knowledge base")


def _print_board(board, final_description: str) -> None:
    from automl.leaderboard import FINAL, PARTIAL, PARTIAL_NOTE
    if not len(board):
        return
    cols = ["kind", "family", "fidelity", "score", "fit_seconds", "status", "origin", "config_id"]
    shown = board[cols].copy()
    # a trial's family with the steps it chose instead of its defaults, e.g. quantile>percentile(30)>linear
    shown["family"] = board["pipeline"].fillna(board["family"]).str.replace(" > ", ">", regex=False)
    shown.loc[shown["kind"] == FINAL, "family"] = final_description
    shown["score"] = shown["score"].map(lambda v: f"{v:.5g}" if isinstance(v, (int, float)) and v == v else "-")
    shown["fit_seconds"] = shown["fit_seconds"].map(lambda v: f"{v:.2f}" if isinstance(v, (int, float)) and
                                                    v == v else "-")
    shown["config_id"] = shown["config_id"].map(lambda v: v if len(str(v)) <= 20 else str(v)[:19] + "\u2026")
    click.echo(shown.to_string())
    if (shown["kind"] == PARTIAL).any():
        click.echo(f"({PARTIAL_NOTE})")
