"""Configurations of an earlier search-space version in the current one (``automl.space.SPACE_VERSION``).

A configuration of space version 1 held every parameter of its family, read or not; in version 2 it holds
its active parameters for its task, so version-1 configurations that built the same pipeline collapse
into one id. Pipeline steps (``automl.models.steps``) need no mapping: a configuration omits the steps at its
family's defaults, which build the fixed preprocessing of the configurations written before steps were choices.
The mapping needs the families' knowledge, so it lives here; the knowledge base stores what
it is given and never imports it.
"""
from __future__ import annotations

import json

import pandas as pd

from knowledge_base.canonical import canonical_json, config_id

from ..space import SPACE_VERSION
from .registry import REGISTRY


def upgrade_config(config: dict, task: str | None) -> dict | None:
    """``config`` (of this space version or version 1) as a canonical configuration of this version for
    ``task``: the family's ``upgrade`` translates values whose meaning changed (it leaves a current
    configuration unchanged), inactive parameters are dropped. None for a family not registered, or a pipeline step
    not registered (a user's step of another session: read as the default step, its scores would be credited to
    another pipeline)."""
    key = config.get("family")
    if key not in REGISTRY:
        return None
    family = REGISTRY.get(key)
    slots = {p.name: p for p in family.space() if p.name in dict(family.steps)}
    if any(name in config and not p.contains(config[name]) for name, p in slots.items()):
        return None
    if family.upgrade is not None:
        config = family.upgrade(config, task)
    return family.complete(config, task)


def upgrade_tables(configurations: pd.DataFrame, evaluations: pd.DataFrame, tasks: dict[str, str]
                   ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Knowledge-base rows (the export format's ``configurations`` and ``evaluations``; ``tasks``:
    fingerprint -> task) in the current space version. Every evaluation keeps its row (run, seq, scores)
    under its configuration's new id; configurations that collapse into one id become one row. Evaluations
    whose configuration cannot be expressed (a family not registered) are dropped and counted."""
    texts = dict(zip(configurations["config_id"], configurations["config"]))
    created = dict(zip(configurations["config_id"], configurations["created_at"]))
    new_ids, keep, made = [], [], {}
    dropped: dict[str, int] = {}
    for cid, fp in zip(evaluations["config_id"], evaluations["fingerprint"]):
        text = texts.get(cid)
        config = json.loads(text) if isinstance(text, str) else None
        new = None if config is None else upgrade_config(config, tasks.get(fp))
        if new is None:
            family = (config or {}).get("family", "unknown")
            dropped[family] = dropped.get(family, 0) + 1
            keep.append(False), new_ids.append(cid)
            continue
        nid = config_id(new)
        keep.append(True), new_ids.append(nid)
        if nid not in made or created[cid] < made[nid][3]:
            made[nid] = (canonical_json(new), new["family"], SPACE_VERSION, created[cid])
    out = evaluations.assign(config_id=new_ids, space_version=SPACE_VERSION)[keep].reset_index(drop=True)
    configs = pd.DataFrame([(nid, *row) for nid, row in sorted(made.items())],
                           columns=["config_id", "config", "family", "space_version", "created_at"])
    report = {"configurations_before": len(configurations), "configurations_after": len(configs),
              "evaluations_before": len(evaluations), "evaluations_after": len(out), "dropped": dropped}
    return configs, out, report
