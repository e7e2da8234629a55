"""Wall and CPU seconds of a fit's start-up phases (imports, loading, meta-features, knowledge base, workers,
first trial), recorded in ``fit_info_["timings"]["startup"]`` and read by ``benchmarks/bench_concurrent_fits.py``.

Start-up does not shrink when the machine is busy: its CPU seconds say what a fit costs before its first
trial, its wall seconds how long that took on this machine at this moment.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class PhaseTiming:
    """One start-up phase: wall seconds and the CPU seconds spent on it (by the processes named in ``cpu_of``)."""

    name: str
    wall_seconds: float
    cpu_seconds: float
    cpu_of: str = "process"  # "process": this process; "thread": the thread that ran it; or other processes named


class PhaseClock:
    """Start-up phases in the order they ran; a phase measured twice adds up."""

    def __init__(self, start: float | None = None, cpu_start: float | None = None) -> None:
        """``start`` (monotonic) and ``cpu_start`` (``time.process_time``; 0.0: since the process started): where
        the first lap begins (default: now)."""
        self.phases: list[PhaseTiming] = []
        self._last = (time.monotonic() if start is None else start,
                      time.process_time() if cpu_start is None else cpu_start)

    def lap(self, name: str) -> None:
        """Record the seconds since the previous lap (or since the clock was made) as phase ``name``."""
        wall, cpu = time.monotonic(), time.process_time()
        self.add(PhaseTiming(name, wall - self._last[0], cpu - self._last[1]))
        self._last = (wall, cpu)

    def add(self, timing: PhaseTiming) -> None:
        for i, p in enumerate(self.phases):
            if p.name == timing.name:
                self.phases[i] = PhaseTiming(p.name, p.wall_seconds + timing.wall_seconds,
                                             p.cpu_seconds + timing.cpu_seconds, p.cpu_of)
                return
        self.phases.append(timing)

    def as_dict(self) -> dict[str, dict]:
        """``{phase: {"wall_seconds", "cpu_seconds", "cpu_of"}}`` in the order the phases ran (JSON-ready)."""
        return {p.name: {"wall_seconds": round(p.wall_seconds, 4), "cpu_seconds": round(p.cpu_seconds, 4),
                         "cpu_of": p.cpu_of} for p in self.phases}


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a live process so far (Linux ``/proc``); None where unavailable."""
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
