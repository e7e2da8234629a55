"""``automl report``: the HTML report of a saved model."""
from __future__ import annotations

from pathlib import Path

import click

from ._errors import configure_logging
from ._options import QUIET_OPTION, evaluation_data


@click.command("report")
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.option("--out", "out_path", type=click.Path(path_type=Path), default=None,
              help="HTML file to write (default: MODEL_DIR/report.html).")
@click.option("--data", "data_path", type=click.Path(path_type=Path), default=None,
              help="Evaluation data (CSV, TSV or Parquet): test score, importance, diagnostics.")
@click.option("--target", "-y", default=None, help="Target column of --data.")
@click.option("--max-rows", type=click.IntRange(min=10), default=1000, show_default=True,
              help="Rows sampled for permutation importance.")
@click.option("--seed", type=int, default=0, show_default=True)
@QUIET_OPTION
@click.pass_context
def report(ctx, model_dir, out_path, data_path, target, max_rows, seed, quiet):
    """Write a self-contained HTML report of the model saved in MODEL_DIR."""
    configure_logging(quiet, ctx.obj["debug"])
    from automl.persistence import check_writable_file
    from automl.report import load_for_report, write_fit_report
    model, manifest = load_for_report(model_dir)
    out_path = out_path or Path(model_dir) / "report.html"
    check_writable_file(out_path, "--out")
    X, y = evaluation_data(data_path, target)
    write_fit_report(model, out_path, manifest=manifest, X=X, y=y, max_rows=max_rows, seed=seed,
                     data_label=Path(data_path).name if data_path else None)
    click.echo(f"report written to {out_path}", err=True)
