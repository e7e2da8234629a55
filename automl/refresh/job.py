"""The refresh job: per dataset load, clean, fingerprint and decide (parent process), evaluate (pool),
write (parent process); then the portfolio and the store's check. Entry points for a folder and OpenML."""
from __future__ import annotations

import logging
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable

from knowledge_base.canonical import config_id
from knowledge_base.records import DatasetRecord, EvaluationRecord
from metafeatures import TASKS

from ..exceptions import InputError
from ..kb_records import search_prior, search_suggestions
from ..metrics import get_metric
from ..warm_start import registered_families
from .candidates import CANDIDATE_ORIGIN, load_task_candidates, missing_candidates, task_candidates
from .datasets import Item, RefreshDataset, folder_items, openml_item, prepare_dataset, subsample_rows
from .evaluate import DatasetResult, DatasetWork, evaluate_dataset
from .index import StoredState, StoreIndex
from .openml_flows import openml_evaluations
from .options import Callback, DatasetOutcome, RefreshOptions, RefreshSummary, one_line
from .pool import is_broken, local_pool, open_pool
from .portfolio import wrap_up
from .records import RecordWriter

log = logging.getLogger("automl.refresh")

RUN_KIND = "refresh"
OPENML_RUN_KIND = "openml-import"
TOP_UP_NOTE = "new candidate(s) evaluated"
RESIZE_NOTE = "candidate(s) evaluated again on more rows"


@dataclass(frozen=True)
class StagedDataset:
    """A dataset decided on in the parent process, waiting for its evaluation."""

    item: Item
    fingerprint: str
    task: str
    metric: str
    suffix: str  # the protocol's subsample suffix ("" for all rows)
    work: DatasetWork
    notes: tuple[str, ...]
    t0: float  # when its processing started (time.monotonic)
    dataset: DatasetRecord | None = None  # what the evaluations are written with
    top_up: bool = False  # stored before: only the candidates it lacks, no search
    resized: bool = False  # ... some of them stored on fewer rows (a larger ``max_rows``)
    openml: tuple[EvaluationRecord, ...] = ()  # OpenML prior runs, written as a separate run
    openml_note: str = ""


class _Refresher:
    def __init__(self, store, options: RefreshOptions, callback: Callback | None) -> None:
        import knowledge_base as kb

        from ..space import SPACE_VERSION
        options.validate()
        self.options = options
        self.callback = callback
        self.space_version = str(SPACE_VERSION)
        self.store = store if isinstance(store, kb.KnowledgeBase) else kb.open_store(store)
        if not options.candidates:
            pools: dict[str, list[dict]] = {}
        elif options.pool is not None:
            pools = {task: task_candidates([dict(c) for c in options.pool], task) for task in TASKS}
        else:
            pools = load_task_candidates(seed=options.seed)
        # per task: the pool in its canonical form for the task (the ids the store holds, e.g. the seed's)
        self.task_pools = {task: pools.get(task, []) for task in TASKS}
        self.candidate_ids = list(dict.fromkeys(config_id(c) for task in TASKS for c in self.task_pools[task]))
        self.records = RecordWriter(self.store, options, self.space_version, self.candidate_ids)
        self.index = StoreIndex.from_store(self.store, self.space_version)
        self.pool = None
        self.pending: dict[Future, tuple[StagedDataset, int]] = {}
        self.started = time.monotonic()

    def emit(self, event: dict) -> None:
        if self.callback is None:
            return
        try:
            self.callback(event)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # a display problem never stops the job
            log.debug("progress callback failed: %s", exc)

    # -- the loop
    def run(self, items: list[Item], problems: list[tuple[str, str]], source: str) -> RefreshSummary:
        summary = RefreshSummary(source=source, store=str(self.store.path))
        for name, reason in problems:
            summary.outcomes.append(DatasetOutcome(name, "failed", reason))
            log.error("%s: %s", name, reason)
        self.emit({"event": "start", "total": len(items), "source": source, "problems": len(problems)})
        self.pool, n_jobs = open_pool(self.options)
        try:
            self._loop(list(items), n_jobs, summary)
        finally:
            if self.pool is not None:
                for fut in self.pending:
                    fut.cancel()
                self.pool.shutdown(wait=True, cancel_futures=True)
        wrap_up(self.store, self.options, summary)
        summary.seconds = time.monotonic() - self.started
        self.emit({"event": "done", "summary": summary})
        return summary

    def _loop(self, queue: list[Item], n_jobs: int, summary: RefreshSummary) -> None:
        """Keep ``n_jobs`` datasets in flight until the queue is done or ``limit`` datasets were processed."""
        limit, total = self.options.limit, len(queue)
        processed = index = 0
        while queue or self.pending:
            while queue and len(self.pending) < n_jobs and (limit is None or processed < limit):
                index += 1
                processed += self._start(queue.pop(0), index, total, summary)
            if limit is not None and processed >= limit and not self.pending:
                summary.not_reached = len(queue)
                break
            if self.pending:
                self._collect(n_jobs, total, summary)

    def _start(self, item: Item, index: int, total: int, summary: RefreshSummary) -> int:
        """Stage ``item``, then record it (nothing to evaluate), evaluate it inline or submit it to the pool.
        Returns 1 when it counts towards ``limit`` (everything but a skip)."""
        outcome, staged = self.stage(item, index, total)
        if outcome is not None:
            self._record(summary, outcome, index, total)
            return int(outcome.status != "skipped")
        if self.pool is None:
            self._record(summary, self.finish(staged, lambda: evaluate_dataset(staged.work)), index, total)
        else:
            self.pending[self.pool.submit(evaluate_dataset, staged.work)] = (staged, index)
        return 1

    def _collect(self, n_jobs: int, total: int, summary: RefreshSummary) -> None:
        """Write what finished; a local pool that lost a worker fails what it had in flight and is replaced."""
        done, _ = wait(list(self.pending), return_when=FIRST_COMPLETED)
        broken = False
        for fut in done:
            staged, index = self.pending.pop(fut)
            broken = broken or is_broken(self.pool, fut)
            self._record(summary, self.finish(staged, fut.result), index, total)
        if broken:
            for fut, (staged, index) in list(self.pending.items()):
                self._record(summary, self.finish(staged, fut.result), index, total)
            self.pending.clear()
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = local_pool(n_jobs)

    def _record(self, summary: RefreshSummary, outcome: DatasetOutcome, index: int, total: int) -> None:
        summary.outcomes.append(outcome)
        level = logging.ERROR if outcome.status == "failed" else logging.INFO
        log.log(level, "[%d/%d] %s: %s%s (%d evaluation(s), %.1fs)", index, total, outcome.name, outcome.status,
                f" - {outcome.reason}" if outcome.reason else "", outcome.n_evaluations + outcome.n_openml,
                outcome.seconds)
        self.emit({"event": "dataset", "index": index, "total": total, "outcome": outcome})

    # -- stage: load, clean, fingerprint, decide (parent process)
    def stage(self, item: Item, index: int, total: int) -> tuple[DatasetOutcome | None, StagedDataset | None]:
        """An outcome when there is nothing to evaluate (skipped, re-described only, failed), else the job."""
        t0 = time.monotonic()
        self.emit({"event": "dataset_start", "index": index, "total": total, "name": item.name})
        fp = None
        try:
            frame, target, task = item.load()
            dataset = prepare_dataset(frame, target, task, item.name)
            del frame
            fp = dataset.table.fingerprint
            return self._decide(item, dataset, t0)
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            return DatasetOutcome(item.name, "failed", one_line(exc), fp, seconds=time.monotonic() - t0), None

    def _decide(self, item: Item, dataset: RefreshDataset, t0: float
                ) -> tuple[DatasetOutcome | None, StagedDataset | None]:
        table = dataset.table
        state = self.index.state(table.fingerprint)
        Xs, ys, suffix = subsample_rows(table.X, table.y, table.task, self.options.max_rows, self.options.seed)
        # done: evaluated on at least the rows asked for now (a subsample may add a few rows for rare classes)
        done = state.done_at(min(len(ys), self.options.max_rows))
        missing = missing_candidates(self.task_pools[table.task], done, table.task, len(ys))
        described = state.mf_version == self.records.mf_version
        if state.known and described and not missing:
            return DatasetOutcome(item.name, "skipped", "already in the store for these versions", table.fingerprint,
                                  table.task, seconds=time.monotonic() - t0), None
        metric = get_metric(None, table.task).name
        work = DatasetWork(Xs, ys, table.task, metric, self.options.seed, missing, self.options.trial_seconds)
        staged = StagedDataset(item, table.fingerprint, table.task, metric, suffix, work, dataset.notes, t0,
                               resized=any(config_id(c) in state.done for c in missing))
        if state.known:
            return self._stage_known(dataset, state, described, staged)
        return None, self._stage_new(dataset, staged)

    def _stage_known(self, dataset: RefreshDataset, state: StoredState, described: bool, staged: StagedDataset
                     ) -> tuple[DatasetOutcome | None, StagedDataset | None]:
        """Stored before: re-described when the meta-feature version changed (the store upserts the dataset,
        newest wins; every evaluation is kept), and given the candidates that joined the pool since or were
        evaluated on fewer rows than asked for now (added to the same dataset, the protocol saying the size; no
        search: the dataset had its search)."""
        fp, notes = staged.fingerprint, staged.notes
        record = self.records.stored_record(fp, state.record) if described else None
        if record is None:
            record = self.records.dataset_record(staged.item, replace(dataset, table=dataset.table.described()))
            self.records.write(self.records.run_record(fp, "refresh-metafeatures", {
                "name": staged.item.name, "from_version": state.mf_version}), record, [])
            self.index.mark(fp, mf_version=self.records.mf_version, record=StoreIndex.fields_of(record))
            notes = (f"meta-features recomputed (version {state.mf_version} -> {self.records.mf_version})",
                     *notes)
        if not staged.work.candidates:
            return DatasetOutcome(staged.item.name, "updated", notes[0], fp, staged.task, 0,
                                  seconds=time.monotonic() - staged.t0), None
        return None, replace(staged, dataset=record, notes=notes, top_up=True)

    def _stage_new(self, dataset: RefreshDataset, staged: StagedDataset) -> StagedDataset:
        """A new dataset: described on all rows, its OpenML prior runs mapped, the search warm-started."""
        dataset = replace(dataset, table=dataset.table.described())
        table = dataset.table
        record = self.records.dataset_record(staged.item, dataset)
        openml, note = [], ""
        if staged.item.openml_runs is not None:
            runs, meta = staged.item.openml_runs(table.task, len(table.y), table.X.shape[1])
            openml, note = openml_evaluations(runs, meta, table.task, len(table.y), table.X.shape[1],
                                              self.space_version)
        suggestions, prior = self.warm_material(table.metafeatures, table.task, staged.metric, table.fingerprint)
        work = replace(staged.work, candidates=self.task_pools[table.task],
                       budget=self.options.budget, suggestions=suggestions, prior=prior,
                       max_trials=self.options.search_trials)
        return replace(staged, work=work, dataset=record, openml=tuple(openml), openml_note=note)

    def warm_material(self, mf: dict, task: str, metric: str, fp: str) -> tuple[list, list]:
        """The search's warm start from the store, leaving this dataset out; none without a search."""
        if self.options.budget <= 0:
            return [], []
        try:
            _, suggestions, prior = self.store.retrieve(mf, task, metric, n=10, k=10, families=registered_families(),
                                                        exclude_fingerprint=fp)
        except Exception as exc:  # an empty or busy store means a cold search, never a failure
            log.debug("no warm start: %s", exc)
            return [], []
        return search_suggestions(suggestions), search_prior(prior)

    # -- finish: evaluations -> records -> one write (parent process)
    def finish(self, staged: StagedDataset, get_result: Callable[[], DatasetResult]) -> DatasetOutcome:
        fp, item = staged.fingerprint, staged.item
        try:
            result = get_result()
            protocol = f"{result.protocol}{staged.suffix}"
            evaluations = self.records.evaluations(result.candidates + result.search, staged.task, protocol,
                                                   staged.metric)
            run = self.records.run_record(fp, RUN_KIND, self._settings(staged, result, protocol))
            n = self.records.write(run, staged.dataset, evaluations)
            n_openml = 0
            if staged.openml:
                run = self.records.run_record(fp, OPENML_RUN_KIND, {"name": item.name}, source="openml")
                n_openml = self.records.write(run, staged.dataset, list(staged.openml))
            self.index.mark(fp, mf_version=self.records.mf_version, done=[config_id(e.config) for e in evaluations
                                                                          if e.origin == CANDIDATE_ORIGIN],
                            n_rows=len(staged.work.y), record=StoreIndex.fields_of(staged.dataset), refreshed=True)
            top_up = f"{len(result.candidates)} " + (f"{RESIZE_NOTE} ({len(staged.work.y)})" if staged.resized
                                                      else TOP_UP_NOTE)
            notes = ([top_up] if staged.top_up else []) + list(staged.notes)
            reason = "; ".join(x for x in [staged.openml_note, result.search_error or ""] + notes if x)
            return DatasetOutcome(item.name, "updated" if staged.top_up else "added", reason, fp, staged.task, n,
                                  n_openml, seconds=time.monotonic() - staged.t0)
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            return DatasetOutcome(item.name, "failed", one_line(exc), fp, staged.task,
                                  seconds=time.monotonic() - staged.t0)

    def _settings(self, staged: StagedDataset, result: DatasetResult, protocol: str) -> dict:
        """The refresh run's settings, as stored with it."""
        return {"source": staged.item.source, "name": staged.item.name, "task": staged.task,
                "metric": staged.metric, "protocol": protocol, "max_rows": self.options.max_rows,
                "rows_evaluated": len(staged.work.y), "budget": 0.0 if staged.top_up else self.options.budget,
                "top_up": staged.top_up, "n_candidates": len(result.candidates),
                "candidate_ids": [config_id(c) for c in self.task_pools[staged.task]],
                "n_search_trials": len(result.search),
                "search_error": result.search_error, "notes": list(staged.notes)}


# ============================================================================ public entry points
def refresh_from_dir(folder: str | Path, *, store=None, options: RefreshOptions | None = None,
                     callback: Callback | None = None) -> RefreshSummary:
    """Refresh the store at ``store`` (default: ``AUTOML_KB`` or the per-user store) from a folder."""
    options = options or RefreshOptions()
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"--from-dir {str(folder)!r} is not a folder")
    refresher = _Refresher(store, options, callback)
    items, problems = folder_items(folder)
    if not items and not problems:
        raise InputError(f"no dataset found in {str(folder)!r} (expected PMLB NAME.tsv.gz + summary.csv, or "
                         f"CSV/Parquet files with manifest.json / datasets.csv)")
    return refresher.run(items, problems, f"folder {folder}")


def refresh_from_openml(*, suite: int | str | None = None, tasks: Iterable[int] = (), store=None,
                        options: RefreshOptions | None = None, callback: Callback | None = None,
                        server: str | None = None, apikey: str | None = None, cache_dir: str | Path | None = None,
                        timeout: float = 60.0, n_retries: int = 3, import_runs: bool = True,
                        max_runs: int = 500) -> RefreshSummary:
    """Refresh from an OpenML suite and/or task ids, through the ``openml`` client and its cache."""
    from knowledge_base.sources.openml import TASK_MEASURE, OpenMLFetchError, OpenMLSource
    options = options or RefreshOptions()
    source = OpenMLSource(server=server, apikey=apikey, cache_dir=cache_dir, timeout=timeout, n_retries=n_retries)
    refresher = _Refresher(store, options, callback)
    task_ids = [int(t) for t in tasks]
    problems: list[tuple[str, str]] = []
    label = []
    if suite is not None:
        label.append(f"suite {suite}")
        try:
            task_ids = source.suite_task_ids(suite) + task_ids
        except OpenMLFetchError as exc:
            problems.append((f"suite {suite}", str(exc)))
    if tasks:
        label.append(f"tasks {','.join(str(t) for t in tasks)}")
    ordered = list(dict.fromkeys(task_ids))  # first occurrence of each task, in order
    if not ordered and not problems:
        raise InputError("no OpenML task to refresh: give --openml-suite or --openml-tasks")
    items = [openml_item(source, tid, import_runs, max_runs, TASK_MEASURE) for tid in ordered]
    return refresher.run(items, problems, "OpenML " + " + ".join(label))
