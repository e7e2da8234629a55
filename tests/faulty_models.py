"""A test-only model family whose trials raise, hang or exhaust memory on purpose.

Module level (importable) because trials run in worker processes.
"""
from __future__ import annotations

import time

import numpy as np
from sklearn.dummy import DummyClassifier

from automl.models import Family
from automl.space import Categorical


class FaultyModel(DummyClassifier):
    def __init__(self, mode="ok"):
        super().__init__(strategy="prior")
        self.mode = mode

    def fit(self, X, y, **kwargs):
        if self.mode == "raise":
            raise RuntimeError("this model always fails")
        if self.mode == "hang":
            time.sleep(3600)
        if self.mode == "memory":
            blocks = []
            while True:  # reserve 1 GiB at a time (no page touched) until the trial's memory limit stops it
                blocks.append(np.empty(1 << 30, dtype=np.uint8))
        return super().fit(X, y)


def build(config, task, n_rows, n_classes, seed):
    return FaultyModel(mode=config["mode"])


FAULTY = Family("faulty", ("binary", "multiclass"), (Categorical("mode", ("ok", "raise", "hang", "memory"), "ok"),),
                build)
