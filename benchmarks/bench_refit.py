"""What refitting a cross-validated member on every row does to its test score: the bag of fold models
(the final model before 2026-11-30), the refit alone, and the bag with the refit as one more member (what
the search deploys under cross-validation now: ``automl.search.final_model.FinalModelBuilder.member_models``).

    python benchmarks/bench_refit.py ../shared/datasets/pmlb [--datasets a,b,c] [--seeds 0,1,2] [--n-jobs 2] \
        [--family lightgbm]

For each dataset and split (75 % train / 25 % test, as in ``bench_search.py``), the defaults of the family
``--family`` (LightGBM unless given) run as trials (``automl.search.trial.run_trial``, with the protocol the
search would choose: 5-fold CV under 1,000 rows, 3-fold under 10,000), then once on all training rows
(``automl.search.trial.refit``, with the early-stopped rounds the optimiser gives it: 1.1 x their mean).
The default datasets are 16 PMLB datasets per task (seeded sample of those with 150 to 9,999 rows, none of
``bench_search.py``'s set). Prints per dataset the test scores and, over (dataset, configuration) pairs,
how often each variant beats the bag and its relative change (scores: greater is better; AUC, minus log
loss, minus RMSE).
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
from bench_search import DEFAULT_DATASETS, load, metric_of, tasks_of, trial_split  # noqa: E402

from automl.models import REGISTRY  # noqa: E402
from automl.search.portfolio import family_defaults  # noqa: E402
from automl.search.messages import TrialRequest  # noqa: E402
from automl.search.trial import predict_one, refit, refit_iterations, run_trial  # noqa: E402

# the refit's share of the average: alone, one more member of equal weight (deployed), a third, a half
REFIT_SHARES = {"refit": 1.0, "bag+refit": None, "refit 1/3": 1 / 3, "refit 1/2": 0.5}
VARIANTS = tuple(REFIT_SHARES)


def default_datasets(summary: pd.DataFrame, per_task: int = 16) -> list[str]:
    pool = summary[(summary.n_instances >= 150) & (summary.n_instances < 10_000)
                   & ~summary.dataset.isin(DEFAULT_DATASETS)]
    return [name for _, group in pool.groupby("endpoint_type")
            for name in group.sample(min(len(group), per_task), random_state=1).dataset]


def one_split(X, y, task, seed, keep_dir, family: str = "lightgbm") -> list[dict]:
    _, score_fn, _ = metric_of(task)
    _, Xte, _, yte, n_classes, data = trial_split(X, y, task, seed)
    rows = []
    for i, config in enumerate(family_defaults([REGISTRY.get(family)])):
        result = run_trial(TrialRequest(trial_id=i, config=config, fidelity=1.0, seconds=600, keep_models_dir=keep_dir),
                           data)
        folds = joblib.load(result.models_path)
        full = refit(TrialRequest(trial_id=1000 + i, config=config, seconds=600, keep_models_dir=keep_dir, refit=True,
                                  iterations=refit_iterations(result.details.rounds)), data)
        (model,) = joblib.load(full.models_path)
        bag = np.mean([predict_one(m, Xte, task, n_classes) for m in folds], axis=0)
        one = predict_one(model, Xte, task, n_classes)
        k = len(folds)
        row = {"config": i, "folds": k, "bag": score_fn(yte, bag)}
        for variant, share in REFIT_SHARES.items():
            share = 1 / (k + 1) if share is None else share
            row[variant] = score_fn(yte, (1 - share) * bag + share * one)
        rows.append(row)
    return rows


def one_dataset(pmlb: Path, name: str, task_of: dict, seeds: list[int], family: str = "lightgbm") -> list[dict]:
    warnings.filterwarnings("ignore")
    X, y, task = load(pmlb, name, task_of)
    if task != "regression":
        y = pd.Series(np.unique(y, return_inverse=True)[1], name="target")
    with tempfile.TemporaryDirectory() as keep_dir:
        return [{"dataset": name, "task": task, "rows": len(y), "seed": seed, **row}
                for seed in seeds for row in one_split(X, y, task, seed, keep_dir, family)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pmlb", type=Path)
    parser.add_argument("--datasets", default=None, help="comma-separated names (default: a seeded sample)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--n-jobs", type=int, default=2, help="datasets run in parallel")
    parser.add_argument("--family", default="lightgbm", help="the model family whose defaults are measured")
    args = parser.parse_args()
    summary = pd.read_csv(args.pmlb / "summary.csv")
    task_of = tasks_of(summary)
    names = args.datasets.split(",") if args.datasets else default_datasets(summary)
    seeds = [int(s) for s in args.seeds.split(",")]
    parts = joblib.Parallel(n_jobs=args.n_jobs)(joblib.delayed(one_dataset)(args.pmlb, n, task_of, seeds, args.family)
                                                for n in names)
    frame = pd.DataFrame([row for part in parts for row in part])
    per = frame.groupby(["dataset", "task", "rows", "config"], sort=False)[["bag", *VARIANTS]].mean().reset_index()
    print(per.groupby(["dataset", "task", "rows"], sort=False)[["bag", *VARIANTS]].mean().round(4).to_string())
    print(f"\n{len(per)} (dataset, configuration) pairs, test scores averaged over {len(seeds)} splits:")
    for variant in VARIANTS:
        change = (per[variant] - per["bag"]) / per["bag"].abs().clip(lower=1e-12)
        print(f"{variant:10s} better than the bag on {(per[variant] > per['bag']).sum()}/{len(per)}, "
              f"worse on {(per[variant] < per['bag']).sum()}; relative change median {change.median():+.2%}, "
              f"mean {change.mean():+.2%}, worst {change.min():+.2%}, best {change.max():+.2%}")
        for task, part in per.assign(change=change).groupby("task"):
            print(f"    {task:10s} better on {(part[variant] > part['bag']).sum()}/{len(part)}, "
                  f"median {part['change'].median():+.2%}")


if __name__ == "__main__":
    main()
