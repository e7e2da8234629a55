"""What ``bench_predict.py`` measures of one fitted model, the same way for ours (in the benchmark's Python) and for
a peer (in its own Python, ``peers/predict_worker.py``): ``predict_proba`` on 1 row (median of ``SINGLE_CALLS``)
and on ``BATCH_ROWS`` rows (median of ``BATCH_CALLS``), the saved model's size and the test ROC AUC. Imports only
pandas, NumPy and scikit-learn (a peer's environment has them; not ``automl``)."""
from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

SINGLE_CALLS = 50  # 1-row predictions timed (median)
BATCH_CALLS = 3  # batch predictions timed (median)
BATCH_ROWS = 100_000


@dataclass(frozen=True)
class PredictionFigures:
    """One system's figures: seconds per 1-row and per batch call, saved bytes, test AUC, fit seconds (wall, as
    measured where it ran) and a short description of its final model."""

    name: str
    one: float
    batch: float
    bytes: int
    auc: float
    fit_seconds: float
    detail: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PeerJob:
    """What ``peers/predict_worker.py`` fits and measures (``job.json`` in its job directory, beside ``train.parquet``
    and ``test.parquet``): ``system`` (``flaml`` or ``autogluon``), the target column and its positive label, the fit's
    budget, cores and seed, and the batch size."""

    system: str
    target: str
    positive: str
    budget: float
    n_jobs: int
    seed: int = 0
    rows: int = BATCH_ROWS

    def as_dict(self) -> dict:
        return asdict(self)


def median_seconds(fn: Callable[[], object], calls: int) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def dir_bytes(path: Path) -> int:
    """Bytes of a saved model: a file's size, or every file's under a directory."""
    path = Path(path)
    return path.stat().st_size if path.is_file() else sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def batch_rows(X: pd.DataFrame, rows: int = BATCH_ROWS) -> pd.DataFrame:
    """``rows`` feature rows (``X`` repeated when it has fewer)."""
    while len(X) < rows:
        X = pd.concat([X, X], ignore_index=True)
    return X.iloc[:rows].reset_index(drop=True)


def measure(name: str, positive_proba: Callable[[pd.DataFrame], np.ndarray], test: pd.DataFrame, target: str,
            positive: str, saved_bytes: int, fit_seconds: float, detail: str = "",
            rows: int = BATCH_ROWS) -> PredictionFigures:
    """The figures of a fitted model whose ``positive_proba(X)`` is its probability of ``positive`` per row of ``X``
    (the whole ``predict_proba`` call, so that is what is timed)."""
    from sklearn.metrics import roc_auc_score
    X = test.drop(columns=[target])
    auc = float(roc_auc_score(test[target] == positive, positive_proba(X)))
    big, one = batch_rows(X, rows), X.iloc[:1]
    return PredictionFigures(name=name, one=median_seconds(lambda: positive_proba(one), SINGLE_CALLS),
                             batch=median_seconds(lambda: positive_proba(big), BATCH_CALLS), bytes=int(saved_bytes),
                             auc=auc, fit_seconds=float(fit_seconds), detail=detail)
