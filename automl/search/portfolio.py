"""The static fallback portfolio: family defaults and hand-chosen variants, as plain data.

Used when no past task is near. A portfolio built from the knowledge base (JSON list of
configurations) replaces it when present.
"""
from __future__ import annotations

from ..models import Family


def static_portfolio(families: list[Family]) -> list[dict]:
    """Defaults first (in registry order), then the families' extra hand-chosen configurations."""
    out = [f.default_config() for f in families]
    for f in families:
        out += [f.complete(c) for c in f.defaults]
    return out
