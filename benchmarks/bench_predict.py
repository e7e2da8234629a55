"""Prediction latency and saved-model size: our model (``AutoML.load``) against FLAML's and AutoGluon's from fits on
the same rows at the same budget and cores.

    python benchmarks/bench_predict.py --rows 100000 --budget 60 --n-jobs 2 \\
        --ag-python /work/peers-venv/bin/python --flaml-python /work/peers-venv/bin/python

Fits ``automl fit`` (subprocess, fresh temporary knowledge base seeded from the bundled one) on the generated
table of ``make_scale_table.py`` with ``ROWS`` training rows, once as it is and once with ``--compact`` (#13; skip
with ``--no-compact``), then times ``predict_proba`` on 1 row (median of 50 calls) and on 100,000 rows (the test
rows repeated, median of 3) and reports the saved directory's size and the test ROC AUC
(``prediction_figures.measure``). Each peer is fitted and measured the same way in its own Python
(``peers/predict_worker.py``; AutoGluon pins its own scikit-learn, FLAML its own XGBoost: see
benchmarks/requirements.txt): ``--flaml-python`` (default ``$FLAML_PYTHON``, else this one) and ``--ag-python``
(default ``$AUTOGLUON_PYTHON``, else this one); a peer its Python cannot import is reported as not run.
The predictions use the fit's ``--n-jobs`` cores (ours: the model's ``n_jobs``; FLAML: ``n_jobs``; AutoGluon:
``num_cpus``). The table ends with same-run ratios, ours over each peer, and the compact model's score as a share of
the full one's. ``--infer-limit SECONDS`` passes that option to our fits. ``--profile`` prints where a 1-row
prediction of our model spends its time (cProfile).
Latencies depend on the machine's load (the 1-minute load average is printed before and after).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_scale_table import TARGET, write_table  # noqa: E402
from prediction_figures import SINGLE_CALLS, PeerJob, PredictionFigures, dir_bytes, measure  # noqa: E402

POSITIVE = "yes"  # the generated table's positive class
PEERS = {"flaml": ("FLAML", "flaml"), "autogluon": ("AutoGluon", "autogluon.tabular")}  # key -> (name, module)
WORKER = Path(__file__).resolve().parent / "peers" / "predict_worker.py"


def fit_ours(train: Path, budget: float, n_jobs: int, workdir: Path, compact: bool,
             infer_limit: float | None = None) -> tuple[Path, float]:
    """``automl fit`` in a subprocess (its own knowledge base copy); the model directory and the fit's wall seconds."""
    out = workdir / ("ours-compact" if compact else "ours")
    cmd = [sys.executable, "-c", "import cli; cli.main()", "fit", str(train), "--target", TARGET, "--time-budget",
           str(budget), "--n-jobs", str(n_jobs), "--out", str(out), "--kb", str(workdir / f"kb-{out.name}.duckdb"),
           "--quiet", "--json", *(["--compact"] if compact else []),
           *(["--infer-limit", str(infer_limit)] if infer_limit is not None else [])]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    start = time.monotonic()
    fit = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if fit.returncode != 0:
        raise SystemExit(f"automl fit failed: {fit.stderr.strip()[-500:]}")
    return out, time.monotonic() - start


def ours(train: Path, test: pd.DataFrame, args, workdir: Path, compact: bool = False) -> PredictionFigures:
    from automl import AutoML
    out, fit_seconds = fit_ours(train, args.budget, args.n_jobs, workdir, compact, args.infer_limit)
    model = AutoML.load(out)
    positive = list(model.classes_).index(POSITIVE)
    X = test.drop(columns=[TARGET])
    if args.profile and not compact:
        _profile(model, X.iloc[:1])
    members = model.model_.members
    kept = (model.fit_info_.get("compact") or {}).get("kept") if compact else None  # single member, or the ensemble
    detail = (f"{f'kept the {kept}: ' if kept else ''}{len(members)} member(s), {sum(len(m) for m in members)} "
              f"model(s): {', '.join(getattr(model.model_, 'families', None) or ['?'])}")
    return measure("automl --compact" if compact else "automl (ours)",
                   lambda frame: model.predict_proba(frame)[:, positive], test, TARGET, POSITIVE, dir_bytes(out),
                   fit_seconds, detail=detail)


def _profile(model, one: pd.DataFrame) -> None:
    import cProfile
    import pstats
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(SINGLE_CALLS):
        model.predict_proba(one)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


def peer(system: str, python: str, train: Path, test_path: Path, args, workdir: Path) -> PredictionFigures | str:
    """The peer's figures, measured in ``python`` by ``peers/predict_worker.py``, or why it was not run."""
    name, module = PEERS[system]
    if subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode != 0:
        return f"{name}: not run ({module} cannot be imported by {python})"
    d = workdir / system
    d.mkdir()
    (d / "train.parquet").symlink_to(train)
    (d / "test.parquet").symlink_to(test_path)
    job = PeerJob(system=system, target=TARGET, positive=POSITIVE, budget=args.budget, n_jobs=args.n_jobs)
    (d / "job.json").write_text(json.dumps(job.as_dict()))
    done = subprocess.run([python, str(WORKER), str(d)], capture_output=True, text=True, timeout=args.budget * 4 + 900)
    if done.returncode != 0:
        return f"{name}: failed ({done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'no message'})"
    return PredictionFigures(**json.loads((d / "result.json").read_text()))


def print_table(results: list[PredictionFigures], notes: list[str], args, loads: tuple[float, float]) -> None:
    print(f"\n{args.rows:,} training rows, budget {args.budget:g}s, {args.n_jobs} core(s); "
          f"load average {loads[0]:.1f} before, {loads[1]:.1f} after")
    print(f"{'system':18s} {'1 row (ms)':>11s} {'100k rows (s)':>14s} {'saved (MiB)':>12s} {'test AUC':>9s} "
          f"{'fit (s)':>8s}  final model")
    for r in results:
        print(f"{r.name:18s} {r.one * 1e3:>11.1f} {r.batch:>14.2f} {r.bytes / 2**20:>12.2f} {r.auc:>9.4f} "
              f"{r.fit_seconds:>8.1f}  {r.detail}")
    ours_, others = results[0], results[1:]
    for r in others:
        label = "compact/full" if r.name.startswith("automl") else f"ours/{r.name}"
        base, other = (r, ours_) if label == "compact/full" else (ours_, r)
        print(f"{label:18s} {base.one / other.one:>10.2f}x {base.batch / other.batch:>13.2f}x "
              f"{base.bytes / other.bytes:>11.2f}x {100 * base.auc / other.auc:>8.2f}%")
    for note in notes:
        print(note)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--n-jobs", type=int, default=len(os.sched_getaffinity(0)),
                        help="cores of every fit and its predictions (default: every core this process may use)")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "automl-scale")
    parser.add_argument("--peers", default="flaml,autogluon", help="comma-separated: flaml, autogluon (or none)")
    parser.add_argument("--flaml-python", default=os.environ.get("FLAML_PYTHON", sys.executable))
    parser.add_argument("--ag-python", "--autogluon-python", dest="ag_python",
                        default=os.environ.get("AUTOGLUON_PYTHON", sys.executable))
    parser.add_argument("--no-compact", action="store_true", help="do not fit and measure the --compact model")
    parser.add_argument("--infer-limit", type=float, default=None,
                        help="our fits' --infer-limit (seconds per row; default: none)")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    systems = [s for s in args.peers.split(",") if s and s != "none"]
    unknown = [s for s in systems if s not in PEERS]
    if unknown:
        parser.error(f"unknown peer(s) {', '.join(unknown)}; choose among {', '.join(PEERS)}")
    train, test_path = write_table(args.rows, args.data_dir)
    test = pd.read_parquet(test_path)
    load_before = os.getloadavg()[0]
    results, notes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(ours(train, test, args, Path(tmp)))
        if not args.no_compact:
            results.append(ours(train, test, args, Path(tmp), compact=True))
        for system in systems:
            python = args.flaml_python if system == "flaml" else args.ag_python
            got = peer(system, python, train.resolve(), test_path.resolve(), args, Path(tmp))
            (notes.append(got) if isinstance(got, str) else results.append(got))
    print_table(results, notes, args, (load_before, os.getloadavg()[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
