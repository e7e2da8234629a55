"""A local pool that lost a worker is recognised by the exception its futures raise."""
from __future__ import annotations

import os
from concurrent.futures import wait

from automl.refresh.pool import is_broken, local_pool


def _die() -> None:
    os._exit(1)


def _fail() -> None:
    raise RuntimeError("BrokenProcessPool in the message only")


def test_a_dead_worker_breaks_the_pool_and_a_failing_task_does_not():
    pool = local_pool(1)
    try:
        failing = pool.submit(_fail)
        wait([failing])
        assert not is_broken(pool, failing)
        dead = pool.submit(_die)
        wait([dead])
        assert is_broken(pool, dead)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    assert not is_broken(None, dead)  # only a local pool is replaced; a Dask pool fails that task only
