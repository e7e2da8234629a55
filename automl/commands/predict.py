"""``automl predict`` and ``automl evaluate``: a saved model applied to new data."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ._errors import configure_logging
from ._options import QUIET_OPTION, model_dir_and_data, split_names


@click.command("predict")
@model_dir_and_data
@click.option("--out", "out_path", type=click.Path(path_type=Path), default=None,
              help="CSV file for the predictions (default: stdout).")
@click.option("--proba", is_flag=True, help="Write class probabilities (classification).")
@click.option("--id-column", "--keep-columns", "keep_columns", multiple=True, metavar="A,B",
              help="Columns of DATA copied to the output before the predictions, in this order (repeatable or "
                   "comma-separated).")
@click.option("--n-jobs", type=int, default=None,
              help="Threads for the predictions (-1: all cores; default: the n_jobs the model was fitted with).")
@QUIET_OPTION
@click.pass_context
def predict(ctx, model_dir, data, out_path, proba, keep_columns, n_jobs, quiet):
    """Predict DATA with the model saved in MODEL_DIR."""
    configure_logging(quiet, ctx.obj["debug"])
    import pandas as pd

    from automl import AutoML
    from automl.data import load_table, shown_columns
    from automl.exceptions import InputError
    from automl.persistence import atomic_write_text, check_writable_file
    if out_path is not None:
        check_writable_file(out_path, "--out")
    if n_jobs is not None and (n_jobs == 0 or n_jobs < -1):
        raise InputError(f"--n-jobs must be -1 or >= 1; got {n_jobs}")
    model = AutoML.load(model_dir)
    if n_jobs is not None:
        model.set_params(n_jobs=n_jobs)  # (the same predictions on any number of threads)
    keep = split_names(keep_columns)
    table = load_table(data, text_columns=tuple(keep))
    absent = [c for c in keep if c not in table.columns]
    if absent:
        raise InputError(f"--id-column {', '.join(map(repr, absent))} not found in {Path(data).name}; columns are: "
                         f"{shown_columns(table.columns)}")
    frame = _predictions(model, table, proba)
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


def _predictions(model, table, proba: bool):
    """The model's predictions (one ``prediction`` column) or, with ``--proba``, one ``proba_<class>`` column per
    class."""
    import pandas as pd

    from automl.exceptions import InputError
    if not proba:
        return pd.DataFrame({"prediction": model.predict(table)})
    if model.task_ == "regression":
        raise InputError("--proba needs a classification model; this one is regression")
    return pd.DataFrame(model.predict_proba(table), columns=[f"proba_{c}" for c in model.classes_])


@click.command("evaluate")
@model_dir_and_data
@click.option("--target", "-y", default=None, help="Target column of DATA (default: the one the model was fitted on).")
@click.option("--json", "as_json", is_flag=True, help="Print the evaluation as JSON on stdout.")
@QUIET_OPTION
@click.pass_context
def evaluate(ctx, model_dir, data, target, as_json, quiet):
    """Score the model saved in MODEL_DIR on labelled DATA.

    Every metric of the model's task, the rows scored, and a confusion matrix (classification) or a residual
    summary (regression)."""
    configure_logging(quiet, ctx.obj["debug"])
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
