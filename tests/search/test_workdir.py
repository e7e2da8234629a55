"""Search work folders left behind by killed processes are swept; those of live processes are kept."""
import os
import subprocess
import sys

from automl.search.workdir import WORKDIR_PREFIX, sweep_orphaned_workdirs


def test_folders_of_dead_processes_are_swept_and_live_ones_kept(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(gone.stdout)
    dead = tmp_path / f"{WORKDIR_PREFIX}{dead_pid}-abc"
    live = tmp_path / f"{WORKDIR_PREFIX}{os.getpid()}-def"
    legacy = tmp_path / f"{WORKDIR_PREFIX}xyz"  # no process id: an older version's folder, left alone
    other = tmp_path / "something-else"
    for folder in (dead, live, legacy, other):
        folder.mkdir()
        (folder / "data.joblib").write_bytes(b"x")

    removed = sweep_orphaned_workdirs(str(tmp_path))

    assert removed == [str(dead)]
    assert not dead.exists()
    assert live.exists() and legacy.exists() and other.exists()
    assert sweep_orphaned_workdirs(str(tmp_path)) == []  # idempotent
