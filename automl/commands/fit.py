"""``automl fit``: its options (one ``FitOptions``), ``--resume``'s reuse of the earlier fit's options, the
loading of DATA into what ``AutoML.fit`` takes, and the fit itself."""
from __future__ import annotations

import dataclasses
import json
import operator
from pathlib import Path
from typing import Any, Callable, NamedTuple

import click

from ._errors import configure_logging
from ._options import (KB_OPTION, ValuesHelpOption, family_and_step_names, metric_names, parse_budget,
                       positive_seconds, split_names, strategy_names, task_names)
from ._progress import Progress


@dataclasses.dataclass(frozen=True)
class FitOptions:
    """The command line of one ``automl fit``, one field per option (``--resume`` fills the ones left at their
    default from the earlier fit's)."""

    data: Path
    target: str | None
    time_budget: float
    metric: str | None
    task: str | None
    out_dir: Path | None
    seed: int
    n_jobs: int
    kb_path: Path | None
    no_warm_start: bool
    strategy: str
    max_trials: int | None
    weight_column: str | None
    valid_path: Path | None
    groups_column: str | None
    time_column: str | None
    cluster: str | None
    include: str | None
    exclude: str | None
    drop_columns: str | None
    keep_columns: str | None
    rare_classes: str
    resume_dir: Path | None
    compact: bool
    stacking: bool | None
    infer_limit: float | None
    memory_limit: str | None
    with_report: bool
    quiet: bool
    as_json: bool


@dataclasses.dataclass(frozen=True)
class FitInputs:
    """DATA (and ``--valid``) split into what ``AutoML.fit`` takes."""

    X: Any  # a ``HandedOver`` holder: the fit takes the table out and frees it once encoded
    y: Any
    weights: Any = None
    groups: Any = None
    X_val: Any = None
    y_val: Any = None


@click.command("fit")
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--target", "-y", default=None,
              help="Name of the target column. [required unless --resume, which reuses the saved model's target]")
@click.option("--time-budget", "-t", type=float, default=60.0, show_default=True,
              help="Seconds for the whole fit, loading and saving included.")
@click.option("--metric", cls=ValuesHelpOption, values=metric_names, default=None,
              help="One of {values} (default: by task).")
@click.option("--task", cls=ValuesHelpOption, values=task_names, type=str, default=None,
              help="One of {values} (default: inferred).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Model directory to write (default: models/<data name>).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--n-jobs", type=int, default=1, show_default=True, help="Parallel trials (-1: all cores).")
@KB_OPTION
@click.option("--no-warm-start", is_flag=True, help="Do not start from the knowledge base.")
@click.option("--strategy", cls=ValuesHelpOption, values=strategy_names, type=str, default="warm",
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
@click.option("--include", cls=ValuesHelpOption, values=family_and_step_names, default=None,
              help="Only these model families, or only these steps in their slots (comma-separated): {values}.")
@click.option("--exclude", cls=ValuesHelpOption, values=family_and_step_names, default=None,
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
@click.option("--stacking/--no-stacking", default=None,
              help="Let a second-layer model over the members' out-of-fold predictions replace the ensemble when "
                   "it wins on held-back rows (default: on, off with --max-trials).")
@click.option("--infer-limit", type=float, default=None, metavar="SECONDS",
              help="Seconds per row the final model's prediction may take at most (estimated from each member's "
                   "prediction of its validation rows): the ensemble leaves out members that would exceed it.")
@click.option("--memory-limit", default=None, metavar="SIZE",
              help="Memory the fit's processes may hold together, such as 4GB or 800MB (default: 70 % of this "
                   "machine's): trials wait rather than run at once beyond it.")
@click.option("--report", "with_report", is_flag=True, help="Also write MODEL_DIR/report.html.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display and no warnings.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary on stdout.")
@click.pass_context
def fit(ctx: click.Context, **params) -> None:
    """Fit the best model for DATA (CSV, TSV or Parquet) within the time budget and save it."""
    options = FitOptions(**params)
    from automl.deadline import Deadline
    deadline = Deadline(parse_budget(options.time_budget), start=ctx.obj["start"])
    if options.cluster is None:  # the budget runs from here: the workers' imports overlap with this process's
        from automl.search.runner import warm_up
        warm_up()
    configure_logging(options.quiet, ctx.obj["debug"])
    _import_libraries()
    from automl.table_source import TableSource
    from automl.timing import PhaseClock
    clock = PhaseClock(start=ctx.obj["start"], cpu_start=0.0)  # CPU since the process started, imports included
    clock.lap("imports")
    options, previous = _resolved(ctx, options)
    inputs = _fit_inputs(options)
    clock.lap("load")
    progress = Progress.on_stderr(options.time_budget, wanted=not options.quiet and not options.as_json)
    model = _new_model(options, progress)
    source = TableSource(target=options.target, weight_column=options.weight_column,
                         groups_column=options.groups_column,
                         valid_file=str(options.valid_path) if options.valid_path is not None else None)
    try:
        model.fit(inputs.X, inputs.y, sample_weight=inputs.weights, X_val=inputs.X_val, y_val=inputs.y_val,
                  groups=inputs.groups, deadline=deadline, resume=previous, source=source, startup_clock=clock)
    finally:
        progress.close()
    model.save(options.out_dir)
    if options.with_report:  # after the save, which replaces the directory
        from automl.report import write_fit_report
        write_fit_report(model, options.out_dir / "report.html")
    from .fit_summary import fit_summary, print_leaderboard
    summary = fit_summary(model, options.out_dir, deadline.elapsed())
    if options.as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
    else:
        print_leaderboard(model, summary)


def _import_libraries() -> None:
    """The libraries a fit uses, imported here (after the workers' fork server started) so that the start-up
    clock's ``imports`` phase holds them."""
    import pandas  # noqa: F401

    import automl.data  # noqa: F401
    import automl.estimator  # noqa: F401
    import automl.persistence  # noqa: F401
    import knowledge_base  # noqa: F401


def _resolved(ctx: click.Context, options: FitOptions):
    """``(options, the model --resume continues or None)``: the task checked, ``--out`` and the knowledge base
    checked writable at once (not after the budget), the options ``--resume`` reuses filled in."""
    import knowledge_base
    from automl import AutoML
    from automl.exceptions import InputError
    from automl.metrics import TASKS
    from automl.persistence import check_writable_dir, check_writable_file
    from automl.search.trial_memory import parse_memory_limit
    if options.task is not None and options.task not in TASKS:
        raise InputError(f"unknown task {options.task!r}; choose one of {', '.join(TASKS)}")
    if options.infer_limit is not None:
        positive_seconds(options.infer_limit, "--infer-limit")
    parse_memory_limit(options.memory_limit, "--memory-limit")
    # --resume without --out saves back into the resumed model's directory (atomically: the old model stays whole
    # until the new one is complete)
    out_dir = options.out_dir or options.resume_dir or Path("models") / Path(options.data).name.split(".")[0]
    options = dataclasses.replace(options, out_dir=out_dir)
    check_writable_dir(out_dir, "--out", replaced=True)
    check_writable_file(knowledge_base.resolve_path(options.kb_path), "--kb" if options.kb_path else "knowledge base")
    previous = AutoML.load(options.resume_dir) if options.resume_dir is not None else None
    if previous is not None:  # options not given on this command line continue the earlier fit's
        options = dataclasses.replace(options, **_resumed_options(ctx, previous))
    if options.target is None:
        raise InputError("--target is required (the name of the column to predict)")
    return options, previous


def _as_option_text(value):
    """A stored list of names as its option's comma-separated text."""
    if value is None:
        return None
    return ",".join(value) if isinstance(value, (list, tuple)) else str(value)


class _Resumed(NamedTuple):
    key: str  # the option's name in the saved model's options (fit_info_["options"])
    convert: Callable[[Any], Any] = lambda value: value  # stored value -> the FitOptions field's


_RESUMED_OPTIONS: dict[str, _Resumed] = {
    "target": _Resumed("target"), "weight_column": _Resumed("weight_column"), "metric": _Resumed("metric"),
    "task": _Resumed("task"), "seed": _Resumed("seed"), "strategy": _Resumed("strategy"),
    "max_trials": _Resumed("max_trials"), "include": _Resumed("include", _as_option_text),
    "exclude": _Resumed("exclude", _as_option_text), "no_warm_start": _Resumed("warm_start", operator.not_),
    "valid_path": _Resumed("valid"), "groups_column": _Resumed("groups"), "time_column": _Resumed("time_column"),
    "drop_columns": _Resumed("drop_columns", _as_option_text),
    "keep_columns": _Resumed("keep_columns", _as_option_text), "rare_classes": _Resumed("rare_classes"),
    "compact": _Resumed("compact"), "stacking": _Resumed("stacking"), "infer_limit": _Resumed("infer_limit"),
    "memory_limit": _Resumed("memory_limit"),
}


def _resumed_options(ctx: click.Context, previous) -> dict[str, Any]:
    """The earlier fit's value of every ``fit`` option this command line left at its default."""
    stored = dict((getattr(previous, "fit_info_", None) or {}).get("options") or {})
    if not stored:  # a model saved before options were recorded: its constructor parameters
        stored = {k: v for k, v in previous.get_params().items() if k != "callback"}
    return {param: resumed.convert(stored[resumed.key]) for param, resumed in _RESUMED_OPTIONS.items()
            if resumed.key in stored and ctx.get_parameter_source(param) == click.core.ParameterSource.DEFAULT}


def _fit_inputs(options: FitOptions) -> FitInputs:
    import pandas as pd

    from automl.data import load_table, split_target
    from automl.exceptions import InputError
    from automl.table_source import HandedOver
    X, y = split_target(load_table(options.data), options.target)
    X, groups, X_val, y_val = _validation_inputs(X, options)
    weights = None
    if options.weight_column is not None:
        X, weights = split_target(X, options.weight_column)
        weights = pd.to_numeric(weights, errors="coerce")
        if weights.isna().any():
            raise InputError(f"--weight-column {options.weight_column!r} has missing or non-numeric values")
    return FitInputs(X=HandedOver(X), y=y, weights=weights, groups=groups, X_val=X_val, y_val=y_val)


def _validation_inputs(X, options: FitOptions):
    """``(X without the groups column, groups, X_val, y_val)`` for ``--groups`` and ``--valid``."""
    from automl.data import load_table, shown_columns
    from automl.exceptions import InputError
    groups = X_val = y_val = None
    target, groups_column = options.target, options.groups_column
    if groups_column is not None:
        if groups_column not in X.columns:
            raise InputError(f"--groups column {groups_column!r} not found in {shown_columns(X.columns)}")
        groups = X.pop(groups_column)
    if options.valid_path is not None:
        valid = load_table(options.valid_path)
        if target not in valid.columns:
            raise InputError(f"--valid {str(options.valid_path)!r} has no target column {target!r}")
        not_features = (target, options.weight_column, groups_column)
        X_val = valid.drop(columns=[c for c in not_features if c in valid.columns])
        y_val = valid[target]
    return X, groups, X_val, y_val


def _names(text: str | None) -> list[str]:
    return split_names((text or "",))


def _new_model(options: FitOptions, progress: Progress):
    from automl import AutoML
    return AutoML(task=options.task, time_budget=options.time_budget, metric=options.metric, n_jobs=options.n_jobs,
                  seed=options.seed, warm_start=not options.no_warm_start,
                  knowledge_base=str(options.kb_path) if options.kb_path else None, strategy=options.strategy,
                  max_trials=options.max_trials, callback=progress,
                  include=tuple(_names(options.include)) or None, exclude=tuple(_names(options.exclude)) or None,
                  cluster=options.cluster, time_column=options.time_column,
                  drop_columns=_names(options.drop_columns) or None, keep_columns=_names(options.keep_columns) or None,
                  rare_classes=options.rare_classes, compact=options.compact,
                  stacking=options.stacking, infer_limit=options.infer_limit, memory_limit=options.memory_limit)
