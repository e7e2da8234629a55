"""The initial design: the configurations a search evaluates before its sampler proposes any (as in SMAC's initial
design with "additional configs", where a warm start belongs).

``warm``: the knowledge base's suggestions (tagged with their origin) in its order (each chosen to complement the
ones before it on the nearest datasets), then the static portfolio's entries for the families no suggestion covers
(the whole portfolio when there is no suggestion); ``bo`` / ``hyperband``: the family defaults; ``random``: nothing.
A suggestion of a family the search may not use, or one choosing a pipeline step it may not use, is left out (the
search owns both filters); the design is deduplicated by configuration id, first occurrence kept.
"""
from __future__ import annotations

from knowledge_base.canonical import config_id

from ..models import Family, upgrade_config
from ..models.steps import uses_any
from .portfolio import family_defaults, static_portfolio

RESUMED = "resumed"  # origin of an earlier search's best, evaluated again first on resume (for its models)


def upgraded(items, task: str) -> list[dict]:
    """``items`` (dicts with a ``config``: suggestions, prior observations, earlier trials) with each configuration
    canonical for ``task`` in the current space (a knowledge base or a saved search may hold configurations of
    space version 1); those of unregistered families left out."""
    out = []
    for item in items:
        config = upgrade_config(item.get("config") or {}, task)
        if config is not None:
            out.append({**item, "config": config})
    return out


def allowed_suggestions(suggestions, families: list[Family], task: str,
                        exclude_steps: tuple[str, ...] = ()) -> list[tuple[dict, str]]:
    """The suggestions the search may run, as (configuration, origin): upgraded, of an allowed family and choosing
    no excluded pipeline step (a knowledge base may hold configurations using a step excluded now)."""
    by_key = {f.key: f for f in families}
    out = []
    for s in upgraded(suggestions, task):
        config = s["config"]
        family = by_key.get(config["family"])
        if family is not None and not (exclude_steps and uses_any(config, exclude_steps, family)):
            out.append((config, s.get("origin") or "kb"))
    return out


def initial_design(strategy: str, suggestions, families: list[Family], task: str,
                   exclude_steps: tuple[str, ...] = ()) -> list[tuple[dict, str]]:
    """The (configuration, origin) pairs evaluated first, in order (see the module's docstring)."""
    design: list[tuple[dict, str]] = []
    if strategy == "warm":
        design = allowed_suggestions(suggestions, families, task, exclude_steps)
        covered = {config["family"] for config, _ in design}
        design += [(c, "portfolio") for c in static_portfolio(families, task) if c["family"] not in covered]
    elif strategy in ("bo", "hyperband"):
        design = [(c, "default") for c in family_defaults(families, task)]
    return deduplicated(design)


def deduplicated(design: list[tuple[dict, str]]) -> list[tuple[dict, str]]:
    """``design`` without its repeated configuration ids, the first occurrence kept."""
    seen, unique = set(), []
    for config, origin in design:
        cid = config_id(config)
        if cid not in seen:
            seen.add(cid)
            unique.append((config, origin))
    return unique


__all__ = ["initial_design", "allowed_suggestions", "upgraded", "deduplicated", "RESUMED"]
