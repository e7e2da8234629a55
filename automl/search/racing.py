"""Racing over cross-validation folds: stop a configuration after its first folds when clearly worse.

A pure rule (as in F-Race / SMAC's intensification, simplified): after each fold, the mean fold loss of
the challenger is compared with the incumbent's mean over the same folds; the challenger stops when it
is worse by more than the incumbent's fold-to-fold spread plus a small relative margin. The raced-out
trial keeps the loss measured on the folds it ran (marked ``raced_out``); it never enters the ensemble.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

RELATIVE_MARGIN = 0.02  # a challenger must also be worse by this share of the incumbent's mean loss to stop
LOSS_FLOOR = 1e-3  # ... of at least this (a mean loss near 0 would make the margin vanish)


def race_out(challenger: Sequence[float], incumbent: Sequence[float] | None,
             relative_margin: float = RELATIVE_MARGIN) -> bool:
    """True when the challenger's fold losses so far are clearly worse than the incumbent's on the same folds."""
    if not incumbent or not challenger or len(challenger) >= len(incumbent):
        return False
    inc = np.asarray(incumbent, dtype=float)
    k = len(challenger)
    if not np.all(np.isfinite(inc)):
        return False
    spread = float(np.std(inc)) if len(inc) > 1 else 0.0
    margin = spread + relative_margin * max(abs(float(np.mean(inc))), LOSS_FLOOR)
    return float(np.mean(challenger)) > float(np.mean(inc[:k])) + margin
