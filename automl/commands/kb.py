"""``automl kb ...``: inspect and maintain the knowledge base (info, similar, export, import, check, compact,
report, refresh)."""
from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

import click

from ._errors import configure_logging
from ._options import KB_OPTION, QUIET_OPTION, evaluation_data, parse_budget


@click.group("kb")
def kb() -> None:
    """Inspect and maintain the knowledge base."""


@kb.command("info")
@KB_OPTION
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
@click.option("--time-budget", "-t", type=float, default=None,
              help="Seconds of the fit to show: its own history's configurations that cannot run within one of "
                   "its trials are passed over, as that fit does (default: a fit with max_trials).")
@KB_OPTION
@click.option("--json", "as_json", is_flag=True)
def kb_similar(data, target, task, metric, time_budget, kb_path, as_json):
    """The past datasets nearest to DATA and the configurations a fit of it would start from, in order."""
    import dataclasses

    seconds = None if time_budget is None else parse_budget(time_budget)  # (bad input before reading DATA)

    import knowledge_base
    from automl.data import load_table, split_target
    from automl.metrics import get_metric
    from automl.prepare import prepare
    from automl.trial_budget import TrialBudget
    from automl.warm_start import warm_start
    from knowledge_base.records import finite_or_none
    table = prepare(*split_target(load_table(data), target), task)  # what a fit of DATA sees and records
    mf = table.metafeatures
    lineage = knowledge_base.lineage(table.encoder.column_kinds(), target, table.task)
    metric_name = get_metric(metric, table.task).name
    budget = None if seconds is None else TrialBudget.for_fit(seconds, len(table.y))
    start = warm_start(knowledge_base.open_store(kb_path), mf, table.task, metric_name, lineage=lineage,
                       budget=budget)
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
@KB_OPTION
def kb_export(directory, kb_path):
    """Write the store as Parquet files into DIRECTORY (lossless)."""
    import knowledge_base
    from automl.persistence import check_writable_dir
    check_writable_dir(directory, "DIRECTORY")
    counts = knowledge_base.open_store(kb_path).export(directory)
    click.echo(", ".join(f"{v} {k}" for k, v in counts.items()) + f" exported to {directory}")


@kb.command("import")
@click.argument("directory", type=click.Path(path_type=Path, exists=True, file_okay=False))
@KB_OPTION
def kb_import(directory, kb_path):
    """Add the Parquet export in DIRECTORY to the store (existing rows are kept)."""
    import knowledge_base
    n = knowledge_base.open_store(kb_path).import_(directory)
    click.echo(f"{n} new evaluation(s) imported")


@kb.command("check")
@KB_OPTION
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
@KB_OPTION
def kb_compact(kb_path):
    """Merge staged writes and rewrite the store compactly."""
    import knowledge_base
    store = knowledge_base.open_store(kb_path)
    store.compact()
    click.echo(f"compacted {store.path}")


@kb.command("report")
@click.option("--out", "out_path", type=click.Path(path_type=Path), default=Path("kb-report.html"),
              show_default=True, help="HTML file to write.")
@click.option("--data", "data_path", type=click.Path(path_type=Path), default=None,
              help="A new dataset to place on the map with its nearest past datasets.")
@click.option("--target", "-y", default=None, help="Target column of --data.")
@click.option("--task", default=None, help="binary, multiclass or regression (default: inferred).")
@KB_OPTION
@QUIET_OPTION
@click.pass_context
def kb_report(ctx, out_path, data_path, target, task, kb_path, quiet):
    """Write a self-contained HTML map of what the knowledge base knows."""
    configure_logging(quiet, ctx.obj["debug"])
    from automl.persistence import check_writable_file
    from automl.report import write_kb_report
    check_writable_file(out_path, "--out")
    X, y = evaluation_data(data_path, target)
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
              help="Larger datasets are evaluated on a seeded subsample of this many rows (recorded in the protocol); "
                   "a stored dataset evaluated on fewer rows gets its candidates evaluated again on this many.")
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
@KB_OPTION
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
    configure_logging(True, ctx.obj["debug"])
    use_openml = openml_suite is not None or openml_tasks is not None
    if (from_dir is None) == (not use_openml):
        raise InputError("give either --from-dir DIR or --openml-suite ID / --openml-tasks ID,ID,...")
    tasks = _openml_task_ids(openml_tasks)
    options = RefreshOptions(budget=budget, limit=limit, n_jobs=n_jobs, max_rows=max_rows,
                             pool=_candidate_pool(candidates_path), cluster=cluster)
    if cluster is not None:
        from automl.search.dask_runner import require_dask
        require_dask()  # bad input at once when Dask is missing
    store = knowledge_base.open_store(kb_path)
    progress = _refresh_progress(store.path) if not quiet and not as_json else None
    with _refresh_log(log_path or store.path.with_name(store.path.name + ".refresh.log"), ctx.obj["debug"]):
        if from_dir is not None:
            summary = refresh_from_dir(from_dir, store=store, options=options, callback=progress)
        else:
            summary = refresh_from_openml(suite=openml_suite, tasks=tasks, store=store, options=options,
                                          callback=progress, server=openml_server, cache_dir=openml_cache,
                                          timeout=timeout, import_runs=not no_prior_runs)
    _print_refresh_summary(summary, as_json)
    if summary.failed:
        raise SystemExit(1)


def _openml_task_ids(text: str | None) -> list[int]:
    from automl.exceptions import InputError
    try:
        return [int(t) for t in text.split(",") if t.strip()] if text else []
    except ValueError:
        raise InputError(f"--openml-tasks must be comma-separated integers; got {text!r}") from None


@contextlib.contextmanager
def _refresh_log(path: Path, debug: bool):
    """The refresh job's log lines (``automl.refresh``, INFO and up) appended to ``path`` while it runs; on the
    console too with ``--debug``."""
    refresh_log = logging.getLogger("automl.refresh")
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    refresh_log.addHandler(handler)
    refresh_log.setLevel(logging.INFO)
    refresh_log.propagate = debug
    try:
        yield
    finally:
        refresh_log.removeHandler(handler)
        handler.close()


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

