"""How optimistic LightGBM's out-of-fold score is when each fold early-stops on its own validation rows,
and what scoring each fold at the rounds the *other* folds chose would change (measured; not adopted).

    python benchmarks/bench_oof_rounds.py ../shared/datasets/pmlb [--datasets a,b,c] [--seeds 0,1,2]

For each dataset and split (75 % train / 25 % test, as in ``bench_search.py``), LightGBM's three default
configurations run as trials (``automl.search.trial.run_trial``, 5-fold cross-validation). Per trial:

- ``own``: out-of-fold score at the rounds early stopping chose on each fold (the rows that score it; what
  the search records);
- ``cross``: out-of-fold score at, per fold, the rounds minimising the mean validation curve of the other
  folds (over the rounds all of them reached);
- the test score of the fold models' bag at each choice of rounds.

Prints, per dataset, the means over splits and configurations of: ``optimism`` = own - cross out-of-fold
score; validation minus test for each; and ``deploy`` = test(own rounds) - test(cross rounds). Scores:
greater is better (AUC, minus log loss, minus RMSE). On the default nine sets (2026-11-29): optimism
median 0.0037, deploy median 0.0021. So about half the gap is the cross rounds being worse rounds (capped
by the shortest fold's curve), not optimism: scoring at cross rounds while deploying the early-stopped
models would trade an optimistic bias of about 0.002 for a pessimistic one of about 0.002, and deploying
the cross-round models would lose the 0.002 on test. The 10 s search benchmark did not move either way
(warm beat bo and random on 10/24 with cross-round scoring, 11/24 without).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import joblib  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_search import load, metric_of, tasks_of, trial_split  # noqa: E402

from automl.models import REGISTRY  # noqa: E402
from automl.search.portfolio import family_defaults  # noqa: E402
from automl.search.messages import TrialRequest  # noqa: E402
from automl.search.trial import predict_one, run_trial  # noqa: E402

DATASETS = ("diabetes,colic,ionosphere,breast_cancer_wisconsin,yeast,wine_quality_red,credit_g,1027_ESL,"
            "Hill_Valley_with_noise")


def cross_fold_rounds(models) -> list[int]:
    """Per fold, the rounds minimising the other folds' mean validation curve (LightGBM's own metric)."""
    curves = [np.asarray(next(iter(next(iter(m.evals_result_.values())).values())), dtype=float) for m in models]
    rounds = []
    for k, own in enumerate(curves):
        others = [c for j, c in enumerate(curves) if j != k]
        length = min(len(own), *(len(c) for c in others))
        rounds.append(int(np.argmin(np.mean([c[:length] for c in others], axis=0))) + 1)
    return rounds


def _predict(model, X, task, n_classes, rounds=None):
    if rounds is None:
        return predict_one(model, X, task, n_classes)
    if task == "regression":
        return np.asarray(model.predict(X, num_iteration=rounds), dtype=float)
    return np.asarray(model.predict_proba(X, num_iteration=rounds), dtype=float)


def one_split(X, y, task, seed, keep_dir) -> list[dict]:
    _, score_fn, _ = metric_of(task)
    Xtr, Xte, ytr, yte, n_classes, data = trial_split(X, y, task, seed, "cv5")
    splits = data["splits"]
    rows = []
    for i, config in enumerate(family_defaults([REGISTRY.get("lightgbm")])):
        result = run_trial(TrialRequest(trial_id=i, config=config, fidelity=1.0, seconds=600, keep_models_dir=keep_dir),
                           data)
        models = joblib.load(result.models_path)
        cross = cross_fold_rounds(models)
        own_oof, cross_oof = result.oof, np.zeros_like(result.oof)
        for m, r, (_, va) in zip(models, cross, splits):
            cross_oof[va] = _predict(m, Xtr.iloc[va], task, n_classes, r)

        def bag(rounds):
            return np.mean([_predict(m, Xte, task, n_classes, r) for m, r in zip(models, rounds)], axis=0)
        own_val, cross_val = score_fn(ytr, own_oof), score_fn(ytr, cross_oof)
        own_test, cross_test = score_fn(yte, bag([None] * len(models))), score_fn(yte, bag(cross))
        rows.append({"optimism": own_val - cross_val, "own_val_minus_test": own_val - own_test,
                     "cross_val_minus_test": cross_val - own_test, "deploy": own_test - cross_test})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pmlb", type=Path)
    parser.add_argument("--datasets", default=DATASETS)
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    summary = pd.read_csv(args.pmlb / "summary.csv")
    task_of = tasks_of(summary)
    table = []
    with tempfile.TemporaryDirectory() as keep_dir:
        for name in args.datasets.split(","):
            X, y, task = load(args.pmlb, name, task_of)
            if task != "regression":
                y = pd.Series(np.unique(y, return_inverse=True)[1], name="target")
            for seed in (int(s) for s in args.seeds.split(",")):
                for row in one_split(X, y, task, seed, keep_dir):
                    table.append({"dataset": name, "rows": len(y), **row})
    frame = pd.DataFrame(table)
    per = frame.groupby(["dataset", "rows"]).mean().reset_index()
    print(per.round(4).to_string(index=False))
    print("\nmedian over datasets:", per.drop(columns=["dataset", "rows"]).median().round(4).to_dict())
    print("(both val_minus_test columns use the own-rounds bag's test score, the model the search deploys)")


if __name__ == "__main__":
    main()
