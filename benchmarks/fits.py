"""One fit of this project's estimator on a benchmark split, scored on the test rows, with its anytime points.

    from fits import fit_scored, split
    Xtr, Xte, ytr, yte = split(X, y, task, seed)
    fit = fit_scored(Xtr, ytr, Xte, yte, task, strategy="warm", store=LeaveOut(store, names), budget=10, seed=0)
    fit.test, fit.best(1.0), fit.time_to(0.25, 1.0)

Shared by the memory benchmarks (``bench_repeat_fit.py``, ``bench_large_tables.py``, ``bench_store_learns.py``).
``strategy="bo"`` with nothing written back is a fit without memory: the estimator reads no knowledge base
then. The anytime points are the finished trials' validation losses (lower = better) with their fidelity
(training-row share) and end time (``automl.report.data.trials_frame``, the data of ``plot_anytime``), on
seconds since ``fit`` was called: the trials' ``ended`` counts from the search's start, so the seconds before
it (cleaning, meta-features, retrieval) are added back, measured through the progress callback. Losses are
compared within one fidelity only (a lower fidelity scores on fewer rows).
"""
from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench_search import metric_of


@dataclass
class Fit:
    test: float                 # test score, greater = better (bench_search.metric_of)
    valid: float                # the final model's validation score (the estimator's best_score_)
    points: list[tuple[float, float, float]] = field(default_factory=list)  # (seconds since fit, fidelity, loss)
    wall: float = math.nan
    n_trials: int = 0
    n_written: int = 0          # evaluations written back to the store
    search_start: float = math.nan  # seconds from fit's call to the search's start (NaN: no trial finished)
    neighbours: list = field(default_factory=list)  # the retrieved datasets (model.neighbours_), nearest first

    @property
    def top_fidelity(self) -> float:
        """The highest fidelity a trial finished at (NaN: none finished)."""
        return max((f for _, f, _ in self.points), default=math.nan)

    def best(self, fidelity: float) -> float:
        """The best validation loss at ``fidelity`` (inf: no trial finished there)."""
        return min((loss for _, f, loss in self.points if math.isclose(f, fidelity)), default=math.inf)

    def time_to(self, loss: float, fidelity: float) -> float:
        """Seconds since fit until a trial at ``fidelity`` reached validation ``loss`` or better (inf: never)."""
        return min((t for t, f, x in self.points if math.isclose(f, fidelity) and x <= loss + 1e-12),
                   default=math.inf)


def split(X, y, task: str, seed: int, test_size: float = 0.25, *, codes: bool = True):
    """The benchmark's seeded split (``test_size`` of the rows to the test side), stratified for classification,
    class labels as codes 0..K-1 (``codes=False``: as given). ``X`` and ``y`` are pandas or NumPy. A class of one
    row cannot be stratified: its rows go to the training side (the model learns the label exists; the test side
    lacks it, which ``bench_search.metric_of`` tolerates) and the other rows are split stratified. Without such a
    class the split is ``train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)``'s, row for
    row (earlier benchmark results stay comparable)."""
    from sklearn.model_selection import train_test_split
    classification = task != "regression"
    rows = np.arange(len(y))
    alone = np.zeros(len(y), dtype=bool)
    if classification:
        _, coded, counts = np.unique(np.asarray(y), return_inverse=True, return_counts=True)
        coded = coded.ravel()
        alone = counts[coded] < 2
        if codes:
            y = pd.Series(coded, index=y.index, name=y.name) if isinstance(y, pd.Series) else coded
    # splitting the row numbers draws the same permutation as splitting the table itself
    train, test = train_test_split(rows[~alone], test_size=test_size, random_state=seed,
                                   stratify=np.asarray(y)[~alone] if classification else None)
    train = np.concatenate([train, rows[alone]])
    return _rows(X, train), _rows(X, test), _rows(y, train), _rows(y, test)


def _rows(table, rows: np.ndarray):
    """``table``'s rows at the positions ``rows``, in that order (a frame or series keeps its index)."""
    return table.iloc[rows] if hasattr(table, "iloc") else np.asarray(table)[rows]


def fit_scored(X, y, Xt, yt, task: str, *, strategy: str, store, budget: float, seed: int, n_jobs: int = 2,
               write_back: bool = False) -> Fit:
    """Fit ``AutoML(strategy=...)`` reading (and with ``write_back`` writing) ``store`` (a ``KnowledgeBase``;
    None: the default store), score it on (``Xt``, ``yt``) (NaN when ``Xt`` is None) and keep its anytime
    points."""
    from automl import AutoML
    from automl.report import data as report_data
    offset: list[float] = []

    def callback(event: dict) -> None:  # the first trial tells when the search started, in fit's seconds
        if not offset:
            offset.append(time.monotonic() - start - float(event["elapsed"]))

    model = AutoML(task=task, time_budget=budget, n_jobs=n_jobs, seed=seed, strategy=strategy,
                   warm_start=strategy == "warm", write_back=write_back, knowledge_base=store, callback=callback)
    start = time.monotonic()
    model.fit(X, y)
    wall = time.monotonic() - start
    test = math.nan
    if Xt is not None:
        _, score_fn, needs_proba = metric_of(task)
        pred = model.predict_proba(Xt) if needs_proba else model.predict(Xt)
        test = float(score_fn(np.asarray(yt), np.asarray(pred)))
    shift = offset[0] if offset else 0.0
    trials = report_data.trials_frame(model.trials_)
    trials = trials[(trials["status"] == "ok") & np.isfinite(trials["loss"].astype(float))]
    # the early trial (origin "early") runs on at most 2,000 rows per fold: a share that is no rung, kept only
    # when it is all the rows (then it is a full-fidelity trial like any other)
    trials = trials[(trials["origin"] != "early") | np.isclose(trials["fidelity"], 1.0)]
    return Fit(test=test, valid=float(model.best_score_),
               points=[(float(t) + shift, float(f), float(x)) for t, f, x in zip(trials["time"], trials["fidelity"],
                                                                                trials["loss"])],
               wall=wall, n_trials=len(model.trials_), n_written=int(model.n_evaluations_written_),
               neighbours=list(model.neighbours_), search_start=offset[0] if offset else math.nan)


def pool_of(pmlb: Path, min_rows: int = 0) -> pd.DataFrame:
    """PMLB's summary rows (dataset, n_instances, endpoint_type, ...) of the datasets in the folder with at least
    ``min_rows`` rows, smallest first."""
    summary = pd.read_csv(pmlb / "summary.csv")
    present = summary["dataset"].map(lambda n: (pmlb / f"{n}.tsv.gz").exists())
    return summary[present & (summary["n_instances"] >= min_rows)].sort_values("n_instances", kind="stable")


def seed_store() -> Path:
    """``AUTOML_KB`` (as ``bench_search``: a temporary store seeded from the package's seed unless set), created
    now so the timed fits do not load the seed; ``bench_search.left_out`` reads this store."""
    import knowledge_base as kb
    if "AUTOML_KB" not in os.environ:
        os.environ["AUTOML_KB"] = str(Path(tempfile.mkdtemp(prefix="bench-kb-")) / "kb.duckdb")
    kb.open_store(None)
    return Path(os.environ["AUTOML_KB"])


def collect(jobs, show, out: Path | None = None, previous: list[dict] = ()) -> pd.DataFrame:
    """Run ``jobs`` (``(label, job)`` pairs, ``job()`` -> list of row dicts), print ``show(row)`` for every row as
    it comes; a failing job is named on stderr and skipped. The rows as a frame (empty when none ran), after the
    ``previous`` rows (an earlier run's, kept as they are); written to ``out`` (CSV) when given, after every job,
    so an interrupted benchmark keeps every finished job."""
    import sys
    rows: list[dict] = list(previous)
    for label, job in jobs:
        try:
            new = job()
        except Exception as exc:  # one failing dataset does not stop a benchmark
            print(f"# {label} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        for row in new:
            print(show(row), flush=True)
        rows += new
        if out is not None and rows:
            pd.DataFrame(rows).to_csv(out, index=False)
    return pd.DataFrame(rows)
