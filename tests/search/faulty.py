"""A test-only model family whose trials raise, hang or exhaust memory on purpose.

Module level (importable by the worker processes, which receive user families with the data).
"""
from __future__ import annotations

import time

import numpy as np
from sklearn.dummy import DummyClassifier, DummyRegressor

from automl.models import Family
from automl.space import Categorical


class FaultyClassifier(DummyClassifier):
    def __init__(self, mode="ok"):
        super().__init__(strategy="prior")
        self.mode = mode

    def fit(self, X, y, **kwargs):
        misbehave(self.mode)
        return super().fit(X, y)


class FaultyRegressor(DummyRegressor):
    def __init__(self, mode="ok"):
        super().__init__(strategy="mean")
        self.mode = mode

    def fit(self, X, y, **kwargs):
        misbehave(self.mode)
        return super().fit(X, y)


def misbehave(mode: str) -> None:
    if mode == "raise":
        raise RuntimeError("this model always fails")
    if mode == "hang":
        time.sleep(3600)
    if mode == "memory":
        blocks = []
        while True:  # address space in 256 MiB blocks until the trial's memory limit (RLIMIT_AS) stops it
            blocks.append(np.empty(1 << 25))


def build(config, task, n_rows, n_classes, seed):
    return FaultyRegressor(config["mode"]) if task == "regression" else FaultyClassifier(config["mode"])


FAULTY = Family("faulty_test", ("binary", "multiclass", "regression"),
                (Categorical("mode", ("ok", "raise", "hang", "memory"), "ok"),), build)
