"""Fit a peer (FLAML or AutoGluon) and measure its predictions, in the peer's own Python (run by bench_predict.py).

    PEER_PYTHON benchmarks/peers/predict_worker.py JOB_DIR

``JOB_DIR`` holds ``train.parquet`` and ``test.parquet`` (features and the target column) and ``job.json`` (a
``PeerJob``). Fits the peer at the job's budget and cores (AutoGluon: ``medium_quality``, as bench_search.py;
FLAML: its default estimators, ROC AUC), saves it in ``JOB_DIR`` (FLAML pickled; AutoGluon its own directory, then
kept in memory with ``persist`` as for online use) and writes ``result.json`` (a ``PredictionFigures``): the
timings are taken here, so neither the interpreter's start nor the peer's import is charged to it.
"""
import json
import pickle
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # (benchmarks/: the shared measurement)

from prediction_figures import PeerJob, PredictionFigures, dir_bytes, measure  # noqa: E402


def flaml(job: PeerJob, train: pd.DataFrame, test: pd.DataFrame, d: Path) -> PredictionFigures:
    from flaml import AutoML
    start = time.monotonic()
    model = AutoML()
    model.fit(train.drop(columns=[job.target]), train[job.target], task="classification", metric="roc_auc",
              time_budget=job.budget, n_jobs=job.n_jobs, seed=job.seed, verbose=0)
    fit_seconds = time.monotonic() - start
    path = d / "flaml.pkl"
    with open(path, "wb") as fh:
        pickle.dump(model, fh)
    column = list(model.classes_).index(job.positive)
    return measure("FLAML", lambda X: model.predict_proba(X)[:, column], test, job.target, job.positive,
                   dir_bytes(path), fit_seconds, detail=str(model.best_estimator), rows=job.rows)


def autogluon(job: PeerJob, train: pd.DataFrame, test: pd.DataFrame, d: Path) -> PredictionFigures:
    from autogluon.tabular import TabularPredictor
    start = time.monotonic()
    predictor = TabularPredictor(label=job.target, eval_metric="roc_auc", path=str(d / "ag"), verbosity=0,
                                 problem_type="binary")
    predictor.fit(train, time_limit=job.budget, presets="medium_quality", num_cpus=job.n_jobs,
                  ag_args_fit={"random_seed": job.seed})
    fit_seconds = time.monotonic() - start
    saved = dir_bytes(d / "ag")
    predictor.persist()  # (models kept in memory: without it every call loads them from disk)
    best = predictor.model_best
    return measure("AutoGluon", lambda X: predictor.predict_proba(X)[job.positive].to_numpy(), test, job.target,
                   job.positive, saved, fit_seconds, detail=f"{best} of {len(predictor.model_names())} models",
                   rows=job.rows)


PEERS = {"flaml": flaml, "autogluon": autogluon}


def main(job_dir: str) -> int:
    d = Path(job_dir)
    job = PeerJob(**json.loads((d / "job.json").read_text()))
    train, test = pd.read_parquet(d / "train.parquet"), pd.read_parquet(d / "test.parquet")
    figures = PEERS[job.system](job, train, test, d)
    (d / "result.json").write_text(json.dumps(figures.as_dict()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
