"""The trials whose out-of-fold predictions and fold models the search keeps for the final ensemble.

Bounded disk and memory: the best ``KEEP_TOP`` trials and the best trial of every family (a surrogate that settles
on one family still leaves the ensemble diverse members); a trial only saves its fold models when it would enter
that set (``keep_below``), and the models of a trial pushed out are deleted as the search goes.
"""
from __future__ import annotations

import os

from .final_model import KeptModels
from .history import Trial

KEEP_TOP = 15  # trials whose out-of-fold predictions and fold models are kept for the ensemble


class KeptSet:
    """Trial id -> ``KeptModels`` (``models``, the dict the final model reads) over the search's trials (``by_id``)."""

    def __init__(self, by_id: dict[int, Trial]) -> None:
        self.by_id = by_id
        self.models: dict[int, KeptModels] = {}

    def __bool__(self) -> bool:
        return bool(self.models)

    def add(self, trial_id: int, kept: KeptModels) -> None:
        """Keep ``trial_id``'s predictions and models, then drop those the bound pushes out."""
        self.models[trial_id] = kept
        self._trim()

    def best(self) -> Trial | None:
        """The best trial whose models are kept (None: none is)."""
        if not self.models:
            return None
        return self.by_id[min(self.models, key=lambda i: (self.by_id[i].loss, i))]

    def keep_below(self, family: str) -> float | None:
        """The loss a new trial of ``family`` must beat to enter the kept set (None: it enters anyway)."""
        if len(self.models) < KEEP_TOP:
            return None
        same = [self.by_id[i].loss for i in self.models if self.by_id[i].family == family]
        if not same:
            return None
        ranked = sorted(self.by_id[i].loss for i in self.models)
        return max(ranked[KEEP_TOP - 1], min(same))

    def _kept_ids(self) -> set[int]:
        """The best ``KEEP_TOP`` trials and the best of every family."""
        ranked = sorted(self.models, key=lambda i: (self.by_id[i].loss, i))
        keep = set(ranked[:KEEP_TOP])
        families: set[str] = set()
        for trial_id in ranked:
            family = self.by_id[trial_id].family
            if family not in families:
                families.add(family)
                keep.add(trial_id)
        return keep

    def _trim(self) -> None:
        """Only the trials of ``_kept_ids`` keep predictions and fold models; the others' files are deleted."""
        if len(self.models) <= KEEP_TOP:
            return
        keep = self._kept_ids()
        for trial_id in [i for i in self.models if i not in keep]:
            path = self.models.pop(trial_id).models_path
            if path:
                try:
                    os.remove(path)
                except OSError:
                    pass


__all__ = ["KeptSet", "KEEP_TOP"]
