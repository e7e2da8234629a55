"""The live progress line of ``fit`` and ``retune``."""
from __future__ import annotations

import sys


class Progress:
    """A one-line live display on stderr: elapsed / budget, trials done, best score so far."""

    def __init__(self, budget: float, enabled: bool) -> None:
        self.budget = budget
        self.enabled = enabled
        self.shown = False

    @classmethod
    def on_stderr(cls, budget: float, wanted: bool) -> "Progress":
        """Shown only when wanted and stderr is a terminal (a log file gets no carriage-return lines)."""
        return cls(budget, enabled=sys.stderr.isatty() and wanted)

    def __call__(self, event: dict) -> None:
        if not self.enabled:
            return
        best = event.get("best_score")
        best_text = f"{best:.5g}" if isinstance(best, (int, float)) else "-"
        line = (f"\r[{event.get('elapsed', 0.0):6.1f}s / {self.budget:.0f}s] trials {event.get('n_trials', 0):4d}"
                f"  best {best_text}")
        sys.stderr.write(line.ljust(60))
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
