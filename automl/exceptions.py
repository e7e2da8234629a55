"""The project's error family.

Every error a user can act on is one of these. The CLI prints ``error: <message>``
on one line and exits with ``exit_code`` (2 for bad input, 1 otherwise).
"""
from __future__ import annotations


class AutoMLError(Exception):
    """Base class of every error raised on purpose by this package."""

    exit_code = 1


class InputError(AutoMLError, ValueError):
    """The user's data, arguments or options are unusable (CLI exit code 2)."""

    exit_code = 2


class ModelLoadError(AutoMLError):
    """A saved model directory is missing, damaged or from an incompatible version (exit 2)."""

    exit_code = 2


class BudgetError(AutoMLError):
    """The time budget ran out before any model could be fitted."""

    exit_code = 1


class TrialError(AutoMLError):
    """A single trial failed; recorded as a status, never raised out of the search."""


def plain_value(value):
    """``value`` with numpy scalars unwrapped into their Python value (labels and values shown to users)."""
    if type(value).__module__ == "numpy" and getattr(value, "shape", None) == () and hasattr(value, "item"):
        return value.item()
    return value


def plain_repr(value) -> str:
    """``repr`` of ``value`` as a user reads it in a message: ``1`` and ``'a'``, not ``np.int64(1)`` and
    ``np.str_('a')``."""
    return repr(plain_value(value))
