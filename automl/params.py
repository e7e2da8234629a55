"""The estimators' parameter checks, run at the start of ``fit`` (never ``assert`` on user input), and the
checks of ``fit``'s per-row arguments (``sample_weight``, ``groups``). Every failure is an ``InputError``."""
from __future__ import annotations

import numbers
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from . import rare_classes as rare_mod
from .exceptions import InputError, plain_repr
from .search.messages import STRATEGIES  # the search owns them; this module loads no model library
from .search.trial_memory import parse_memory_limit

if TYPE_CHECKING:
    from .estimator import AutoMLBase


def check_params(est: "AutoMLBase") -> None:
    """Parameter checks from a table, at the start of fit (never ``assert`` on user input)."""
    def real(name, value, low, strict=True, allow_none=False):
        if value is None and allow_none:
            return
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or \
                (value <= low if strict else value < low):
            bound = f"> {low}" if strict else f">= {low}"
            raise InputError(f"the {name!r} parameter of {type(est).__name__} must be a number {bound}; "
                             f"got {plain_repr(value)}")

    def integer(name, value, low, allow_none=False):
        if value is None and allow_none:
            return
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise InputError(f"the {name!r} parameter of {type(est).__name__} must be an integer >= {low}; "
                             f"got {plain_repr(value)}")

    real("time_budget", est.time_budget, 0)
    integer("n_jobs", est.n_jobs, -1)
    if est.n_jobs == 0:
        raise InputError(f"the 'n_jobs' parameter of {type(est).__name__} must be -1 or >= 1; got 0")
    integer("seed", est.seed, 0)
    integer("max_trials", est.max_trials, 1, allow_none=True)
    real("infer_limit", est.infer_limit, 0, allow_none=True)
    parse_memory_limit(est.memory_limit, "the 'memory_limit' parameter")
    if est.strategy not in STRATEGIES:
        raise InputError(f"the 'strategy' parameter must be one of {', '.join(STRATEGIES)}; "
                         f"got {plain_repr(est.strategy)}")
    if est.rare_classes not in rare_mod.MODES:
        raise InputError(f"the 'rare_classes' parameter must be one of {', '.join(rare_mod.MODES)}; "
                         f"got {plain_repr(est.rare_classes)}")
    for name in ("warm_start", "compact"):
        if not isinstance(getattr(est, name), (bool, np.bool_)):
            raise InputError(f"the {name!r} parameter must be True or False; got {plain_repr(getattr(est, name))}")
    if est.stacking is not None and not isinstance(est.stacking, (bool, np.bool_)):
        raise InputError(f"the 'stacking' parameter must be True, False or None; got {plain_repr(est.stacking)}")
    if est.time_column is not None and not isinstance(est.time_column, str):
        raise InputError(f"the 'time_column' parameter must be a column name or None; "
                         f"got {plain_repr(est.time_column)}")


def allowed_families(include, exclude) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """Model families the search may use (None: all) and the pipeline steps it may not choose. ``include`` and
    ``exclude`` name families and steps: an excluded step leaves its slot's other choices; included steps keep
    only themselves in their slots. Unknown names are bad input listing the valid ones."""
    if include is None and exclude is None:
        return None, ()
    from .models import REGISTRY
    from .models.steps import NONE, STEPS
    valid, steps = REGISTRY.keys(), STEPS.keys()

    def names(value, option):
        items = [value] if isinstance(value, str) else list(value)
        items = [str(v).strip() for v in items if str(v).strip()]
        if option == "exclude":  # an optional family not installed here is excluded already
            items = [v for v in items if not REGISTRY.absent(v)]
        unknown = [v for v in items if v not in valid and v not in steps]
        if unknown:
            REGISTRY.check_installed(unknown[0])  # an optional family whose package is absent: how to install it
            raise InputError(f"unknown model family {unknown[0]!r} (nor a pipeline step) in {option}; valid families: "
                             f"{', '.join(valid)}; steps: {', '.join(steps)}")
        return items

    included = names(include, "include") if include is not None else []
    excluded = names(exclude, "exclude") if exclude is not None else []
    allowed = [f for f in included if f in valid] or list(valid)
    allowed = [f for f in allowed if f not in excluded]
    kept = {STEPS.get(k).slot: k for k in included if k in steps}
    dropped = [k for k in excluded if k in steps]
    dropped += [k for k in steps if STEPS.get(k).slot in kept and k not in included]
    dropped += [f"{slot}:{NONE}" for slot in kept]  # (``none``, the identity, is no step of its own)
    if not allowed:
        raise InputError("include/exclude leave no model family to search")
    named = any(v in valid for v in [*included, *excluded])  # only steps named: every family stays allowed
    return (tuple(allowed) if named else None), tuple(sorted(set(dropped)))


def check_sample_weight(sample_weight, n: int) -> np.ndarray | None:
    """``sample_weight`` as ``n`` finite, non-negative floats, not all zero (None stays None)."""
    if sample_weight is None:
        return None
    try:
        raw = np.asarray(sample_weight, dtype=float)
    except (TypeError, ValueError):
        raise InputError("sample_weight must be numbers") from None
    if raw.ndim > 1 and raw.shape[1:] != (1,) * (raw.ndim - 1):
        raise InputError("sample_weight must be one-dimensional")
    w = raw.reshape(-1)
    if w.shape[0] != n:
        raise InputError(f"sample_weight has {w.shape[0]} values but there are {n} rows")
    if not np.all(np.isfinite(w)) or (w < 0).any():
        raise InputError("sample_weight must be finite and non-negative")
    if not (w > 0).any():
        raise InputError("sample_weight is zero for every row")
    return w


def row_values(values, n: int, name: str) -> np.ndarray:
    """One value per row (``groups``), as a 1-d array of ``n`` values."""
    arr = np.asarray(values.to_numpy() if isinstance(values, pd.Series) else values, dtype=object)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InputError(f"{name} must be one value per row ({n}); got shape {arr.shape}")
    return arr


__all__ = ["STRATEGIES", "check_params", "allowed_families", "check_sample_weight", "row_values"]
