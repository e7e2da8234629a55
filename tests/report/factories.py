"""Factories for the report tests: synthetic trials and knowledge-base tables (nothing trained)."""
from __future__ import annotations

import numpy as np
import pandas as pd


def make_trial(i, family="lightgbm", score=0.8, fidelity=1.0, origin="random", status="ok", ended=None,
               config_id=None, **extra):
    t = {"trial_id": i, "config": {"family": family, "x": i}, "config_id": config_id or f"c{i:02d}",
         "family": family, "fidelity": fidelity, "origin": origin, "status": status,
         "score": score if status == "ok" else None, "loss": -score if status == "ok" else None,
         "fit_seconds": 0.5, "error": None if status == "ok" else "boom", "started": float(i),
         "ended": float(i + 1) if ended is None else ended, "rung": 0, "extra": {}}
    t.update(extra)
    return t


def kb_tables(n=12, seed=0):
    """(datasets, evaluations, meta-feature names) of a synthetic knowledge base."""
    rng = np.random.default_rng(seed)
    tasks = ["binary", "multiclass", "regression"]
    datasets = pd.DataFrame({"fingerprint": [f"fp{i}" for i in range(n)], "name": [f"d{i}" for i in range(n)],
                             "task": [tasks[i % 3] for i in range(n)],
                             "n_rows": [int(v) for v in rng.choice([150, 5000, 50_000, 200_000], n)],
                             "mf.rows": rng.lognormal(7, 2, n), "mf.cols": rng.lognormal(3, 1, n),
                             "mf.skew": rng.normal(size=n), "mf.const": 1.0,
                             "mf.missing": np.where(rng.uniform(size=n) < 0.3, np.nan, rng.uniform(size=n))})
    rows = []
    for i in range(n):
        for fam, base in (("lightgbm", 0.1), ("linear", 0.2 if i % 2 else 0.05), ("knn", 0.3)):
            rows.append({"fingerprint": f"fp{i}", "family": fam, "metric": "m", "fidelity": 1.0, "status": "ok",
                         "loss": base, "score": -base})
        rows.append({"fingerprint": f"fp{i}", "family": "knn", "metric": "m", "fidelity": 0.1, "status": "ok",
                     "loss": -1.0, "score": 1.0})  # low fidelity: never a winner
        rows.append({"fingerprint": f"fp{i}", "family": "mlp", "metric": "m", "fidelity": 1.0, "status": "failed",
                     "loss": None, "score": None})
    return datasets, pd.DataFrame(rows), ["mf.rows", "mf.cols", "mf.skew", "mf.const", "mf.missing"]
