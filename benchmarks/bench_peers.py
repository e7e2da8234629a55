"""This project against its peers at equal budget and cores, on PMLB datasets.

    python benchmarks/bench_peers.py ../shared/datasets/pmlb --budget 30 --n-jobs 2 \
        --systems automl-warm,automl-bo,automl-random,flaml,optuna-lgbm,lgbm-default,constant

Each dataset is split 75/25 (stratified, seeded); every system fits on the 75 % within the budget
and is scored on the 25 % with the task's default metric (ROC-AUC, log-loss, RMSE). Printed:
per-system mean rank, mean normalised score (s - s_constant) / (s_best - s_constant), wins/ties/
losses against FLAML, and the budget overrun. Peers come from benchmarks/requirements.txt.

Leave-one-out: `automl-warm` must not retrieve the dataset it is measured on. The script passes
the dataset's name to the knowledge base's exclusion (datasets whose name matches are ignored by
retrieval), so the bundled store can be used as it is.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
warnings.filterwarnings("ignore")

DEFAULT_DATASETS = [
    # binary
    "breast_cancer_wisconsin", "diabetes", "credit_g", "phoneme", "pima", "ionosphere", "kr_vs_kp", "magic",
    "Hill_Valley_with_noise", "colic",
    # multiclass
    "car_evaluation", "wine_quality_red", "yeast", "vowel", "dermatology", "page_blocks", "splice",
    # regression
    "1027_ESL", "197_cpu_act", "201_pol", "4544_GeographicalOriginalofMusic", "581_fri_c3_500_25",
    "556_analcatdata_apnea2", "1199_BNG_echoMonths",
]


def load(pmlb: Path, name: str, task_of: dict) -> tuple[pd.DataFrame, pd.Series, str]:
    frame = pd.read_csv(pmlb / f"{name}.tsv.gz", sep="\t")
    if len(frame) > 20_000:
        frame = frame.sample(20_000, random_state=0)
    task = task_of[name]
    return frame.drop(columns=["target"]), frame["target"], task


def metric_of(task: str):
    from sklearn.metrics import log_loss, mean_squared_error, roc_auc_score
    if task == "binary":
        return "roc_auc", lambda y, p: roc_auc_score(y, p[:, 1]), True
    if task == "multiclass":
        return "log_loss", lambda y, p: -log_loss(y, np.clip(p, 1e-15, 1), labels=np.arange(p.shape[1])), True
    return "rmse", lambda y, p: -float(np.sqrt(mean_squared_error(y, p))), False


def run_system(system: str, X, y, Xt, task: str, budget: float, n_jobs: int, seed: int, name: str):
    """Returns predictions on Xt (probabilities for classification) and wall seconds."""
    start = time.monotonic()
    classes = np.unique(y)
    if system.startswith("automl-"):
        from automl import AutoML
        strategy = system.split("-", 1)[1]
        model = AutoML(task=task, time_budget=budget, n_jobs=n_jobs, seed=seed, strategy=strategy,
                       warm_start=strategy == "warm", write_back=False)
        model._exclude_datasets = (name,)
        model.fit(X, y)
        pred = model.predict_proba(Xt) if task != "regression" else model.predict(Xt)
    elif system == "flaml":
        from flaml import AutoML as Flaml
        model = Flaml()
        metric = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}[task]
        model.fit(X, y, task="regression" if task == "regression" else "classification", time_budget=budget,
                  n_jobs=n_jobs, seed=seed, metric=metric, verbose=0)
        pred = model.predict_proba(Xt) if task != "regression" else model.predict(Xt)
    elif system == "optuna-lgbm":
        pred = _optuna_lgbm(X, y, Xt, task, budget, n_jobs, seed)
    elif system == "lgbm-default":
        import lightgbm as lgb
        model = (lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier)(n_jobs=n_jobs, verbose=-1,
                                                                                   random_state=seed)
        model.fit(X, y)
        pred = model.predict_proba(Xt) if task != "regression" else model.predict(Xt)
    elif system == "constant":
        if task == "regression":
            pred = np.full(len(Xt), float(np.mean(y)))
        else:
            freq = np.array([(y == c).mean() for c in classes])
            pred = np.tile(freq, (len(Xt), 1))
    else:
        raise SystemExit(f"unknown system {system}")
    return np.asarray(pred), time.monotonic() - start


def _optuna_lgbm(X, y, Xt, task, budget, n_jobs, seed):
    """TPE over LightGBM with a holdout and early stopping, then the best refit (within the budget)."""
    import lightgbm as lgb
    import optuna
    from sklearn.model_selection import train_test_split
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    strat = y if task != "regression" else None
    Xa, Xb, ya, yb = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=strat)
    cls = lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier
    _, score_fn, proba = metric_of(task)

    def objective(trial):
        params = dict(learning_rate=trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
                      num_leaves=trial.suggest_int("num_leaves", 4, 256, log=True),
                      min_child_samples=trial.suggest_int("min_child_samples", 2, 100, log=True),
                      colsample_bytree=trial.suggest_float("colsample_bytree", 0.3, 1.0),
                      reg_lambda=trial.suggest_float("reg_lambda", 1e-3, 10, log=True))
        m = cls(n_estimators=1000, n_jobs=n_jobs, verbose=-1, random_state=seed, **params)
        m.fit(Xa, ya, eval_set=[(Xb, yb)], callbacks=[lgb.early_stopping(50, verbose=False)])
        trial.set_user_attr("rounds", int(m.best_iteration_ or 1000))
        p = m.predict_proba(Xb) if proba else m.predict(Xb)
        return score_fn(yb, p)

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, timeout=budget * 0.8)
    best = study.best_trial
    m = cls(n_estimators=best.user_attrs["rounds"], n_jobs=n_jobs, verbose=-1, random_state=seed, **best.params)
    m.fit(X, y)
    return m.predict_proba(Xt) if proba else m.predict(Xt)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pmlb_dir", type=Path)
    parser.add_argument("--datasets", default=",".join(DEFAULT_DATASETS))
    parser.add_argument("--systems", default="automl-warm,automl-bo,flaml,optuna-lgbm,lgbm-default,constant")
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from sklearn.model_selection import train_test_split
    summary = pd.read_csv(args.pmlb_dir / "summary.csv")
    task_of = {r.dataset: {"binary": "binary", "discrete": "multiclass", "continuous": "regression"}[r.endpoint_type]
               for r in summary.itertuples()}
    systems = args.systems.split(",")
    scores: dict[str, dict[str, float]] = {s: {} for s in systems}
    walls: dict[str, list[float]] = {s: [] for s in systems}
    for name in args.datasets.split(","):
        if name not in task_of:
            print(f"skip {name}: not in summary.csv", file=sys.stderr)
            continue
        X, y, task = load(args.pmlb_dir, name, task_of)
        if task != "regression":
            y = pd.Series(np.unique(y, return_inverse=True)[1], name="target")
        strat = y if task != "regression" else None
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=args.seed, stratify=strat)
        metric, score_fn, _ = metric_of(task)
        line = [f"{name:26s} {task:10s} {metric:8s}"]
        for system in systems:
            try:
                pred, wall = run_system(system, Xtr, ytr, Xte, task, args.budget, args.n_jobs, args.seed, name)
                s = float(score_fn(yte.to_numpy(), pred))
            except Exception as exc:  # a failing system scores as the constant predictor
                print(f"  {system} failed on {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
                s, wall = float("nan"), float("nan")
            scores[system][name] = s
            walls[system].append(wall)
            line.append(f"{system}={s:.4f} ({wall:.1f}s)")
        print("  ".join(line), flush=True)
    frame = pd.DataFrame(scores)
    if "constant" in frame:
        frame = frame.apply(lambda col: col.fillna(frame["constant"]))
    ranks = frame.rank(axis=1, ascending=False, method="average")
    best = frame.max(axis=1)
    const = frame["constant"] if "constant" in frame else frame.min(axis=1)
    norm = frame.sub(const, axis=0).div((best - const).replace(0, np.nan), axis=0)
    print(f"\nbudget {args.budget:.0f}s, n_jobs {args.n_jobs}, {len(frame)} datasets")
    print(f"{'system':16s} {'mean rank':>9s} {'mean norm':>9s} {'W/T/L vs flaml':>15s} {'overrun med':>11s} "
          f"{'overrun max':>11s}")
    for system in systems:
        wtl = "-"
        if "flaml" in frame and system != "flaml":
            diff = frame[system] - frame["flaml"]
            tol = 1e-4
            wtl = f"{(diff > tol).sum()}/{(diff.abs() <= tol).sum()}/{(diff < -tol).sum()}"
        over = [w - args.budget for w in walls[system] if w == w]
        med = statistics.median(over) if over else float("nan")
        mx = max(over) if over else float("nan")
        print(f"{system:16s} {ranks[system].mean():9.2f} {norm[system].mean():9.3f} {wtl:>15s} {med:+11.2f} "
              f"{mx:+11.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
