"""Command line: ``automl fit``, ``automl predict`` and ``automl kb ...``.

Only this module prints. Errors of the project's family become one line ``error: ...`` on
stderr with exit code 2 for bad input and 1 otherwise; ``--debug`` shows the traceback.
"""
from __future__ import annotations

import sys

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def _interrupted_exit() -> SystemExit:
    """Ctrl-C before a model exists: the one line and exit code 130 (nothing saved)."""
    sys.stderr.write("error: interrupted\n")
    sys.stderr.flush()
    return SystemExit(EXIT_INTERRUPTED)


try:  # Ctrl-C while the command line's own modules load ends like Ctrl-C later on
    import json
    import logging
    import os
    import time
    import traceback
    from pathlib import Path
    from typing import Callable, Iterable

    import click
except KeyboardInterrupt:
    raise _interrupted_exit() from None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class _ErrorHandlingGroup(click.Group):
    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Every way the command ends goes through here: click's usage errors, Ctrl-C during parsing or
        start-up and the command's own exit code become one line ``error: ...`` and the exit code."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:  # bare ``automl`` or ``automl kb``: a request for help
            click.echo(exc.ctx.get_help())
            sys.exit(0)
        except click.ClickException as exc:
            message = _one_line(exc.format_message()).rstrip(".")
            if message[:2].istitle():  # click's "Missing argument ..." reads as the rest of our messages
                message = message[0].lower() + message[1:]
            ctx = getattr(exc, "ctx", None)
            if isinstance(exc, click.UsageError) and ctx is not None:
                message += f"; see '{ctx.command_path} --help'"
            click.echo(f"error: {message}", err=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.Abort, KeyboardInterrupt):
            raise _interrupted_exit() from None
        sys.exit(code if isinstance(code, int) else 0)

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except KeyboardInterrupt:  # click would turn it into Abort after printing an empty line
            raise _interrupted_exit() from None

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except Exception as exc:  # the single place where errors become exit codes
            debug = (ctx.obj or {}).get("debug", False)
            if debug:
                traceback.print_exc()
            code = getattr(exc, "exit_code", None)
            if _is_project_error(exc) and isinstance(code, int):
                message = str(exc).strip().replace("\n", " ")
                click.echo(f"error: {message}", err=True)
                ctx.exit(code)
            click.echo(f"error: unexpected {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
                       f" (run with --debug for the traceback)", err=True)
            ctx.exit(1)


def _is_project_error(exc: Exception) -> bool:
    from automl.exceptions import AutoMLError
    if isinstance(exc, AutoMLError):
        return True
    try:
        from knowledge_base import KnowledgeBaseError
    except ImportError:  # pragma: no cover - the package is part of this distribution
        return False
    return isinstance(exc, KnowledgeBaseError)


class _StderrFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


_SAVED_LOGGING: list = []


def _configure_logging(quiet: bool, debug: bool) -> None:
    """Library warnings become ``warning: ...`` lines on stderr for this command (undone when it ends)."""
    logger = logging.getLogger("automl")
    _restore_logging()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_StderrFormatter())
    _SAVED_LOGGING[:] = [handler, logger.level, logger.propagate]
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else (logging.ERROR if quiet else logging.WARNING))
    logger.propagate = False


def _restore_logging() -> None:
    if _SAVED_LOGGING:
        handler, level, propagate = _SAVED_LOGGING
        logger = logging.getLogger("automl")
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
        _SAVED_LOGGING.clear()


@click.group(cls=_ErrorHandlingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.version_option(package_name="automl-meta", prog_name="automl")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Meta-learning AutoML: fit a model within a time budget, predict with it, grow the knowledge base."""
    ctx.ensure_object(dict)
    ctx.obj["start"] = time.monotonic()  # the time budget covers the whole command, imports included
    ctx.obj["debug"] = debug
    _configure_logging(False, debug)
    ctx.call_on_close(_restore_logging)


class _Progress:
    """A one-line live display on stderr: elapsed / budget, trials done, best score so far."""

    def __init__(self, budget: float, enabled: bool) -> None:
        self.budget = budget
        self.enabled = enabled
        self.shown = False

    def __call__(self, event: dict) -> None:
        if not self.enabled:
            return
        best = event.get("best_score")
        best_text = f"{best:.5g}" if isinstance(best, (int, float)) else "-"
        line = (f"\r[{event.get('elapsed', 0.0):6.1f}s / {self.budget:.0f}s] trials {event.get('n_trials', 0):4d}"
                f"  best {best_text}")
        sys.stderr.write(line.ljust(60))
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


class _ValuesHelpOption(click.Option):
    """An option whose help lists the valid values, read from their owner only when help is shown: the model
    registry and the metrics import scikit-learn and LightGBM (about 1 s), which only ``--help`` should pay."""

    def __init__(self, *args, values: Callable[[], Iterable[str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._values = values
        self._template = self.help or ""

    def get_help_record(self, ctx: click.Context):
        self.help = self._template.format(values=", ".join(self._values()))
        return super().get_help_record(ctx)


def _family_and_step_names() -> list[str]:
    from automl.models import REGISTRY
    from automl.models.steps import STEPS
    return [*REGISTRY.keys(), *STEPS.keys()]


def _metric_names() -> list[str]:
    from automl.metrics import METRICS
    return list(METRICS)


def _task_names() -> tuple[str, ...]:
    from automl.metrics import TASKS
    return TASKS


def _strategy_names() -> tuple[str, ...]:
    from automl.estimator import STRATEGIES
    return STRATEGIES


def _parse_budget(value: float) -> float:
    from automl.exceptions import InputError
    if not (value > 0) or value != value or value == float("inf"):
        raise InputError(f"--time-budget must be a positive number of seconds; got {value!r}")
    return float(value)


@main.command()
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--target", "-y", default=None,
              help="Name of the target column. [required unless --resume, which reuses the saved model's target]")
@click.option("--time-budget", "-t", type=float, default=60.0, show_default=True,
              help="Seconds for the whole fit, loading and saving included.")
@click.option("--metric", cls=_ValuesHelpOption, values=_metric_names, default=None,
              help="One of {values} (default: by task).")
@click.option("--task", cls=_ValuesHelpOption, values=_task_names, type=str, default=None,
              help="One of {values} (default: inferred).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Model directory to write (default: models/<data name>).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--n-jobs", type=int, default=1, show_default=True, help="Parallel trials (-1: all cores).")
@click.option("--kb", "kb_path", type=click.Path(path_type=Path), default=None,
              help="Knowledge base file (default: $AUTOML_KB or the per-user store).")
@click.option("--no-warm-start", is_flag=True, help="Do not start from the knowledge base.")
@click.option("--strategy", cls=_ValuesHelpOption, values=_strategy_names, type=str, default="warm",
              show_default=True, help="One of {values}.")
@click.option("--max-trials", type=int, default=None, help="Stop after N trials (deterministic mode).")
@click.option("--weight-column", default=None, help="Column holding row weights (not used as a feature).")
@click.option("--valid", "valid_path", type=click.Path(path_type=Path), default=None,
              help="Score every trial on this table (same columns as DATA, target included) instead of internal "
                   "CV/holdout; the model is trained on DATA only.")
@click.option("--groups", "groups_column", default=None,
              help="Grouped folds: no value of this column in both training and validation (not a feature).")
@click.option("--time-column", default=None,
              help="Forward-chaining folds in this column's order (numbers or dates); it stays a feature.")
@click.option("--cluster", default=None, metavar="ADDRESS",
              help="Run trials on a Dask cluster: tcp://host:port or 'local' (needs automl-meta[dask]).")
@click.option("--include", cls=_ValuesHelpOption, values=_family_and_step_names, default=None,
              help="Only these model families, or only these steps in their slots (comma-separated): {values}.")
@click.option("--exclude", cls=_ValuesHelpOption, values=_family_and_step_names, default=None,
              help="Never these model families or pipeline steps (comma-separated): {values}.")
@click.option("--drop-columns", default=None, help="Never use these columns (comma-separated).")
@click.option("--keep-columns", default=None,
              help="Keep these columns even when they predict the target alone (comma-separated).")
@click.option("--rare-classes", default="drop", show_default=True,
              help="Classes too small to validate: set their rows aside, or merge them into class 'other'.")
@click.option("--resume", "resume_dir", type=click.Path(path_type=Path), default=None,
              help="Continue the search saved in this model directory (same data, task and metric).")
@click.option("--compact", is_flag=True,
              help="Deployment-light model: the best single member refit on every row when it scores within 1 % "
                   "of the ensemble.")
@click.option("--report", "with_report", is_flag=True, help="Also write MODEL_DIR/report.html.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display and no warnings.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary on stdout.")
@click.pass_context
def fit(ctx, data, target, time_budget, metric, task, out_dir, seed, n_jobs, kb_path, no_warm_start, strategy,
        max_trials, weight_column, valid_path, groups_column, time_column, cluster, include, exclude, drop_columns,
        keep_columns, rare_classes, resume_dir, compact, with_report, quiet, as_json):
    """Fit the best model for DATA (CSV, TSV or Parquet) within the time budget and save it."""
    from automl.deadline import Deadline
    deadline = Deadline(_parse_budget(time_budget), start=ctx.obj["start"])
    if cluster is None:  # the budget runs from here: the workers' imports overlap with this process's
        from automl.search.runner import warm_up
        warm_up()
    _configure_logging(quiet, ctx.obj["debug"])
    import pandas as pd

    import knowledge_base
    from automl import AutoML
    from automl.data import load_table, split_target
    from automl.exceptions import InputError
    from automl.metrics import TASKS
    from automl.persistence import check_writable_dir, check_writable_file
    from automl.table_source import TableSource
    from automl.timing import PhaseClock
    clock = PhaseClock(start=ctx.obj["start"], cpu_start=0.0)  # CPU since the process started, imports included
    clock.lap("imports")
    if task is not None and task not in TASKS:
        raise InputError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    # --resume without --out saves back into the resumed model's directory (atomically: the old model stays whole
    # until the new one is complete)
    out_dir = out_dir or resume_dir or Path("models") / Path(data).name.split(".")[0]
    check_writable_dir(out_dir, "--out", replaced=True)  # at once, not after the budget
    check_writable_file(knowledge_base.resolve_path(kb_path), "--kb" if kb_path else "knowledge base")
    previous = AutoML.load(resume_dir) if resume_dir is not None else None
    if previous is not None:  # options not given on this command line continue the earlier fit's
        earlier = _resume_options(ctx, previous)
        target = earlier.get("target", target)
        weight_column = earlier.get("weight_column", weight_column)
        metric, task, seed = earlier.get("metric", metric), earlier.get("task", task), earlier.get("seed", seed)
        strategy, max_trials = earlier.get("strategy", strategy), earlier.get("max_trials", max_trials)
        include, exclude = earlier.get("include", include), earlier.get("exclude", exclude)
        compact = earlier.get("compact", compact)
        no_warm_start = not earlier.get("warm_start", not no_warm_start)
        valid_path, groups_column = earlier.get("valid", valid_path), earlier.get("groups", groups_column)
        time_column = earlier.get("time_column", time_column)
        drop_columns = earlier.get("drop_columns", drop_columns)
        keep_columns = earlier.get("keep_columns", keep_columns)
        rare_classes = earlier.get("rare_classes", rare_classes)
    if target is None:
        raise InputError("--target is required (the name of the column to predict)")
    table = load_table(data)
    X, y = split_target(table, target)
    X, groups, X_val, y_val = _validation_inputs(X, target, valid_path, groups_column, weight_column)
    weights = None
    if weight_column is not None:
        X, weights = split_target(X, weight_column)
        weights = pd.to_numeric(weights, errors="coerce")
        if weights.isna().any():
            raise InputError(f"--weight-column {weight_column!r} has missing or non-numeric values")
    clock.lap("load")
    progress = _Progress(time_budget, enabled=sys.stderr.isatty() and not quiet and not as_json)
    model = AutoML(task=task, time_budget=time_budget, metric=metric, n_jobs=n_jobs, seed=seed,
                   warm_start=not no_warm_start, knowledge_base=str(kb_path) if kb_path else None,
                   strategy=strategy, max_trials=max_trials, callback=progress,
                   include=tuple(include.split(",")) if include else None,
                   exclude=tuple(exclude.split(",")) if exclude else None, cluster=cluster, time_column=time_column,
                   drop_columns=_column_names((drop_columns or "",)) or None,
                   keep_columns=_column_names((keep_columns or "",)) or None, rare_classes=rare_classes,
                   compact=compact)
    source = TableSource(target=target, weight_column=weight_column, groups_column=groups_column,
                         valid_file=str(valid_path) if valid_path is not None else None)
    try:
        model.fit(X, y, sample_weight=weights, X_val=X_val, y_val=y_val, groups=groups, deadline=deadline,
                  resume=previous, source=source, startup_clock=clock)
    finally:
        progress.close()
    model.save(out_dir)
    if with_report:  # after the save, which replaces the directory
        from automl.report import write_fit_report
        write_fit_report(model, out_dir / "report.html")
    summary = _fit_summary(model, out_dir, deadline.elapsed())
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
    else:
        _print_leaderboard(model, summary)


_RESUMED_OPTIONS = {"metric": "metric", "task": "task", "seed": "seed", "strategy": "strategy",
                    "max_trials": "max_trials", "include": "include", "exclude": "exclude",
                    "no_warm_start": "warm_start", "weight_column": "weight_column", "target": "target",
                    "valid_path": "valid", "groups_column": "groups", "time_column": "time_column",
                    "drop_columns": "drop_columns", "keep_columns": "keep_columns", "rare_classes": "rare_classes",
                    "compact": "compact"}


def _validation_inputs(X, target: str, valid_path, groups_column, weight_column):
    """``(X without the groups column, groups, X_val, y_val)`` for ``--groups`` and ``--valid``."""
    from automl.data import load_table, shown_columns
    from automl.exceptions import InputError
    groups = X_val = y_val = None
    if groups_column is not None:
        if groups_column not in X.columns:
            raise InputError(f"--groups column {groups_column!r} not found in {shown_columns(X.columns)}")
        groups = X.pop(groups_column)
    if valid_path is not None:
        valid = load_table(valid_path)
        if target not in valid.columns:
            raise InputError(f"--valid {str(valid_path)!r} has no target column {target!r}")
        X_val = valid.drop(columns=[c for c in (target, weight_column, groups_column) if c in valid.columns])
        y_val = valid[target]
    return X, groups, X_val, y_val


def _resume_options(ctx, previous) -> dict:
    """The earlier fit's options for every ``fit`` option this command line left at its default."""
    stored = dict((getattr(previous, "fit_info_", None) or {}).get("options") or {})
    if not stored:  # a model saved before options were recorded: its constructor parameters
        stored = {k: v for k, v in previous.get_params().items() if k != "callback"}
    out = {}
    for param, key in _RESUMED_OPTIONS.items():
        if key not in stored or ctx.get_parameter_source(param) != click.core.ParameterSource.DEFAULT:
            continue
        value = stored[key]
        if key in ("include", "exclude", "drop_columns", "keep_columns") and value is not None:
            value = ",".join(value) if isinstance(value, (list, tuple)) else str(value)
        out[key] = value
    return out


def _fit_summary(model, out_dir: Path, seconds: float) -> dict:
    from automl.persistence import directory_size
    board = model.leaderboard_
    n_ok = sum(1 for t in model.trials_ if t.get("status") == "ok")
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


def _print_leaderboard(model, summary: dict) -> None:
    from automl.leaderboard import FINAL, PARTIAL, PARTIAL_NOTE
    board = model.leaderboard_.head(16)
    cols = ["kind", "family", "fidelity", "score", "fit_seconds", "status", "origin", "config_id"]
    final = summary["final_model"]
    click.echo(f"task {summary['task']}, metric {summary['metric']}, validation {summary['validation']}, "
               f"{summary['n_trials']} trials in {summary['elapsed_seconds']:.1f}s")
    if summary["class_distribution"]:
        click.echo("classes: " + ", ".join(f"{c['class']} {c['count']} ({100 * c['share']:.1f}%)"
                                           for c in summary["class_distribution"][:20])
                   + (" ..." if len(summary["class_distribution"]) > 20 else "")
                   + (f"; decision threshold {summary['decision_threshold']:.3f}"
                      if summary["decision_threshold"] is not None else ""))
    if len(board):
        shown = board[cols].copy()
        # a trial's family with the steps it chose instead of its defaults, e.g. quantile>percentile(30)>linear
        shown["family"] = board["pipeline"].fillna(board["family"]).str.replace(" > ", ">", regex=False)
        shown.loc[shown["kind"] == FINAL, "family"] = final["description"]
        shown["score"] = shown["score"].map(lambda v: f"{v:.5g}" if isinstance(v, (int, float)) and v == v else "-")
        shown["fit_seconds"] = shown["fit_seconds"].map(lambda v: f"{v:.2f}" if isinstance(v, (int, float)) and
                                                        v == v else "-")
        shown["config_id"] = shown["config_id"].map(lambda v: v if len(str(v)) <= 20 else str(v)[:19] + "\u2026")
        click.echo(shown.to_string())
        if (shown["kind"] == PARTIAL).any():
            click.echo(f"({PARTIAL_NOTE})")
    if summary["interrupted"]:
        click.echo("search interrupted: the best model found so far was kept")
    if summary["fallback"]:
        click.echo(f"fallback: {summary['fallback']['reason']}; {summary['fallback']['family']} scored on "
                   f"{summary['fallback']['holdout_rows']} held-out rows")
    if summary["kept_previous_model"]:
        click.echo("the resumed model scored better on its validation than this search's: it was kept")
    click.echo(f"best {summary['metric']}: {summary['best_score']:.5g}  ({final['description']})")
    click.echo(f"model saved to {summary['model_dir']} ({summary['model_size_bytes'] / 1e6:.1f} MB); "
               f"{summary['n_evaluations_written']} evaluation(s) written to the knowledge base")


def _column_names(values: tuple[str, ...]) -> list[str]:
    """Column names from a repeatable, comma-separated option, in the order given, each once."""
    names: list[str] = []
    for value in values:
        for name in (part.strip() for part in value.split(",")):
            if name and name not in names:
                names.append(name)
    return names


@main.command()
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--out", "out_path", type=click.Path(path_type=Path), default=None,
              help="CSV file for the predictions (default: stdout).")
@click.option("--proba", is_flag=True, help="Write class probabilities (classification).")
@click.option("--id-column", "--keep-columns", "keep_columns", multiple=True, metavar="A,B",
              help="Columns of DATA copied to the output before the predictions, in this order (repeatable or "
                   "comma-separated).")
@click.option("--quiet", "-q", is_flag=True, help="No warnings.")
@click.pass_context
def predict(ctx, model_dir, data, out_path, proba, keep_columns, quiet):
    """Predict DATA with the model saved in MODEL_DIR."""
    _configure_logging(quiet, ctx.obj["debug"])
    import pandas as pd
    from automl import AutoML
    from automl.data import load_table, shown_columns
    from automl.exceptions import InputError
    from automl.persistence import atomic_write_text, check_writable_file
    if out_path is not None:
        check_writable_file(out_path, "--out")
    model = AutoML.load(model_dir)
    keep = _column_names(keep_columns)
    table = load_table(data, text_columns=tuple(keep))
    absent = [c for c in keep if c not in table.columns]
    if absent:
        raise InputError(f"--id-column {', '.join(map(repr, absent))} not found in {Path(data).name}; columns are: "
                         f"{shown_columns(table.columns)}")
    if proba:
        if model.task_ == "regression":
            raise InputError("--proba needs a classification model; this one is regression")
        p = model.predict_proba(table)
        frame = pd.DataFrame(p, columns=[f"proba_{c}" for c in model.classes_])
    else:
        frame = pd.DataFrame({"prediction": model.predict(table)})
    clash = [c for c in keep if c in frame.columns]
    if clash:
        raise InputError(f"--id-column {clash[0]!r} has the name of a prediction column; rename it in the data")
    frame = pd.concat([table[keep].reset_index(drop=True), frame], axis=1)
    text = frame.to_csv(index=False)
    if out_path is None:
        click.echo(text, nl=False)
    else:
        atomic_write_text(out_path, text)
        click.echo(f"{len(frame)} prediction(s) written to {out_path}", err=True)


@main.command()
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--target", "-y", default=None, help="Target column of DATA (default: the one the model was fitted on).")
@click.option("--json", "as_json", is_flag=True, help="Print the evaluation as JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No warnings.")
@click.pass_context
def evaluate(ctx, model_dir, data, target, as_json, quiet):
    """Score the model saved in MODEL_DIR on labelled DATA.

    Every metric of the model's task, the rows scored, and a confusion matrix (classification) or a residual
    summary (regression)."""
    _configure_logging(quiet, ctx.obj["debug"])
    from automl import AutoML
    from automl.data import load_table, split_target
    from automl.exceptions import InputError
    model = AutoML.load(model_dir)
    options = (getattr(model, "fit_info_", None) or {}).get("options") or {}
    target = target or options.get("target")
    if target is None:
        raise InputError(f"--target is required: the model in {str(model_dir)!r} does not record its target column")
    X, y = split_target(load_table(data), target)
    not_features = [options.get("weight_column"), options.get("groups")]  # row weights and fold groups
    X = X.drop(columns=[c for c in not_features if c], errors="ignore")
    result = model.evaluate(X, y)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        _print_evaluation(result)


def _print_evaluation(result) -> None:
    import pandas as pd
    left_out = f" ({result.n_rows_left_out} left out)" if result.n_rows_left_out else ""
    click.echo(f"task {result.task}, {result.n_rows} row(s) scored{left_out}")
    width = max(len(s.name) for s in result.scores)
    for s in result.scores:
        value = "-" if s.score is None else f"{s.score:.5g}"
        note = "  (the model's metric)" if s.primary else ""
        click.echo(f"  {s.name:<{width}}  {value:>10}{note}")
    if result.confusion is not None:
        labels = [str(c) for c in result.confusion.labels]
        table = pd.DataFrame(result.confusion.counts, index=labels, columns=labels)
        click.echo("confusion matrix (rows: true class, columns: predicted class):")
        click.echo(table.to_string())
    if result.residuals is not None:
        r = result.residuals
        click.echo("residuals (observed - predicted):")
        click.echo(f"  mean {r.mean:.5g}  median {r.median:.5g}  q05 {r.q05:.5g}  q25 {r.q25:.5g}  q75 {r.q75:.5g}  "
                   f"q95 {r.q95:.5g}  min {r.min:.5g}  max {r.max:.5g}")
        click.echo(f"  MAE {r.mae:.5g}  RMSE {r.rmse:.5g}")


# --------------------------------------------------------------------------- knowledge base
@main.group()
def kb() -> None:
    """Inspect and maintain the knowledge base."""


_KB_OPTION = click.option("--kb", "kb_path", type=click.Path(path_type=Path), default=None,
                          help="Knowledge base file (default: $AUTOML_KB or the per-user store).")


@kb.command("info")
@_KB_OPTION
@click.option("--json", "as_json", is_flag=True)
def kb_info(kb_path, as_json):
    """Path, schema version and counts by task and source."""
    import knowledge_base
    info = knowledge_base.open_store(kb_path).info()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"knowledge base {info['path']} (schema {info['schema_version']})")
    click.echo(f"  datasets {info['n_datasets']}  configurations {info['n_configurations']}  "
               f"evaluations {info['n_evaluations']}  runs {info['n_runs']}  staged {info['pending_staged']}")
    click.echo(f"  datasets by task: {info['by_task']}")
    click.echo(f"  evaluations by source: {info['by_source']}")


@kb.command("similar")
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--target", "-y", required=True)
@click.option("--task", default=None)
@click.option("--metric", default=None)
@_KB_OPTION
@click.option("--json", "as_json", is_flag=True)
def kb_similar(data, target, task, metric, kb_path, as_json):
    """The past datasets nearest to DATA and the configurations a fit of it would start from, in order."""
    import dataclasses

    import knowledge_base
    from automl.data import load_table, split_target
    from automl.metrics import get_metric
    from automl.prepare import prepare
    from automl.warm_start import warm_start
    from knowledge_base.records import finite_or_none
    table = prepare(*split_target(load_table(data), target), task)  # what a fit of DATA sees and records
    mf = table.metafeatures
    lineage = knowledge_base.lineage(table.encoder.column_kinds(), target, table.task)
    metric_name = get_metric(metric, table.task).name
    start = warm_start(knowledge_base.open_store(kb_path), mf, table.task, metric_name, lineage=lineage)
    if as_json:
        click.echo(json.dumps({"task": table.task, "metric": metric_name, "fingerprint": table.fingerprint,
                               "lineage": lineage, "note": start.note,
                               "metafeatures": {name: finite_or_none(value) for name, value in mf.items()},
                               "neighbours": [dataclasses.asdict(nb) for nb in start.neighbours],
                               "suggestions": [dataclasses.asdict(s) for s in start.suggestions]}, indent=2, default=str))
        return
    click.echo(f"task {table.task}, metric {metric_name}; nearest datasets:")
    for nb in start.neighbours:
        click.echo(f"  {nb.distance:7.3f}  {nb.name or nb.fingerprint[:12]}  ({nb.n_rows} x {nb.n_features}, "
                   f"{nb.source})")
    click.echo(f"a fit starts from ({start.note}):")
    for s in start.suggestions:
        click.echo(f"  {s.config_id}  {s.origin:16s} {s.explanation}")


@kb.command("export")
@click.argument("directory", type=click.Path(path_type=Path))
@_KB_OPTION
def kb_export(directory, kb_path):
    """Write the store as Parquet files into DIRECTORY (lossless)."""
    import knowledge_base
    from automl.persistence import check_writable_dir
    check_writable_dir(directory, "DIRECTORY")
    counts = knowledge_base.open_store(kb_path).export(directory)
    click.echo(", ".join(f"{v} {k}" for k, v in counts.items()) + f" exported to {directory}")


@kb.command("import")
@click.argument("directory", type=click.Path(path_type=Path, exists=True, file_okay=False))
@_KB_OPTION
def kb_import(directory, kb_path):
    """Add the Parquet export in DIRECTORY to the store (existing rows are kept)."""
    import knowledge_base
    n = knowledge_base.open_store(kb_path).import_(directory)
    click.echo(f"{n} new evaluation(s) imported")


@kb.command("check")
@_KB_OPTION
def kb_check(kb_path):
    """Integrity check; exit code 1 when a problem is found."""
    import knowledge_base
    problems = knowledge_base.open_store(kb_path).check()
    for p in problems:
        click.echo(f"problem: {p}", err=True)
    if problems:
        raise SystemExit(1)
    click.echo("ok: no problem found")


@kb.command("compact")
@_KB_OPTION
def kb_compact(kb_path):
    """Merge staged writes and rewrite the store compactly."""
    import knowledge_base
    store = knowledge_base.open_store(kb_path)
    store.compact()
    click.echo(f"compacted {store.path}")


# --------------------------------------------------------------------------- production: drift and retune
def _print_drift(report) -> None:
    click.echo(f"drift {report.verdict.value}: {report.n_rows_now} new row(s) against {report.n_rows_before} "
               f"training row(s) (PSI: 0.1 moderate, 0.25 major, after sampling noise)")
    click.echo(f"  {'column':24s} {'kind':12s} {'PSI':>8s} {'noise':>7s} {'missing':>15s} {'unseen':>7s}  verdict")
    for c in report.columns:
        unseen = "-" if c.unseen_share is None else f"{100 * c.unseen_share:.1f}%"
        missing = f"{100 * c.missing_share_before:.1f}% -> {100 * c.missing_share_now:.1f}%"
        click.echo(f"  {c.name[:24]:24s} {c.kind.value:12s} {c.psi:8.3f} {c.noise:7.3f} {missing:>15s} "
                   f"{unseen:>7s}  {c.verdict.value}")
    if report.missing_columns:
        click.echo(f"  columns gone (not used by the model): {', '.join(report.missing_columns)}")
    if report.added_columns:
        click.echo(f"  new columns (ignored by the model): {', '.join(report.added_columns)}")
    if report.metafeature_distance is None:
        click.echo("  meta-feature distance: - (the new data has no target column)")
    else:
        moved = ", ".join(f"{k} {v:.2f}" for k, v in report.metafeatures_moved)
        click.echo(f"  meta-feature distance {report.metafeature_distance:.3f} (0 same, ~1.4 unrelated)"
                   + (f"; moved most: {moved}" if moved else ""))


@main.command()
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--target", "-y", default=None, help="Target column of DATA (default: the model's; optional).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No warnings.")
@click.pass_context
def drift(ctx, model_dir, data, target, as_json, quiet):
    """How far DATA has moved from the training data of the model saved in MODEL_DIR."""
    _configure_logging(quiet, ctx.obj["debug"])
    from automl import AutoML
    from automl.data import load_table
    from automl.drift import model_drift
    model = AutoML.load(model_dir)
    report = model_drift(model, load_table(data), target)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _print_drift(report)


@main.command()
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--target", "-y", default=None, help="Target column of DATA (default: the model's).")
@click.option("--time-budget", "-t", type=float, default=60.0, show_default=True,
              help="Seconds for the whole command, loading and saving included.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Write a winning challenger here instead of replacing MODEL_DIR.")
@click.option("--seed", type=int, default=None, help="Seed of the split and the search (default: the model's).")
@click.option("--max-trials", type=int, default=None, help="Stop after N trials (deterministic mode).")
@click.option("--n-jobs", type=int, default=1, show_default=True, help="Parallel trials (-1: all cores).")
@_KB_OPTION
@click.option("--quiet", "-q", is_flag=True, help="No progress display and no warnings.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary on stdout.")
@click.pass_context
def retune(ctx, model_dir, data, target, time_budget, out_dir, seed, max_trials, n_jobs, kb_path, quiet, as_json):
    """Search on DATA and replace the model in MODEL_DIR only if the new one scores better on held-out new rows.

    Exit code 0 whether the model was replaced or kept (--json "replaced" says which); an interrupted retune
    leaves MODEL_DIR unchanged.
    """
    from automl.deadline import Deadline
    deadline = Deadline(_parse_budget(time_budget), start=ctx.obj["start"])
    from automl.search.runner import warm_up
    warm_up()
    _configure_logging(quiet, ctx.obj["debug"])
    import knowledge_base
    from automl import AutoML
    from automl.data import load_table
    from automl.persistence import check_writable_dir, check_writable_file
    from automl.retune import retune as run_retune
    champion = AutoML.load(model_dir)
    # at once, not after the budget: where a winner would be saved, and the store the search writes back to
    check_writable_dir(out_dir or model_dir, "--out" if out_dir is not None else "MODEL_DIR", replaced=True)
    check_writable_file(knowledge_base.resolve_path(kb_path), "--kb" if kb_path else "knowledge base")
    table = load_table(data)
    progress = _Progress(time_budget, enabled=sys.stderr.isatty() and not quiet and not as_json)
    try:
        result = run_retune(champion, model_dir, table, target=target, out=out_dir, time_budget=time_budget,
                            deadline=deadline, seed=seed, max_trials=max_trials, n_jobs=n_jobs,
                            knowledge_base=str(kb_path) if kb_path else None, callback=progress)
    finally:
        progress.close()
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, default=str))
        return
    if result.drift is not None:
        _print_drift(result.drift)
    else:
        click.echo(f"drift: - ({result.drift_note})")
    click.echo(f"{result.metric} on {result.n_held_out_rows} held-out new row(s) ({result.held_out}): champion "
               f"{result.champion_score:.5g}, challenger {result.challenger_score:.5g} ({result.n_trials} trials on "
               f"{result.n_train_rows} rows)")
    if result.replaced:
        click.echo(f"replaced: the challenger is saved to {result.model_dir}")
    else:
        click.echo(f"kept: the model in {result.model_dir} is unchanged")


# --------------------------------------------------------------------------- reports
def _evaluation_data(data_path, target):
    """(X, y) from --data/--target, or (None, None); the two options go together."""
    from automl.exceptions import InputError
    if (data_path is None) != (target is None):
        raise InputError("--data and --target go together: give both, or neither")
    if data_path is None:
        return None, None
    from automl.data import load_table, split_target
    return split_target(load_table(data_path), target)


@main.command()
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.option("--out", "out_path", type=click.Path(path_type=Path), default=None,
              help="HTML file to write (default: MODEL_DIR/report.html).")
@click.option("--data", "data_path", type=click.Path(path_type=Path), default=None,
              help="Evaluation data (CSV, TSV or Parquet): test score, importance, diagnostics.")
@click.option("--target", "-y", default=None, help="Target column of --data.")
@click.option("--max-rows", type=click.IntRange(min=10), default=1000, show_default=True,
              help="Rows sampled for permutation importance.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="No warnings.")
@click.pass_context
def report(ctx, model_dir, out_path, data_path, target, max_rows, seed, quiet):
    """Write a self-contained HTML report of the model saved in MODEL_DIR."""
    _configure_logging(quiet, ctx.obj["debug"])
    from automl.report import load_for_report, write_fit_report
    from automl.persistence import check_writable_file
    model, manifest = load_for_report(model_dir)
    out_path = out_path or Path(model_dir) / "report.html"
    check_writable_file(out_path, "--out")
    X, y = _evaluation_data(data_path, target)
    write_fit_report(model, out_path, manifest=manifest, X=X, y=y, max_rows=max_rows, seed=seed,
                     data_label=Path(data_path).name if data_path else None)
    click.echo(f"report written to {out_path}", err=True)


@kb.command("report")
@click.option("--out", "out_path", type=click.Path(path_type=Path), default=Path("kb-report.html"),
              show_default=True, help="HTML file to write.")
@click.option("--data", "data_path", type=click.Path(path_type=Path), default=None,
              help="A new dataset to place on the map with its nearest past datasets.")
@click.option("--target", "-y", default=None, help="Target column of --data.")
@click.option("--task", default=None, help="binary, multiclass or regression (default: inferred).")
@_KB_OPTION
@click.option("--quiet", "-q", is_flag=True, help="No warnings.")
@click.pass_context
def kb_report(ctx, out_path, data_path, target, task, kb_path, quiet):
    """Write a self-contained HTML map of what the knowledge base knows."""
    _configure_logging(quiet, ctx.obj["debug"])
    from automl.persistence import check_writable_file
    from automl.report import write_kb_report
    check_writable_file(out_path, "--out")
    X, y = _evaluation_data(data_path, target)
    write_kb_report(out_path, kb_path, X=X, y=y, task=task, data_name=Path(data_path).name if data_path else None)
    click.echo(f"report written to {out_path}", err=True)


@kb.command("refresh")
@click.option("--from-dir", "from_dir", type=click.Path(path_type=Path), default=None,
              help="Folder of datasets: PMLB layout (NAME.tsv.gz + summary.csv) or CSV/Parquet files with "
                   "manifest.json / datasets.csv naming target and task.")
@click.option("--openml-suite", default=None, help="OpenML benchmark suite id or alias (e.g. 271, 269, 99).")
@click.option("--openml-tasks", default=None, help="Comma-separated OpenML task ids.")
@click.option("--budget", type=float, default=5.0, show_default=True,
              help="Seconds of real search per dataset (0: only the candidate pool).")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Process at most N datasets this run (already-done ones are skipped for free); run again "
                   "to continue.")
@click.option("--n-jobs", type=int, default=1, show_default=True, help="Datasets evaluated in parallel (-1: all cores).")
@click.option("--max-rows", type=click.IntRange(min=100), default=2000, show_default=True,
              help="Larger datasets are evaluated on a seeded subsample of this many rows (recorded in the protocol).")
@click.option("--candidates", "candidates_path", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              default=None, help="JSON list of configurations to evaluate instead of the shipped candidate pool "
                                 "(stored datasets get only the ones they lack).")
@click.option("--no-prior-runs", is_flag=True, help="OpenML: do not import run records as prior evaluations.")
@click.option("--openml-server", default=None, help="OpenML API URL (default: the openml client's configuration).")
@click.option("--openml-cache", type=click.Path(path_type=Path), default=None,
              help="openml client cache folder (default: the client's).")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds per OpenML request.")
@click.option("--cluster", default=None, metavar="ADDRESS",
              help="Evaluate datasets on a Dask cluster: tcp://host:port or 'local' (needs automl-meta[dask]).")
@click.option("--log", "log_path", type=click.Path(path_type=Path), default=None,
              help="Append the job's log here (default: <store>.refresh.log).")
@_KB_OPTION
@click.option("--quiet", "-q", is_flag=True, help="No progress lines.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.pass_context
def kb_refresh(ctx, from_dir, openml_suite, openml_tasks, budget, limit, n_jobs, max_rows, candidates_path,
               no_prior_runs, openml_server, openml_cache, timeout, cluster, log_path, kb_path, quiet, as_json):
    """Add datasets to the knowledge base: meta-features, candidate pool, a short search, write-back.

    Resumable and idempotent (datasets already done for the current versions and candidate pool are
    skipped; a stored dataset gets only the candidates it lacks); exit code 1
    when a dataset failed (each is reported and skipped), 2 for bad options.
    """
    import knowledge_base
    from automl.exceptions import InputError
    from automl.refresh import RefreshOptions, refresh_from_dir, refresh_from_openml
    _configure_logging(True, ctx.obj["debug"])
    use_openml = openml_suite is not None or openml_tasks is not None
    if (from_dir is None) == (not use_openml):
        raise InputError("give either --from-dir DIR or --openml-suite ID / --openml-tasks ID,ID,...")
    try:
        tasks = [int(t) for t in openml_tasks.split(",") if t.strip()] if openml_tasks else []
    except ValueError:
        raise InputError(f"--openml-tasks must be comma-separated integers; got {openml_tasks!r}") from None
    options = RefreshOptions(budget=budget, limit=limit, n_jobs=n_jobs, max_rows=max_rows,
                             pool=_candidate_pool(candidates_path), cluster=cluster)
    if cluster is not None:
        from automl.search.dask_runner import require_dask
        require_dask()  # bad input at once when Dask is missing
    store = knowledge_base.open_store(kb_path)
    refresh_log = logging.getLogger("automl.refresh")
    handler = logging.FileHandler(log_path or store.path.with_name(store.path.name + ".refresh.log"),
                                  encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    refresh_log.addHandler(handler)
    refresh_log.setLevel(logging.INFO)
    refresh_log.propagate = ctx.obj["debug"]
    progress = _refresh_progress(store.path) if not quiet and not as_json else None
    try:
        if from_dir is not None:
            summary = refresh_from_dir(from_dir, store=store, options=options, callback=progress)
        else:
            summary = refresh_from_openml(suite=openml_suite, tasks=tasks, store=store, options=options,
                                          callback=progress, server=openml_server, cache_dir=openml_cache,
                                          timeout=timeout, import_runs=not no_prior_runs)
    finally:
        refresh_log.removeHandler(handler)
        handler.close()
    _print_refresh_summary(summary, as_json)
    if summary.failed:
        raise SystemExit(1)


def _candidate_pool(path: Path | None) -> list[dict] | None:
    """``--candidates``: a JSON list of configurations, or a candidates document holding one."""
    from automl.exceptions import InputError
    if path is None:
        return None
    try:
        loaded = json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(f"--candidates {str(path)!r} is not JSON: {exc}") from None
    pool = loaded.get("configs") if isinstance(loaded, dict) else loaded
    if not isinstance(pool, list) or not all(isinstance(c, dict) and "family" in c for c in pool):
        raise InputError("--candidates must hold a list of configurations ({\"family\": ...})")
    return pool


def _refresh_progress(store_path: Path):
    """The refresh job's callback: a line on stderr when it starts and per dataset."""
    def progress(event: dict) -> None:
        if event["event"] == "start":
            click.echo(f"refreshing {store_path} from {event['source']}: {event['total']} dataset(s)", err=True)
        elif event["event"] == "dataset":
            o = event["outcome"]
            width = len(str(event["total"]))
            detail = f"{o.n_evaluations + o.n_openml} evaluation(s)" if o.status == "added" else o.reason
            click.echo(f"[{event['index']:>{width}}/{event['total']}] {o.name:32s} {o.status:8s} "
                       f"{o.seconds:6.1f}s  {detail}", err=True)
    return progress


def _print_refresh_summary(summary, as_json: bool) -> None:
    d = summary.to_dict()
    if as_json:
        click.echo(json.dumps(d, indent=2, default=str))
        return
    left = f", {d['not_reached']} left for the next run" if d["not_reached"] else ""
    click.echo(f"added {d['added']}, updated {d['updated']}, skipped {d['skipped']}, failed {d['failed']}{left} "
               f"in {d['seconds']:.1f}s; {d['evaluations_written']} evaluation(s) written")
    for o in summary.outcomes:
        if o.status == "failed":
            click.echo(f"  failed: {o.name}: {o.reason}")
    if summary.portfolio:
        click.echo(f"portfolio: {summary.portfolio}")
    for problem in (summary.check or {}).get("problems", []):
        click.echo(f"  check: {problem}")


if __name__ == "__main__":  # pragma: no cover
    main()
