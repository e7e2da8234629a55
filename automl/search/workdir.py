"""The search's temporary folder (kept fold models, refits, the data file for workers): one per search, named after
the owning process, so that folders left by killed processes can be found and removed."""
from __future__ import annotations

import os
import shutil
import tempfile

WORKDIR_PREFIX = "automl-search-"  # followed by the owner's process id, so an orphan is recognisable


def sweep_orphaned_workdirs(root: str | None = None) -> list[str]:
    """Remove search folders (``automl-search-PID-*``) left behind by processes that were killed.

    The folder name carries the owner's process id; a folder whose owner is gone is removed. Folders of
    live processes, and folders without a process id (older versions), are left alone.
    """
    root = root or tempfile.gettempdir()
    removed = []
    try:
        names = os.listdir(root)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(WORKDIR_PREFIX):
            continue
        pid_text = name[len(WORKDIR_PREFIX):].split("-", 1)[0]
        if not pid_text.isdigit() or _process_alive(int(pid_text)):
            continue
        path = os.path.join(root, name)
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.exists(path):
            removed.append(path)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's live process
        return True
    return True


def make_workdir() -> str:
    """A new search folder (``automl-search-PID-*``) in the temporary directory, after sweeping orphaned ones."""
    sweep_orphaned_workdirs()
    return tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-")


__all__ = ["WORKDIR_PREFIX", "make_workdir", "sweep_orphaned_workdirs"]
