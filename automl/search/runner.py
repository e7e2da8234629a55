"""Isolated trial execution: a small executor interface and the local process-pool runner.

Each worker is its own process; the search data is written once to a file that every worker memory-maps
(``write_search_data`` / ``load_search_data``), so the workers share the table's pages. A trial that raises
becomes a failed status inside the worker; a trial that hangs past its deadline or whose worker
dies (memory limit, crash) is recorded by the driver, the worker is replaced, the search goes on.
"""
from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import sys
import time
from abc import ABC, abstractmethod
from multiprocessing.connection import wait

import joblib

from .messages import Status, TrialRequest, TrialResult
from .trial_memory import machine_memory

log = logging.getLogger("automl")

KILL_GRACE_SECONDS = 1.0  # a worker past its trial's timeout by this much is killed (the trial stops itself first)
SEARCH_DATA_FILE = "data.joblib"  # in the search's work folder; uncompressed, so its arrays can be memory-mapped
MEMORY_SHARE = 0.7  # of the machine's memory, shared among the workers (the driver and the system keep the rest)
CLOSE_SECONDS = 0.3  # idle workers get this long to exit at the end before they are killed
KILL_JOIN_SECONDS = 2.0  # the longest wait for a killed worker process to be reaped

SHARED_FROM = "shared_from"  # key of loaded search data: the file it is mapped from


def write_search_data(data: dict, workdir: str) -> str:
    """Write the search data (the cleaned table, target, splits, ...) once into ``workdir``; returns its path.
    joblib stores every numpy array in it (the table's column blocks, category codes, y, the splits) raw. Data
    loaded from that very file (``load_search_data``) is not written again (that would truncate mapped pages)."""
    path = os.path.join(workdir, SEARCH_DATA_FILE)
    if data.get(SHARED_FROM) == path and os.path.exists(path):
        return path
    joblib.dump({k: v for k, v in data.items() if k != SHARED_FROM}, path)
    return path


def load_search_data(path: str) -> dict:
    """The search data with every array memory-mapped read-only: the processes reading it share one copy of the
    table in the page cache instead of each unpickling a private one, and no trial can change the data."""
    data = joblib.load(path, mmap_mode="r")
    data[SHARED_FROM] = path
    return data


class Executor(ABC):
    """Submit a trial, collect results as they complete. The optimiser only sees this. ``submit`` takes the
    worker's ``TrialRequest`` and the seconds after which the runner gives up on it; ``collect`` answers with
    ``(request.trial_id, TrialResult)`` pairs, a trial the runner stopped or lost included."""

    @abstractmethod
    def free_slots(self) -> int: ...

    @abstractmethod
    def submit(self, request: TrialRequest, timeout: float) -> None: ...

    @abstractmethod
    def collect(self, wait_seconds: float) -> list[tuple[int, TrialResult]]: ...

    @abstractmethod
    def running(self) -> list[int]: ...

    @abstractmethod
    def close(self) -> None: ...

    def cancel(self, trial_id: int) -> bool:
        """Stop a running trial now (its result never arrives); False when this executor cannot."""
        return False


def default_memory_limit(n_workers: int) -> int:
    """``MEMORY_SHARE`` of the machine's memory shared among the workers (bytes)."""
    return int(machine_memory() * MEMORY_SHARE / max(1, n_workers))


def resolve_n_jobs(n_jobs: int) -> int:
    """Worker processes for ``n_jobs``: -1 means every CPU this process may use; never more than those."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cpus if n_jobs == -1 else max(1, min(int(n_jobs), cpus))


WORKER_ENVIRONMENT = {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_NUM_THREADS": "1",
                      "MKL_NUM_THREADS": "1"}


def set_worker_environment() -> None:
    """In a worker process: one BLAS / OpenMP thread, OpenMP waiting passively (spin-waiting collapses under
    contention), for the libraries loaded from now on; variables the user set are kept."""
    for key, value in WORKER_ENVIRONMENT.items():
        os.environ.setdefault(key, value)


def _worker_main(conn, data_path: str, memory_limit: int | None) -> None:
    set_worker_environment()
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the driver, which then stops the workers
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked since the start (_children_block_sigint)
    try:  # the libraries are loaded already (forkserver preload): limit their pools at run time too
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except Exception:  # pragma: no cover - threadpoolctl ships with scikit-learn
        pass
    if memory_limit:
        try:
            import resource
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
        except (ImportError, ValueError, OSError):  # not available on every platform
            pass
    import warnings
    warnings.filterwarnings("ignore")
    from ..models import REGISTRY
    from .trial import run_measured
    try:
        data = load_search_data(data_path)
    except (OSError, EOFError):  # the search ended (e.g. interrupted) while this worker started
        return
    REGISTRY.ensure(data.get("user_families", []))
    while True:
        try:
            message = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if message is None:
            return
        result = run_measured(message, data)
        try:
            conn.send((message.trial_id, result))
        except (BrokenPipeError, OSError):
            return


@contextlib.contextmanager
def _worker_environment():
    """``WORKER_ENVIRONMENT`` while workers start. OpenMP reads it when the library loads, i.e. in the fork
    server (which preloads the model libraries) or in a spawned worker: so it is set while those start, then
    restored. Children also start with Ctrl-C blocked (see ``_children_block_sigint``)."""
    saved = {k: os.environ.get(k) for k in WORKER_ENVIRONMENT}
    for k, v in WORKER_ENVIRONMENT.items():
        os.environ.setdefault(k, v)
    try:
        with _children_block_sigint():
            yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _children_block_sigint():
    """Processes started inside begin with SIGINT blocked (the mask survives fork and exec) until they ignore it:
    the terminal sends Ctrl-C to the whole process group, and the driver, which owns the workers' lifetime,
    stops them (a fork server importing its preload would otherwise print a KeyboardInterrupt traceback). A
    Ctrl-C meanwhile is deferred until the start is complete (a start cut in half leaves a child that fails
    reading its half-sent instructions), then raised as usual."""
    import signal
    import threading
    if not hasattr(signal, "pthread_sigmask"):  # not POSIX: no process groups to protect from
        yield
        return
    from multiprocessing import resource_tracker
    resource_tracker.ensure_running()  # first: starting it unblocks SIGINT again (it protects itself the same way)
    deferred: list[int] = []
    previous = None
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is not None:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: deferred.append(signum))
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a signal pending meanwhile arrives here, deferred
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if deferred:
        signal.raise_signal(signal.SIGINT)  # to the handler in place before (KeyboardInterrupt by default)


@contextlib.contextmanager
def _main_module_hidden():
    """Workers need only this package: keep multiprocessing from re-running the user's script in them
    (a script without an ``if __name__ == "__main__"`` guard would otherwise start a search per worker)."""
    main = sys.modules.get("__main__")
    saved = main.__dict__.pop("__file__", None) if main is not None and getattr(main, "__spec__", None) is None \
        else None
    try:
        yield
    finally:
        if saved is not None:
            main.__file__ = saved


class _Worker:
    def __init__(self, ctx, data_path: str, memory_limit: int | None) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, data_path, memory_limit), daemon=True)
        with _main_module_hidden(), _worker_environment():
            self.process.start()
        child.close()
        self.trial_id: int | None = None
        self.kill_at = 0.0
        self.timeout = 0.0

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.join(timeout=KILL_JOIN_SECONDS)
        except (OSError, ValueError):
            pass
        self.conn.close()


def _context():
    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    ctx = mp.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["automl.search.trial"])
    return ctx


def warm_up() -> None:
    """Start the fork server (which imports the model libraries) in the background, early in a fit."""
    ctx = _context()
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver
        with _main_module_hidden(), _worker_environment():
            forkserver.ensure_running()


_FORKSERVER_CPU_SEEN: dict[int, float] = {}  # fork server pid -> its CPU seconds already reported


def forkserver_cpu_seconds() -> float:
    """CPU seconds the fork server (its imports, forking workers) spent since the last call in this process;
    0 without a fork server or where ``/proc`` is unavailable. A fork server serves every fit of a process: its
    imports count once, in the fit that started it."""
    from multiprocessing import forkserver

    from ..timing import process_cpu_seconds
    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    cpu = process_cpu_seconds(pid) if pid else None
    if cpu is None:
        return 0.0
    delta = cpu - _FORKSERVER_CPU_SEEN.get(pid, 0.0)
    _FORKSERVER_CPU_SEEN[pid] = cpu
    return max(0.0, delta)


class LocalRunner(Executor):
    """``n_workers`` processes from a forkserver (modules preloaded, so replacing a worker is cheap)."""

    def __init__(self, data: dict, n_workers: int, workdir: str, memory_limit: int | None = None) -> None:
        self.data_path = write_search_data(data, workdir)
        self.memory_limit = memory_limit if memory_limit is not None else default_memory_limit(n_workers)
        self.ctx = _context()
        self.workers: list[_Worker] = []
        try:
            for _ in range(n_workers):
                self.workers.append(_Worker(self.ctx, self.data_path, self.memory_limit))
        except BaseException:  # e.g. Ctrl-C while the workers start: none is left behind
            self.close()
            raise

    def free_slots(self) -> int:
        return sum(1 for w in self.workers if w.trial_id is None)

    def running(self) -> list[int]:
        return [w.trial_id for w in self.workers if w.trial_id is not None]

    def submit(self, request: TrialRequest, timeout: float) -> None:
        worker = next(w for w in self.workers if w.trial_id is None)
        if not worker.process.is_alive():
            worker = self._replace(worker)
        worker.trial_id = request.trial_id
        worker.timeout = timeout
        worker.kill_at = time.monotonic() + timeout + KILL_GRACE_SECONDS
        worker.conn.send(request)

    def cancel(self, trial_id: int) -> bool:
        for w in self.workers:
            if w.trial_id == trial_id:
                self._replace(w)
                return True
        return False

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        fresh = _Worker(self.ctx, self.data_path, self.memory_limit)
        self.workers[self.workers.index(worker)] = fresh
        return fresh

    def collect(self, wait_seconds: float) -> list[tuple[int, TrialResult]]:
        busy = [w for w in self.workers if w.trial_id is not None]
        if not busy:
            return []
        now = time.monotonic()
        horizon = min([wait_seconds] + [max(0.0, w.kill_at - now) for w in busy])
        ready = wait([w.conn for w in busy], timeout=max(0.0, horizon))
        out = []
        for w in busy:
            if w.conn in ready:
                try:
                    trial_id, result = w.conn.recv()
                    w.trial_id = None
                    out.append((trial_id, result))
                    continue
                except (EOFError, OSError):
                    code = w.process.exitcode
                    reason = "worker died (probably out of memory)" if code in (-9, None) else \
                        f"worker died with exit code {code}"
                    out.append((w.trial_id, TrialResult.failed(reason, w.timeout)))
                    self._replace(w)
                    continue
            if time.monotonic() >= w.kill_at:
                out.append((w.trial_id, TrialResult.failed(f"trial exceeded its {w.timeout:.1f}s limit and was stopped",
                                                           w.timeout, Status.TIMEOUT)))
                self._replace(w)
        return out

    def close(self) -> None:
        """Idle workers exit on a message; busy ones are killed at once (the search is over)."""
        for w in self.workers:
            if w.trial_id is not None:
                try:
                    w.process.kill()
                except (OSError, ValueError):
                    pass
            elif w.process.is_alive():
                try:
                    w.conn.send(None)
                except (BrokenPipeError, OSError):
                    pass
        deadline = time.monotonic() + CLOSE_SECONDS
        for w in self.workers:
            w.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                try:
                    w.process.kill()
                except (OSError, ValueError):
                    pass
            w.conn.close()
