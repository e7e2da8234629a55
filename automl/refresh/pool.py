"""Where datasets are evaluated: local worker processes, a Dask cluster, or inline.

A local pool whose worker died (e.g. out of memory) is unusable: :func:`is_broken` finds it by the
exception type its futures raise, and the job replaces it with :func:`local_pool`.
"""
from __future__ import annotations

import warnings
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from ..search.runner import resolve_n_jobs, set_worker_environment
from .options import RefreshOptions


def _worker_init() -> None:
    set_worker_environment()
    warnings.filterwarnings("ignore")


def local_pool(n_jobs: int) -> ProcessPoolExecutor:
    """``n_jobs`` worker processes with one BLAS / OpenMP thread each."""
    return ProcessPoolExecutor(max_workers=n_jobs, initializer=_worker_init)


def open_pool(options: RefreshOptions):
    """(pool, datasets in flight): a Dask pool with ``cluster`` (its workers' threads in flight), local
    processes for ``n_jobs > 1``, or (None, 1): evaluate inline."""
    n_jobs = resolve_n_jobs(options.n_jobs)
    if options.cluster is not None:
        from ..search.dask_runner import dask_pool
        pool = dask_pool(options.cluster, n_jobs)
        return pool, pool.max_workers
    if n_jobs > 1:
        return local_pool(n_jobs), n_jobs
    return None, 1


def is_broken(pool, future: Future) -> bool:
    """True when ``future`` failed because ``pool`` is a local pool that lost a worker (a Dask pool fails
    only that task and goes on)."""
    return isinstance(pool, ProcessPoolExecutor) and future.done() and not future.cancelled() \
        and isinstance(future.exception(), BrokenProcessPool)
