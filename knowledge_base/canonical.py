"""Canonical JSON and content ids for plain-data configurations.

The knowledge base keys configurations by ``config_id(config)``; the search uses the
same id for deduplication and the leaderboard, so both sides agree byte for byte.
"""
from __future__ import annotations

import hashlib
import json
import math
from typing import Any

_FLOAT_DIGITS = 12


def _normalise(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"configuration values must be finite, got {value!r}")
        return float(f"{value:.{_FLOAT_DIGITS}g}")
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _normalise(value.item())
    if isinstance(value, dict):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    raise TypeError(f"configuration values must be plain data, got {type(value).__name__}")


def canonical_json(config: dict) -> str:
    """One string per configuration: sorted keys, no spaces, floats rounded to 12 digits."""
    return json.dumps(_normalise(config), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def config_id(config: dict) -> str:
    """sha256 of the canonical JSON, hex, 16 characters (64 bits)."""
    return hashlib.sha256(canonical_json(config).encode("utf-8")).hexdigest()[:16]
