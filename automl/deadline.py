"""A monotonic deadline passed down to everything that takes time."""
from __future__ import annotations

import time


class Deadline:
    """``Deadline(seconds)`` ends ``seconds`` after creation on the monotonic clock."""

    def __init__(self, seconds: float, *, start: float | None = None) -> None:
        self.start = time.monotonic() if start is None else start
        self.seconds = float(seconds)
        self.end = self.start + self.seconds

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def expired(self) -> bool:
        return time.monotonic() >= self.end

    def sub(self, seconds: float) -> "Deadline":
        """A child deadline that ends after ``seconds`` or with this one, whichever is first."""
        child = Deadline(min(seconds, self.remaining()))
        return child

    def __repr__(self) -> str:
        return f"Deadline(remaining={self.remaining():.2f}s of {self.seconds:.2f}s)"
