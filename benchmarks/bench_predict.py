"""Prediction latency and saved-model size: our model (``AutoML.load``) against FLAML's from a fit on the same rows.

    python benchmarks/bench_predict.py --rows 100000 --budget 60 [--flaml]

Fits ``automl fit`` (subprocess, fresh temporary knowledge base seeded from the bundled one) on the generated
table of ``make_scale_table.py`` with ``ROWS`` training rows, then times ``predict_proba`` on 1 row (median of
50 calls) and on 100,000 test rows (median of 3), prints the saved directory's size and the test ROC AUC.
``--flaml`` does the same for FLAML (``pip install "flaml[automl]"``) at the same budget; its model is saved with
pickle. AutoGluon is not run here (it needs its own environment; see benchmarks/requirements.txt).
``--profile`` prints where a 1-row prediction of our model spends its time (cProfile, top functions).
Latencies depend on the machine's load (printed as the 1-minute load average).
"""
from __future__ import annotations

import argparse
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_scale_table import TARGET, write_table  # noqa: E402

SINGLE_CALLS = 50  # 1-row predictions timed (median)
BATCH_CALLS = 3  # 100,000-row predictions timed (median)
BATCH_ROWS = 100_000


def _median_seconds(fn, calls: int) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _batch(test: pd.DataFrame) -> pd.DataFrame:
    """``BATCH_ROWS`` feature rows (the test rows repeated when there are fewer)."""
    X = test.drop(columns=[TARGET])
    while len(X) < BATCH_ROWS:
        X = pd.concat([X, X], ignore_index=True)
    return X.iloc[:BATCH_ROWS].reset_index(drop=True)


def ours(train: Path, test: pd.DataFrame, budget: float, workdir: Path, profile: bool) -> dict:
    from sklearn.metrics import roc_auc_score

    from automl import AutoML
    out = workdir / "ours"
    cmd = [sys.executable, "-c", "import cli; cli.main()", "fit", str(train), "--target", TARGET,
           "--time-budget", str(budget), "--out", str(out), "--kb", str(workdir / "kb.duckdb"), "--quiet", "--json"]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    fit = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if fit.returncode != 0:
        raise SystemExit(f"automl fit failed: {fit.stderr.strip()[-500:]}")
    model = AutoML.load(out)
    positive = list(model.classes_).index("yes")
    X = _batch(test)
    one = X.iloc[:1]
    if profile:
        import cProfile
        import pstats
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(SINGLE_CALLS):
            model.predict_proba(one)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    auc = roc_auc_score(test[TARGET] == "yes", model.predict_proba(test.drop(columns=[TARGET]))[:, positive])
    return {"name": "automl (ours)", "one": _median_seconds(lambda: model.predict_proba(one), SINGLE_CALLS),
            "batch": _median_seconds(lambda: model.predict_proba(X), BATCH_CALLS), "bytes": _dir_bytes(out),
            "auc": auc}


def flaml(train: Path, test: pd.DataFrame, budget: float, workdir: Path) -> dict:
    from flaml import AutoML as FlamlAutoML
    from sklearn.metrics import roc_auc_score
    frame = pd.read_parquet(train)
    automl = FlamlAutoML()
    automl.fit(frame.drop(columns=[TARGET]), frame[TARGET], task="classification", metric="roc_auc",
               time_budget=budget, verbose=0, n_jobs=2)
    path = workdir / "flaml.pkl"
    with open(path, "wb") as fh:
        pickle.dump(automl, fh)
    X = _batch(test)
    one = X.iloc[:1]
    positive = list(automl.classes_).index("yes")
    auc = roc_auc_score(test[TARGET] == "yes", automl.predict_proba(test.drop(columns=[TARGET]))[:, positive])
    return {"name": "FLAML", "one": _median_seconds(lambda: automl.predict_proba(one), SINGLE_CALLS),
            "batch": _median_seconds(lambda: automl.predict_proba(X), BATCH_CALLS), "bytes": path.stat().st_size,
            "auc": auc}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "automl-scale")
    parser.add_argument("--flaml", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    train, test_path = write_table(args.rows, args.data_dir)
    test = pd.read_parquet(test_path)
    load = os.getloadavg()[0]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(ours(train, test, args.budget, Path(tmp), args.profile))
        if args.flaml:
            results.append(flaml(train, test, args.budget, Path(tmp)))
    print(f"\n{args.rows:,} training rows, budget {args.budget:g}s, load average {load:.1f}")
    print(f"{'system':16s} {'1 row (ms)':>11s} {'100k rows (s)':>14s} {'saved (MiB)':>12s} {'test AUC':>9s}")
    for r in results:
        print(f"{r['name']:16s} {r['one'] * 1e3:>11.1f} {r['batch']:>14.2f} {r['bytes'] / 2**20:>12.1f} {r['auc']:>9.4f}")
    print("AutoGluon: not run (needs a separate environment)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
