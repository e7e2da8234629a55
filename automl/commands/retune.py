"""``automl retune``: a challenger searched on new data replaces the saved model only when it scores better."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ._errors import configure_logging
from ._options import KB_OPTION, model_dir_and_data, parse_budget
from ._progress import Progress
from .drift import print_drift


@click.command("retune")
@model_dir_and_data
@click.option("--target", "-y", default=None, help="Target column of DATA (default: the model's).")
@click.option("--time-budget", "-t", type=float, default=60.0, show_default=True,
              help="Seconds for the whole command, loading and saving included.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Write a winning challenger here instead of replacing MODEL_DIR.")
@click.option("--seed", type=int, default=None, help="Seed of the split and the search (default: the model's).")
@click.option("--max-trials", type=int, default=None, help="Stop after N trials (deterministic mode).")
@click.option("--n-jobs", type=int, default=1, show_default=True, help="Parallel trials (-1: all cores).")
@KB_OPTION
@click.option("--quiet", "-q", is_flag=True, help="No progress display and no warnings.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary on stdout.")
@click.pass_context
def retune(ctx, model_dir, data, target, time_budget, out_dir, seed, max_trials, n_jobs, kb_path, quiet, as_json):
    """Search on DATA and replace the model in MODEL_DIR only if the new one scores better on held-out new rows.

    Exit code 0 whether the model was replaced or kept (--json "replaced" says which); an interrupted retune
    leaves MODEL_DIR unchanged.
    """
    from automl.deadline import Deadline
    deadline = Deadline(parse_budget(time_budget), start=ctx.obj["start"])
    from automl.search.runner import warm_up
    warm_up()
    configure_logging(quiet, ctx.obj["debug"])
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
    progress = Progress.on_stderr(time_budget, wanted=not quiet and not as_json)
    try:
        result = run_retune(champion, model_dir, table, target=target, out=out_dir, time_budget=time_budget,
                            deadline=deadline, seed=seed, max_trials=max_trials, n_jobs=n_jobs,
                            knowledge_base=str(kb_path) if kb_path else None, callback=progress)
    finally:
        progress.close()
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        _print_retune(result)


def _print_retune(result) -> None:
    if result.drift is not None:
        print_drift(result.drift)
    else:
        click.echo(f"drift: - ({result.drift_note})")
    click.echo(f"{result.metric} on {result.n_held_out_rows} held-out new row(s) ({result.held_out}): champion "
               f"{result.champion_score:.5g}, challenger {result.challenger_score:.5g} ({result.n_trials} trials on "
               f"{result.n_train_rows} rows)")
    if result.replaced:
        click.echo(f"replaced: the challenger is saved to {result.model_dir}")
    else:
        click.echo(f"kept: the model in {result.model_dir} is unchanged")
