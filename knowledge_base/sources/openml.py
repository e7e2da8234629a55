"""Tasks, datasets, qualities and prior run evidence from OpenML, through the ``openml`` client.

Everything goes through the real client (so its cache fills as usual: ``<cache>/<reversed host>/
datasets/<id>/...``, ``tasks/<id>/...``) inside :meth:`OpenMLSource.session`, which points
``openml.config`` at the chosen server and cache and restores the previous settings afterwards.

The openml client (0.15.1) sends its requests without a timeout; a hung server would hang the
refresh. The session therefore gives the client's own HTTP calls a timeout (a ``requests`` module
proxy installed on ``openml._api_calls`` for the duration of the session only).

Failures are per task: :meth:`OpenMLSource.fetch_task` and :meth:`OpenMLSource.runs` raise
:class:`OpenMLFetchError` with a one-line reason (``timeout``, ``server error``, ``malformed
response``, ...) and never leave the client configured differently.

This module only reads OpenML; mapping OpenML hyperparameters onto our search space happens on
the ``automl`` side (``automl.refresh``), because ``knowledge_base`` never imports ``automl``.
"""
from __future__ import annotations

import logging
import re
import threading
import xml.parsers.expat
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

log = logging.getLogger("automl.refresh")

DEFAULT_TIMEOUT = 60.0
# OpenML evaluation measure -> (the name we store, greater is better)
MEASURES = {
    "area_under_roc_curve": ("openml:area_under_roc_curve", True),
    "predictive_accuracy": ("openml:predictive_accuracy", True),
    "root_mean_squared_error": ("openml:root_mean_squared_error", False),
}
# which measure to import per task
TASK_MEASURE = {"binary": "area_under_roc_curve", "multiclass": "predictive_accuracy",
                "regression": "root_mean_squared_error"}
_FULL_NAME = re.compile(r"^(?P<flow>.+)\((?P<version>\d+)\)_(?P<param>[^()]+)$")
_LOCK = threading.Lock()


class OpenMLFetchError(Exception):
    """One task (or its runs) could not be fetched; ``kind`` is timeout / server / malformed / data / other."""

    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class OpenMLTaskData:
    """A supervised OpenML task with its data (features and target in ``frame``)."""

    task_id: int
    dataset_id: int
    name: str
    task: str  # binary | multiclass | regression
    target: str
    frame: pd.DataFrame
    qualities: dict[str, float] = field(default_factory=dict)
    estimation: str = ""  # e.g. "crossvalidation(repeats=1,folds=10)"
    evaluation_measure: str | None = None


@dataclass
class OpenMLRun:
    """One OpenML run's score and hyperparameters (``parameters``: component flow -> {name: raw value})."""

    run_id: int
    task_id: int
    setup_id: int
    flow_id: int
    flow_name: str
    function: str
    value: float
    parameters: dict[str, dict[str, str]]
    upload_time: str | None = None


class OpenMLSource:
    """Reads OpenML through the ``openml`` package with a given server, cache folder and timeout.

    ``server``/``apikey``/``cache_dir`` default to the client's own configuration. ``n_retries``
    and ``retry_policy`` are passed to ``openml.config.set_retry_policy``.
    """

    def __init__(self, *, server: str | None = None, apikey: str | None = None,
                 cache_dir: str | Path | None = None, timeout: float = DEFAULT_TIMEOUT, n_retries: int = 3,
                 retry_policy: str = "human") -> None:
        self.server = server
        self.apikey = apikey
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.timeout = float(timeout)
        self.n_retries = int(n_retries)
        self.retry_policy = retry_policy

    # ------------------------------------------------------------------ client configuration
    @contextmanager
    def session(self) -> Iterator[None]:
        """Configure ``openml.config`` (server, key, cache, retries, timeout); restore it afterwards."""
        import openml
        import openml._api_calls as api_calls
        cfg = openml.config
        with _LOCK:
            saved = (cfg.server, cfg.apikey, cfg._root_cache_directory, cfg.retry_policy,
                     cfg.connection_n_retries, api_calls.requests)
            try:
                if self.server is not None:
                    cfg.server = self.server
                if self.apikey is not None:
                    cfg.apikey = self.apikey
                if self.cache_dir is not None:
                    self.cache_dir.mkdir(parents=True, exist_ok=True)
                    cfg.set_root_cache_directory(self.cache_dir)
                cfg.set_retry_policy(self.retry_policy, self.n_retries)
                api_calls.requests = _requests_with_timeout(self.timeout)
                yield
            finally:
                (cfg.server, cfg.apikey, cfg._root_cache_directory, cfg.retry_policy,
                 cfg.connection_n_retries, api_calls.requests) = saved

    # ------------------------------------------------------------------ suites and tasks
    def suite_task_ids(self, suite: int | str) -> list[int]:
        """Task ids of a benchmark suite (e.g. 99 = OpenML-CC18, 271 / 269 = AutoML Benchmark)."""
        import openml
        with self.session():
            try:
                s = openml.study.get_suite(suite)
            except Exception as exc:
                raise _fetch_error(f"suite {suite}", exc) from None
        return [int(t) for t in (s.tasks or [])]

    def fetch_task(self, task_id: int, *, splits: bool = True) -> OpenMLTaskData:
        """The task, its dataset (downloaded into the cache) and the dataset's OpenML qualities."""
        import openml
        from openml.tasks import TaskType
        with self.session():
            try:
                t = openml.tasks.get_task(int(task_id), download_splits=splits, download_data=True,
                                          download_qualities=True)
            except Exception as exc:
                raise _fetch_error(f"task {task_id}", exc) from None
            if t.task_type_id not in (TaskType.SUPERVISED_CLASSIFICATION, TaskType.SUPERVISED_REGRESSION):
                raise OpenMLFetchError(f"task {task_id}: type {t.task_type!r} is not supervised classification "
                                       f"or regression", "data")
            try:
                ds = openml.datasets.get_dataset(t.dataset_id, download_data=True, download_qualities=True)
                X, y, _, names = ds.get_data(target=t.target_name, dataset_format="dataframe")
                qualities = {str(k): float(v) for k, v in (ds.qualities or {}).items()
                             if v is not None and np.isfinite(v)}
            except Exception as exc:
                raise _fetch_error(f"task {task_id} (dataset {t.dataset_id})", exc) from None
        if y is None:
            raise OpenMLFetchError(f"task {task_id}: dataset {t.dataset_id} has no target {t.target_name!r}", "data")
        frame = X.copy()
        frame[t.target_name] = y.to_numpy() if hasattr(y, "to_numpy") else y
        if t.task_type_id == TaskType.SUPERVISED_REGRESSION:
            task = "regression"
        else:
            task = "binary" if pd.Series(y).nunique(dropna=True) == 2 else "multiclass"
        params = (t.estimation_procedure or {}).get("parameters") or {}
        est = f"{t.estimation_procedure.get('type', '')}(" + ",".join(
            f"{k}={v}" for k, v in sorted(params.items()) if v not in (None, "")) + ")"
        measure = t.evaluation_measure if isinstance(t.evaluation_measure, str) else None
        return OpenMLTaskData(int(task_id), int(t.dataset_id), str(ds.name), task, str(t.target_name), frame,
                              qualities, est, measure)

    def dataset_qualities(self, dataset_ids: list[int]) -> dict[int, dict[str, float]]:
        """Cheap qualities of several datasets in one listing call (``list_datasets``)."""
        import openml
        if not dataset_ids:
            return {}
        with self.session():
            try:
                frame = openml.datasets.list_datasets(data_id=[int(d) for d in dataset_ids],
                                                      output_format="dataframe")
            except Exception as exc:
                raise _fetch_error("dataset listing", exc) from None
        out: dict[int, dict[str, float]] = {}
        for _, row in frame.iterrows():
            values = {}
            for k, v in row.items():
                if k[:1].isupper():
                    try:
                        f = float(v)
                    except (TypeError, ValueError):
                        continue
                    if np.isfinite(f):
                        values[str(k)] = f
            out[int(row["did"])] = values
        return out

    # ------------------------------------------------------------------ runs
    def runs(self, task_id: int, function: str, *, flow_filter: Callable[[str], bool] | None = None,
             flow_ids: list[int] | None = None, max_runs: int = 1000) -> list[OpenMLRun]:
        """Runs on ``task_id`` scored with ``function``, for flows chosen by id or by name.

        Without ``flow_ids`` the flows are discovered from the task's evaluation listing
        (``list_evaluations``) and kept when ``flow_filter(flow_name)`` is true. Each flow's runs
        and hyperparameters come from ``list_evaluations_setups`` (one call per flow).
        """
        import openml
        out: list[OpenMLRun] = []
        with self.session():
            try:
                if flow_ids is None:
                    listing = openml.evaluations.list_evaluations(function, tasks=[int(task_id)], size=max_runs * 10,
                                                                  output_format="dataframe")
                    if len(listing) == 0:
                        return []
                    names = listing.drop_duplicates("flow_id").set_index("flow_id")["flow_name"]
                    flow_ids = [int(f) for f, n in names.items() if flow_filter is None or flow_filter(str(n))]
                for fid in flow_ids:
                    frame = openml.evaluations.list_evaluations_setups(
                        function, tasks=[int(task_id)], flows=[int(fid)], size=max_runs,
                        parameters_in_separate_columns=False, output_format="dataframe")
                    for _, row in frame.iterrows():
                        value = row.get("value")
                        if value is None or not np.isfinite(float(value)):
                            continue
                        out.append(OpenMLRun(int(row["run_id"]), int(row["task_id"]), int(row["setup_id"]),
                                             int(row["flow_id"]), str(row["flow_name"]), str(row["function"]),
                                             float(value), split_parameters(row.get("parameters") or {}),
                                             str(row.get("upload_time") or "") or None))
            except OpenMLFetchError:
                raise
            except Exception as exc:
                raise _fetch_error(f"runs of task {task_id}", exc) from None
        return out


def split_parameters(full: dict) -> dict[str, dict[str, str]]:
    """``{"sklearn...RandomForestClassifier(1)_n_estimators": "100"}`` -> ``{flow: {"n_estimators": "100"}}``."""
    out: dict[str, dict[str, str]] = {}
    for key, value in (full or {}).items():
        m = _FULL_NAME.match(str(key))
        if m is None:
            continue
        out.setdefault(m["flow"], {})[m["param"]] = None if value is None else str(value)
    return out


def _requests_with_timeout(timeout: float):
    """A stand-in for the ``requests`` module whose ``Session`` applies ``timeout`` to every request."""
    import requests

    class _Session(requests.Session):
        def request(self, method, url, **kwargs):  # noqa: ANN001 - requests' signature
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = timeout
            return super().request(method, url, **kwargs)

    class _Proxy:
        Session = _Session

        def __getattr__(self, name: str):
            return getattr(requests, name)

    return _Proxy()


def _fetch_error(what: str, exc: Exception) -> OpenMLFetchError:
    """One line that says what failed and why, with a kind for the summary."""
    import requests
    from openml.exceptions import OpenMLServerError, OpenMLServerException
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, requests.exceptions.Timeout):
        return OpenMLFetchError(f"{what}: timeout ({text})", "timeout")
    if isinstance(exc, requests.exceptions.ConnectionError):
        return OpenMLFetchError(f"{what}: connection failed ({text})", "connection")
    if isinstance(exc, OpenMLServerException):
        return OpenMLFetchError(f"{what}: server error {getattr(exc, 'code', '?')}: {text}", "server")
    if isinstance(exc, OpenMLServerError):
        return OpenMLFetchError(f"{what}: server error: {text}", "server")
    if isinstance(exc, (xml.parsers.expat.ExpatError, KeyError, AssertionError)):
        return OpenMLFetchError(f"{what}: malformed response ({type(exc).__name__}: {text})", "malformed")
    return OpenMLFetchError(f"{what}: {type(exc).__name__}: {text}", "other")
