"""Fit AutoGluon on one split and write its test predictions (run by bench_search.py in AutoGluon's own Python).

    AG_PYTHON benchmarks/peers/autogluon_worker.py JOB_DIR

``JOB_DIR`` holds ``train.parquet`` (features + ``__target__``), ``test.parquet`` and ``job.json`` (task,
budget, n_jobs, seed; optionally presets, AutoGluon's preset, ``medium_quality`` when absent). Writes ``pred.npy``
and ``timing.json`` (fit + predict seconds, measured here so the interpreter's start and AutoGluon's import are
not charged to AutoGluon's budget). AutoGluon pins its own
scikit-learn and NumPy, so it lives in a separate virtual environment (see benchmarks/requirements.txt).
"""
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from autogluon.tabular import TabularPredictor


def main(job_dir: str) -> int:
    d = Path(job_dir)
    job = json.loads((d / "job.json").read_text())
    train, test = pd.read_parquet(d / "train.parquet"), pd.read_parquet(d / "test.parquet")
    task = job["task"]
    metric = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "root_mean_squared_error"}[task]
    start = time.monotonic()
    predictor = TabularPredictor(label="__target__", eval_metric=metric, path=str(d / "ag"), verbosity=0,
                                 problem_type=task)
    # raise_on_no_models_fitted=False: without ray, best_quality's dynamic-stacking sub-fit runs in this process,
    # and one that trains nothing in its quarter of the time would leave the learner unusable (AutoGluon 1.6.3);
    # a main fit that trains nothing still fails, at predict
    predictor.fit(train, time_limit=job["budget"], presets=job.get("presets", "medium_quality"), num_cpus=job["n_jobs"],
                  ag_args_fit={"random_seed": job["seed"]} if job.get("seed") is not None else None,
                  raise_on_no_models_fitted=False)
    if task == "regression":
        pred = predictor.predict(test).to_numpy()
    else:
        proba = predictor.predict_proba(test)
        pred = proba[sorted(proba.columns)].to_numpy()
    wall = time.monotonic() - start
    np.save(d / "pred.npy", np.asarray(pred, dtype=float))
    (d / "timing.json").write_text(json.dumps({"wall": wall, "models": len(predictor.model_names())}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
