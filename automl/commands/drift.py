"""``automl drift``: how far new data has moved from a saved model's training data."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ._errors import configure_logging
from ._options import QUIET_OPTION, model_dir_and_data


def print_drift(report) -> None:
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


@click.command("drift")
@model_dir_and_data
@click.option("--target", "-y", default=None, help="Target column of DATA (default: the model's; optional).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@QUIET_OPTION
@click.pass_context
def drift(ctx, model_dir, data, target, as_json, quiet):
    """How far DATA has moved from the training data of the model saved in MODEL_DIR."""
    configure_logging(quiet, ctx.obj["debug"])
    from automl import AutoML
    from automl.data import load_table
    from automl.drift import model_drift
    model = AutoML.load(model_dir)
    report = model_drift(model, load_table(data), target)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        print_drift(report)
