"""The leaderboard: the final model first, then the trials ranked so that every score above another is comparable.

Row 1 is what ``predict`` uses (an ensemble or one configuration) with its validation score; then the trials at
full fidelity, best score first; then trials scored on a share of the training rows (partial fidelity), whose
scores are not comparable with full-fidelity ones; then trials that did not finish.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .search.messages import Status

if TYPE_CHECKING:
    from .stacking import StackReport

COLUMNS = ["config_id", "family", "pipeline", "fidelity", "score", "loss", "fit_seconds", "status", "origin", "error",
           "config", "kind"]
FINAL, TRIAL, PARTIAL = "final", "trial", "partial"  # values of the ``kind`` column
PARTIAL_NOTE = "partial: score on a share of the training rows; not comparable with full-fidelity scores"
_FULL = 1.0 - 1e-9


@dataclass(frozen=True)
class Member:
    config_id: str
    family: str
    weight: float


@dataclass(frozen=True)
class FinalModel:
    """The model ``predict`` uses: one configuration, a weighted ensemble or a stack (``stack`` set: the members'
    weights are their influence on the second layer), and its validation score."""

    members: tuple[Member, ...]
    score: float
    loss: float
    stack: StackReport | None = None

    @property
    def family(self) -> str:
        if self.stack is not None:
            return "stack"
        return self.members[0].family if len(self.members) == 1 else "ensemble"

    @property
    def config_id(self) -> str:
        return "+".join(m.config_id for m in self.members)

    def describe(self) -> str:
        """``svm`` for one configuration, ``ensemble of svm 0.6, lightgbm 0.4`` for an ensemble, ``stack of svm 0.6,
        lightgbm 0.4 -> logistic regression on logits`` for a stack."""
        members = ", ".join(f"{m.family} {m.weight:.2g}" for m in self.members)
        if self.stack is not None:
            return f"stack of {members} -> {self.stack.stacker}"
        return self.members[0].family if len(self.members) == 1 else "ensemble of " + members

    def as_dict(self) -> dict:
        return {"family": self.family, "description": self.describe(), "score": self.score,
                "members": [{"config_id": m.config_id, "family": m.family, "weight": m.weight}
                            for m in self.members],
                "stack": None if self.stack is None else self.stack.as_dict()}


def final_model(ensemble: list, trials: list[dict], best_config: dict, score: float, loss: float,
                stack: StackReport | None = None) -> FinalModel:
    """The final model from the search result's ``ensemble`` ((config_id, weight) pairs, heaviest first), a stack
    when ``stack`` is given."""
    families = {t.get("config_id"): t.get("family") or (t.get("config") or {}).get("family") for t in trials}
    members = [Member(str(cid), families.get(cid) or best_config.get("family", "unknown"), round(float(w), 6))
               for cid, w in ensemble if float(w) > 0]
    if not members:
        from knowledge_base.canonical import config_id
        members = [Member(config_id(best_config), best_config.get("family", "unknown"), 1.0)]
    members.sort(key=lambda m: -m.weight)
    return FinalModel(tuple(members), float(score), float(loss), stack)


def _pipeline(config) -> str | None:
    """The trial's steps and family, e.g. ``quantile > percentile(30) > linear`` (its family's default steps unnamed)."""
    if not isinstance(config, dict):
        return None
    from .models.steps import describe  # (the models package loads the model libraries)
    return describe(config)


def leaderboard(trials: list[dict], final: FinalModel | None) -> pd.DataFrame:
    """The final model's row, then finished full-fidelity trials by loss, partial-fidelity ones (highest fidelity
    first, then by loss), then the rest; index ``rank`` from 1."""
    rows = []
    for t in trials:
        row = {c: t.get(c) for c in COLUMNS}
        row["config"] = json.dumps(t.get("config"), sort_keys=True)
        row["pipeline"] = _pipeline(t.get("config"))
        row["kind"] = PARTIAL if float(t.get("fidelity") or 0.0) < _FULL else TRIAL
        rows.append(row)
    board = pd.DataFrame(rows, columns=COLUMNS)
    if not board.empty:
        ok = board["status"].eq(Status.OK)
        loss = pd.to_numeric(board["loss"], errors="coerce").fillna(np.inf)
        tier = np.where(ok & board["kind"].eq(TRIAL), 0, np.where(ok, 1, 2))
        board = board.assign(_tier=tier, _fid=-pd.to_numeric(board["fidelity"], errors="coerce").fillna(0), _loss=loss)
        board = board.sort_values(["_tier", "_fid", "_loss"], kind="stable").drop(columns=["_tier", "_fid", "_loss"])
    if final is not None:
        config = {"family": final.family, "members": [{"config_id": m.config_id, "family": m.family,
                                                       "weight": m.weight} for m in final.members]}
        if final.stack is not None:
            config["stacker"] = final.stack.stacker
        head = pd.DataFrame([{"config_id": final.config_id, "family": final.family, "pipeline": final.describe(),
                              "fidelity": 1.0, "score": final.score, "loss": final.loss, "fit_seconds": None,
                              "status": Status.OK, "origin": FINAL, "error": None,
                              "config": json.dumps(config, sort_keys=True), "kind": FINAL}], columns=COLUMNS)
        board = pd.concat([head, board], ignore_index=True) if not board.empty else head
    board = board.reset_index(drop=True)
    board.index = board.index + 1
    board.index.name = "rank"
    return board
