"""Datasets from a folder: the PMLB layout or plain CSV / Parquet files with a small manifest.

Layouts understood by :func:`discover`:

* **PMLB** (the Penn Machine Learning Benchmarks layout): ``NAME.tsv.gz`` tab-separated with a ``target``
  column, and ``summary.csv`` whose ``dataset`` / ``endpoint_type`` columns give the task (``binary`` -> binary,
  ``discrete`` -> multiclass, ``continuous`` -> regression).
* **Manifest**: ``manifest.json`` -- ``{"datasets": [{"file": "a.csv", "target": "y", "task": "binary",
  "name": "a"}, ...]}`` (a bare list works too) -- or ``datasets.csv`` with columns ``file``, ``target`` and
  optional ``task``, ``name``. ``task`` may be omitted (then it is inferred from the target).
* Any other ``.csv`` / ``.tsv`` / ``.parquet`` file (optionally ``.gz``) that has a ``target`` column is
  used with the task inferred; one without is reported as a problem, never silently ignored.

Discovery never raises for one bad entry: it returns the problems next to the datasets, so a
refresh can report them per dataset and carry on.
"""
from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from metafeatures import TASKS

log = logging.getLogger("automl.refresh")

PMLB_TASKS = {"binary": "binary", "discrete": "multiclass", "continuous": "regression"}
MANIFEST_JSON = "manifest.json"
MANIFEST_CSV = "datasets.csv"
PMLB_SUMMARY = "summary.csv"
_RESERVED = {MANIFEST_JSON, MANIFEST_CSV, PMLB_SUMMARY}
_DATA_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".csv.gz", ".tsv.gz")


class SourceError(Exception):
    """A dataset in a source cannot be read (reported for that dataset, never fatal for the job)."""


@dataclass(frozen=True)
class TableSource:
    """One dataset of a folder: where it is, which column is the target, which task (None: infer)."""

    name: str
    path: Path
    target: str
    task: str | None
    origin: str  # "pmlb" | "manifest" | "folder"

    def load(self) -> pd.DataFrame:
        """The raw table with the target column; :class:`SourceError` when it cannot be read."""
        return read_table(self.path)

    def describe(self) -> dict:
        return {"name": self.name, "path": str(self.path), "target": self.target, "task": self.task,
                "origin": self.origin}


@dataclass(frozen=True)
class Problem:
    """An entry of a folder that cannot become a dataset (bad manifest line, missing file, ...)."""

    name: str
    reason: str


def read_table(path: Path) -> pd.DataFrame:
    """CSV (delimiter sniffed), TSV (``.tsv``/``.tsv.gz``) or Parquet; raises :class:`SourceError`."""
    path = Path(path)
    lower = path.name.lower()
    try:
        if lower.endswith((".parquet", ".pq")):
            frame = pd.read_parquet(path)
        elif lower.endswith((".tsv", ".tsv.gz")):
            frame = pd.read_csv(path, sep="\t", low_memory=False)
        else:
            frame = pd.read_csv(path, sep=None, engine="python")
    except FileNotFoundError:
        raise SourceError(f"file {path.name} does not exist") from None
    except Exception as exc:  # pandas / pyarrow / gzip raise many types for a damaged file
        text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise SourceError(f"cannot read {path.name}: {text}") from None
    if frame.shape[0] == 0 or frame.shape[1] < 2:
        raise SourceError(f"{path.name} has {frame.shape[0]} row(s) and {frame.shape[1]} column(s); "
                          f"need rows, a target and at least one feature")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def discover(folder: str | Path) -> tuple[list[TableSource], list[Problem]]:
    """Every dataset of ``folder`` (sorted by name) and the entries that cannot be used."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SourceError(f"{str(folder)!r} is not a folder")
    sources: dict[str, TableSource] = {}
    problems: list[Problem] = []
    described: set[Path] = set()

    pmlb_tasks = _pmlb_summary(folder / PMLB_SUMMARY, problems)
    for entry in _manifest_entries(folder, problems):
        src = _manifest_source(folder, entry, problems)
        if src is not None:
            described.add(src.path.resolve())
            _add(sources, src, problems)

    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name in _RESERVED or path.name.startswith("."):
            continue
        if path.resolve() in described or not path.name.lower().endswith(_DATA_SUFFIXES):
            continue
        name = _stem(path)
        if name in pmlb_tasks:
            _add(sources, TableSource(name, path, "target", pmlb_tasks[name], "pmlb"), problems)
        else:
            # not described anywhere: usable if it follows the PMLB convention of a ``target`` column
            _add(sources, TableSource(name, path, "target", None, "folder"), problems)
    return [sources[k] for k in sorted(sources)], problems


def _add(sources: dict[str, TableSource], src: TableSource, problems: list[Problem]) -> None:
    if src.name in sources:
        problems.append(Problem(src.name, f"two files share the dataset name {src.name!r} "
                                          f"({sources[src.name].path.name}, {src.path.name}); the second is skipped"))
        return
    sources[src.name] = src


def _stem(path: Path) -> str:
    name = path.name
    for suffix in sorted(_DATA_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _pmlb_summary(path: Path, problems: list[Problem]) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        summary = pd.read_csv(path)
    except Exception as exc:
        problems.append(Problem(PMLB_SUMMARY, f"cannot read {PMLB_SUMMARY}: {exc}"))
        return {}
    if not {"dataset", "endpoint_type"} <= set(summary.columns):
        problems.append(Problem(PMLB_SUMMARY, f"{PMLB_SUMMARY} lacks the 'dataset' / 'endpoint_type' columns"))
        return {}
    out = {}
    for name, endpoint in zip(summary["dataset"].astype(str), summary["endpoint_type"].astype(str)):
        task = PMLB_TASKS.get(endpoint.strip().lower())
        if task is None:
            problems.append(Problem(name, f"unknown PMLB endpoint_type {endpoint!r}"))
            continue
        out[name] = task
    return out


def _manifest_entries(folder: Path, problems: list[Problem]) -> list[dict]:
    entries: list[dict] = []
    js = folder / MANIFEST_JSON
    if js.exists():
        try:
            data = json.loads(js.read_text(encoding="utf-8"))
            items = data.get("datasets", []) if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise ValueError("'datasets' must be a list")
            entries.extend(i if isinstance(i, dict) else {"_bad": repr(i)} for i in items)
        except (ValueError, AttributeError) as exc:
            problems.append(Problem(MANIFEST_JSON, f"cannot read {MANIFEST_JSON}: {exc}"))
    cs = folder / MANIFEST_CSV
    if cs.exists():
        try:
            text = cs.read_text(encoding="utf-8-sig")
            entries.extend(dict(row) for row in csv.DictReader(io.StringIO(text)))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            problems.append(Problem(MANIFEST_CSV, f"cannot read {MANIFEST_CSV}: {exc}"))
    return entries


def _manifest_source(folder: Path, entry: dict, problems: list[Problem]) -> TableSource | None:
    file = str(entry.get("file") or entry.get("path") or "").strip()
    target = str(entry.get("target") or "").strip()
    name = str(entry.get("name") or "").strip() or (_stem(Path(file)) if file else "")
    if "_bad" in entry or not file or not target:
        problems.append(Problem(name or "manifest", f"manifest entry {entry!r} needs 'file' and 'target'"))
        return None
    task = str(entry.get("task") or "").strip().lower() or None
    if task is not None and task not in TASKS:
        task = PMLB_TASKS.get(task, task)
        if task not in TASKS:
            problems.append(Problem(name, f"unknown task {entry.get('task')!r}; use one of {', '.join(TASKS)}"))
            return None
    path = (folder / file)
    if not path.resolve().is_relative_to(folder.resolve()):
        problems.append(Problem(name, f"manifest file {file!r} is outside the folder"))
        return None
    if not path.exists():
        problems.append(Problem(name, f"manifest names {file!r}, which does not exist"))
        return None
    return TableSource(name, path, target, task, "manifest")
