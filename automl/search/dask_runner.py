"""Trials on a Dask cluster: the same ``Executor`` interface as the local process pool.

``optimize(problem, deadline, executor_factory=dask_executor_factory(cluster))`` where ``cluster`` is

- ``"tcp://host:port"``: attach to a running scheduler (``dask scheduler`` / ``dask worker``);
- ``"local"``: start a ``LocalCluster`` (one single-threaded worker process per ``n_jobs``) on 127.0.0.1
  with free ports, torn down when the search ends;
- a ``distributed.Client``: use it as it is (never closed here).

Design (see docs/architecture.md):

- Asynchronous: one Dask task per trial, submitted as soon as a slot frees (no batches, no joblib backend).
- The data never travels as scattered Dask data (lost with its worker) nor with a task: the driver writes it
  once to ``WORKDIR/data.joblib`` and every worker process memory-maps it from that path once (cached; tasks
  carry only the path), so workers on one host share the table's pages. The fold
  models are written to the same folder (``keep_models_dir``). So a *remote* cluster needs the work folder
  on a filesystem shared by the driver and the workers (set ``TMPDIR`` to such a path on the driver);
  a LocalCluster or a same-host cluster works as is.
- Workers only return results; the driver alone writes to the knowledge base.
- Faults: a trial whose worker dies is recorded failed with the reason (``KilledWorker`` or, if the
  scheduler re-runs it elsewhere, a start marker in the work folder refuses the re-run); the driver gives up on a
  future after its timeout + grace (a running Dask task cannot be stopped; the trial's own deadline stops it);
  a lost scheduler turns every running trial into a failure ("scheduler lost") and ``free_slots()`` into 0, so
  the optimiser ends with the best model so far.
"""
from __future__ import annotations

import logging
import os
import time
import uuid
from collections import OrderedDict

from ..exceptions import InputError
from .messages import Status, TrialRequest, TrialResult
from .runner import (WORKER_ENVIRONMENT, Executor, default_memory_limit, load_search_data, set_worker_environment,
                     write_search_data)

log = logging.getLogger("automl")

MISSING_DASK = "--cluster needs Dask: pip install 'automl-meta[dask]'"
GRACE_SECONDS = 3.0  # + a quarter of the trial's limit: scheduling and result transfer on a busy cluster
GRACE_FACTOR = 1.25  # (the driver gives up on a trial after its limit times this, plus GRACE_SECONDS)
SLOTS_REFRESH_SECONDS = 2.0  # how often an attached cluster's size is re-read
CONNECT_TIMEOUT = 10.0  # seconds to reach a scheduler, to see a first worker, to fetch a result
IDLE_POLL_SECONDS = 0.05  # with the scheduler gone, free_slots() sleeps this long (the optimiser polls: no spinning)
CLIENT_CLOSE_SECONDS = 5  # the longest wait for our client to close
CLUSTER_CLOSE_SECONDS = 10  # the longest wait for our local cluster to close
SCHEDULER_LOST = "scheduler lost"


def require_dask():
    """Import ``distributed`` or raise the user-facing ``InputError``."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise InputError(MISSING_DASK) from None
    return distributed


# ---------------------------------------------------------------------------------------------- worker side
_DATA_CACHE: OrderedDict[str, dict] = OrderedDict()  # per worker process: data path -> loaded data
_CACHE_SIZE = 2  # searches whose data a worker keeps loaded (a refresh runs one search per dataset after another)


def _load_data(path: str) -> dict:
    data = _DATA_CACHE.get(path)
    if data is None:
        from ..models import REGISTRY
        data = load_search_data(path)
        REGISTRY.ensure(data.get("user_families", []))
        _DATA_CACHE[path] = data
        while len(_DATA_CACHE) > _CACHE_SIZE:
            _DATA_CACHE.popitem(last=False)
    else:
        _DATA_CACHE.move_to_end(path)
    return data


def warm_up(data_path: str) -> int:
    """Run on every worker before the first trial: import the trial code and load the data (so the first trial's
    clock does not include them), and check that this worker can read the work folder."""
    set_worker_environment()
    from . import trial  # noqa: F401  (imports the model families and their libraries)
    _load_data(data_path)
    return os.getpid()


def run_dask_trial(data_path: str, request: TrialRequest, run_key: str) -> TrialResult:
    """The Dask task: load the data (cached), refuse a re-run after a worker death, run the trial. ``run_key``
    names the executor, so a start marker of another search in the same folder never refuses this trial."""
    set_worker_environment()
    marker = os.path.join(os.path.dirname(data_path), f"started-{request.trial_id}-{run_key}")
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        os.close(fd)
    except FileExistsError:  # the scheduler re-ran the task after the worker running it died
        return TrialResult.failed("worker died during the trial (the scheduler's re-run was refused)")
    except OSError:
        pass  # no marker possible (unusual filesystem): run anyway
    import warnings
    warnings.filterwarnings("ignore")
    from .trial import run_trial
    try:
        data = _load_data(data_path)
    except Exception as exc:  # e.g. the work folder is not shared with this worker
        return TrialResult.failed(f"worker could not load the data from {data_path} ({type(exc).__name__}: {exc}); "
                                  f"a remote cluster needs the work folder on a shared filesystem")
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):
        return run_trial(request, data)


# ---------------------------------------------------------------------------------------------- driver side
def _preload_forkserver() -> None:
    """Add the trial code to the forkserver's preloaded modules (only effective before the server starts;
    shared with ``LocalRunner``, which preloads the same module)."""
    try:
        from multiprocessing import forkserver
        from distributed.utils import get_mp_context
        ctx = get_mp_context()  # sets Dask's own preload list once
        modules = list(getattr(forkserver._forkserver, "_preload_modules", []) or [])
        if "automl.search.trial" not in modules:
            ctx.set_forkserver_preload(modules + ["automl.search.trial"])
    except Exception as exc:  # an optimisation only
        log.debug("cannot preload the forkserver: %s", exc)


def start_local_cluster(n_workers: int, memory_limit: int | None = None):
    """A LocalCluster of ``n_workers`` single-threaded processes on 127.0.0.1, free ports, no dashboard."""
    distributed = require_dask()
    import dask
    from .runner import _main_module_hidden  # workers must not re-import the user's script
    # allowed-failures 1: a task whose worker died may run once more (a trial refuses that re-run itself, see
    # run_dask_trial); worker-saturation 1.0: no task waits on a busy worker (another worker may be free by then,
    # and a dying worker does not take queued tasks down with it); daemon False: refresh jobs may start processes.
    settings = {"distributed.scheduler.allowed-failures": 1, "distributed.scheduler.worker-saturation": 1.0,
                "distributed.worker.daemon": False}
    import multiprocessing as mp
    if "forkserver" in mp.get_all_start_methods():  # workers fork from a server with the libraries imported
        settings["distributed.worker.multiprocessing-method"] = "forkserver"
    with dask.config.set(settings), _main_module_hidden():
        if "distributed.worker.multiprocessing-method" in settings:
            _preload_forkserver()
        return distributed.LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1", scheduler_port=0,
            dashboard_address=None, silence_logs=logging.ERROR,
            memory_limit=memory_limit if memory_limit is not None else default_memory_limit(n_workers),
            env=dict(WORKER_ENVIRONMENT))


def connect(cluster, n_workers: int = 1):
    """``(client, own_client, own_cluster)`` for ``cluster`` ("local", an address or a Client)."""
    distributed = require_dask()
    if isinstance(cluster, distributed.Client):
        return cluster, False, None
    if not isinstance(cluster, str) or not cluster.strip():
        raise InputError(f"cluster must be 'local', an address like tcp://host:8786 or a distributed.Client; "
                         f"got {cluster!r}")
    cluster = cluster.strip()
    if cluster == "local":
        local = start_local_cluster(max(1, int(n_workers)))
        try:
            return distributed.Client(local, set_as_default=False), True, local
        except Exception:
            local.close()
            raise
    address = cluster if "://" in cluster else f"tcp://{cluster}"
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {address} ({exc})") from None
    return client, True, None


def disconnect(client, own_client: bool, own_cluster) -> None:
    """Close what :func:`connect` opened for us (a client or cluster we were given stays open)."""
    if own_client:
        try:
            client.close(timeout=CLIENT_CLOSE_SECONDS)
        except Exception as exc:
            log.debug("closing the Dask client: %s", exc)
    if own_cluster is not None:
        try:
            own_cluster.close(timeout=CLUSTER_CLOSE_SECONDS)
        except Exception as exc:
            log.debug("closing the local Dask cluster: %s", exc)


class DaskExecutor(Executor):
    """One Dask task per trial; as many slots as the cluster has worker threads (``n_workers`` when local)."""

    def __init__(self, data: dict, n_workers: int, workdir: str, cluster="local") -> None:
        distributed = require_dask()
        self._wait, self._KilledWorker = distributed.wait, distributed.KilledWorker
        self.data_path = write_search_data(data, workdir)
        self.client, self._own_client, self._own_cluster = connect(cluster, n_workers)
        self.fixed_slots = max(1, int(n_workers)) if self._own_cluster is not None else None
        self._slots = self.fixed_slots or 0
        self._slots_read = 0.0
        self._key = uuid.uuid4().hex[:12]
        self.pending: dict[int, tuple] = {}  # trial_id -> (future, kill_at, timeout, submitted)
        self.ready: list[tuple[int, TrialResult]] = []  # results known without asking the cluster
        self.lost = False
        if self.fixed_slots is None:
            try:
                self.client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
            except Exception as exc:
                self.close()
                raise InputError(f"the Dask cluster has no worker ({exc})") from None
            self._read_slots()
        self._warm_up()

    def _warm_up(self) -> None:
        try:
            answers = self.client.run(warm_up, self.data_path, on_error="return")
        except Exception as exc:
            log.debug("warming up the Dask workers failed: %s", exc)
            return
        failed = {w: a for w, a in answers.items() if isinstance(a, BaseException)}
        if failed and len(failed) == len(answers):
            worker, exc = next(iter(failed.items()))
            self.close()
            raise InputError(f"the Dask worker {worker} cannot load the search data from {self.data_path} "
                             f"({type(exc).__name__}: {exc}); a remote cluster needs the work folder on a "
                             f"filesystem shared with the workers (set TMPDIR to such a folder)")
        for worker, exc in failed.items():
            log.warning("Dask worker %s cannot load the search data (%s); its trials will fail", worker, exc)

    # -- slots
    def _read_slots(self) -> None:
        self._slots_read = time.monotonic()
        try:
            self._slots = max(0, sum(self.client.nthreads().values()))
        except Exception as exc:
            log.debug("cannot read the cluster size: %s", exc)

    def free_slots(self) -> int:
        if self.lost or self._scheduler_gone():
            time.sleep(IDLE_POLL_SECONDS)
            return 0
        if self.fixed_slots is None and time.monotonic() - self._slots_read > SLOTS_REFRESH_SECONDS:
            self._read_slots()
        return max(0, self._slots - len(self.pending))

    def running(self) -> list[int]:
        return list(self.pending) + [tid for tid, _ in self.ready]

    def _scheduler_gone(self) -> bool:
        if self.client.status not in ("running", "newly-created"):
            self._mark_lost()
        return self.lost

    def _mark_lost(self) -> None:
        if not self.lost:
            log.warning("the Dask scheduler is gone: stopping the search with the best model so far")
        self.lost = True
        for trial_id, (_fut, _kill_at, _timeout, submitted) in self.pending.items():
            self.ready.append((trial_id, TrialResult.failed(SCHEDULER_LOST, time.monotonic() - submitted)))
        self.pending.clear()

    # -- submit / collect
    def submit(self, request: TrialRequest, timeout: float) -> None:
        now, trial_id = time.monotonic(), request.trial_id
        if self.lost:
            self.ready.append((trial_id, TrialResult.failed(SCHEDULER_LOST)))
            return
        try:
            future = self.client.submit(run_dask_trial, self.data_path, request, self._key, pure=False, retries=0,
                                        key=f"automl-trial-{self._key}-{trial_id}")
        except Exception as exc:
            self._mark_lost()
            self.ready.append((trial_id, TrialResult.failed(f"{SCHEDULER_LOST} ({type(exc).__name__}: {exc})")))
            return
        self.pending[trial_id] = (future, now + timeout * GRACE_FACTOR + GRACE_SECONDS, timeout, now)

    def collect(self, wait_seconds: float) -> list[tuple[int, TrialResult]]:
        out, self.ready = self.ready, []
        if not self.pending or self.lost:
            return out
        now = time.monotonic()
        horizon = min([wait_seconds] + [max(0.0, kill_at - now) for _, kill_at, _, _ in self.pending.values()])
        if not out and horizon > 0:
            try:
                self._wait([f for f, *_ in self.pending.values()], timeout=horizon, return_when="FIRST_COMPLETED")
            except TimeoutError:
                pass
            except Exception as exc:
                log.debug("waiting on the cluster failed: %s", exc)
        for trial_id, (future, kill_at, timeout, submitted) in list(self.pending.items()):
            if trial_id not in self.pending:  # reported already: an outcome found the scheduler gone
                continue
            if future.done():
                # out of pending first: an outcome that finds the scheduler gone reports every pending trial once
                del self.pending[trial_id]
                out.append((trial_id, self._outcome(future, submitted)))
            elif time.monotonic() >= kill_at:
                out.append((trial_id, TrialResult.failed(f"trial exceeded its {timeout:.1f}s limit; the driver gave up "
                                                         f"waiting for it", timeout, Status.TIMEOUT)))
                del self.pending[trial_id]
                self._release(future)
        if self.pending and self.client.status not in ("running", "newly-created"):
            self._mark_lost()
        out += self.ready
        self.ready = []
        return out

    def _outcome(self, future, submitted: float) -> TrialResult:
        elapsed = time.monotonic() - submitted
        try:
            status = future.status
            if status == "finished":
                result = future.result(timeout=CONNECT_TIMEOUT)
                return result if isinstance(result, TrialResult) else \
                    TrialResult.failed(f"unexpected trial result {result!r}")
            if status == "cancelled":
                self._mark_lost()
                return TrialResult.failed(SCHEDULER_LOST, elapsed)
            exc = future.exception(timeout=CONNECT_TIMEOUT)
        except Exception as err:  # the result could not be fetched: the scheduler or the worker went away
            exc = err
        if isinstance(exc, self._KilledWorker):
            return TrialResult.failed(f"worker died during the trial (KilledWorker: {exc})", elapsed)
        if type(exc).__name__ in ("CancelledError", "FutureCancelledError"):
            self._mark_lost()
            return TrialResult.failed(SCHEDULER_LOST, elapsed)
        return TrialResult.failed(f"worker error: {type(exc).__name__}: {exc}", elapsed)

    @staticmethod
    def _release(future) -> None:
        try:
            future.release()  # the task keeps running until its own deadline; we just stop wanting it
        except Exception:
            pass

    def close(self) -> None:
        for future, *_ in self.pending.values():
            self._release(future)
        self.pending.clear()
        disconnect(self.client, self._own_client, self._own_cluster)


class DaskPool:
    """A ``concurrent.futures``-style pool on a Dask cluster, for refresh jobs (one task per dataset).

    ``submit(fn, *args)`` returns a ``concurrent.futures.Future`` (so ``wait(..., FIRST_COMPLETED)`` works);
    a worker that dies fails its future with ``KilledWorker`` (the pool stays usable). ``max_workers`` is the
    number of datasets to keep in flight. The job's data travels with the task (no scattered data). Jobs that start
    processes themselves (a search with ``n_jobs >= 1``) need non-daemonic workers: a local cluster is started so;
    for ``dask worker`` set ``DASK_DISTRIBUTED__WORKER__DAEMON=False``.
    """

    def __init__(self, cluster="local", n_workers: int = 1) -> None:
        self.client, self._own_client, self._own_cluster = connect(cluster, n_workers)
        if self._own_cluster is not None:
            self.max_workers = max(1, int(n_workers))
        else:
            self.client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
            self.max_workers = max(1, sum(self.client.nthreads().values()))
        self._executor = self.client.get_executor(pure=False)

    def submit(self, fn, /, *args, **kwargs):
        return self._executor.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        try:
            self._executor.shutdown(wait=wait and not cancel_futures)
        except Exception as exc:
            log.debug("shutting the Dask pool down: %s", exc)
        disconnect(self.client, self._own_client, self._own_cluster)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown(wait=False, cancel_futures=True)


def dask_pool(cluster="local", n_workers: int = 1) -> DaskPool:
    """A pool for refresh jobs on ``cluster`` ("local", an address or a Client); ``InputError`` without Dask."""
    require_dask()
    return DaskPool(cluster, n_workers)


def dask_executor_factory(cluster="local"):
    """A factory for ``optimize(executor_factory=...)``: ``factory(data, n_workers, workdir) -> DaskExecutor``.

    Raises ``InputError`` at once (not at fit time) when Dask is not installed.
    """
    require_dask()

    def factory(data: dict, n_workers: int, workdir: str) -> DaskExecutor:
        return DaskExecutor(data, n_workers, workdir, cluster=cluster)

    factory.cluster = cluster
    return factory


__all__ = ["DaskExecutor", "dask_executor_factory", "DaskPool", "dask_pool", "require_dask", "start_local_cluster",
           "connect", "run_dask_trial", "MISSING_DASK"]
