"""How the cost grows with the data: `automl fit` on generated tables of 10^4 .. 10^6 rows x 50 columns.

    python benchmarks/bench_scale.py --sizes 10000,100000,1000000 --budgets 60,300 [--cluster local]
    python benchmarks/bench_scale.py --sizes 1000000 --budgets 60 --per-process   # where the memory goes
    python benchmarks/bench_scale.py --sizes 1000000 --budgets 60,300 --memory-limit 3x   # the fits' memory limit

The tables come from ``make_scale_table.py`` (binary target, 40 numbers + 10 categories of 2 to 2,000 values,
3 % missing cells, a held-out test split). Each fit runs as a subprocess (`automl fit --json`, ``--n-jobs``
workers, ``--kb`` pointing at a fresh temporary store seeded from the bundled knowledge base); the proportional
set size (PSS: shared pages divided among the processes sharing them) of its whole process tree is sampled
every 0.2 s. Printed per (size, budget): wall / budget, peak summed PSS, the table's size in memory (pandas,
deep, as read from Parquet), their ratio, trials done, the fit's validation score, and the test ROC AUC of our
model and of LightGBM's defaults fitted on the same training rows; then whether the targets are met (inside
budget + max(2 s, 5 %); peak PSS at most 3 x the table; at 10^6 rows better than LightGBM's defaults).
``--per-process`` adds each process's peak PSS (driver, workers, fork server, Dask scheduler/nanny).
Wall times and trial counts depend on the machine's load (printed as the 1-minute load average); memory does not.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_scale_table import TARGET, memory_bytes, write_table  # noqa: E402

SAMPLE_SECONDS = 0.2  # PSS sampling period of the fit's process tree
MEMORY_TARGET = 3.0  # peak summed PSS at most this many times the table's size in memory
SCORE_TARGET_ROWS = 1_000_000  # from this size on, our test score must beat LightGBM's defaults


@dataclass
class MemoryTrace:
    """Peak of the summed PSS over the samples, and each process's own peak (pid -> (role, bytes))."""

    peak: int = 0
    per_process: dict[int, tuple[str, int]] = field(default_factory=dict)
    samples: int = 0
    at_peak: dict[str, int] = field(default_factory=dict)  # role -> summed PSS in the sample of the peak
    timeline: list[tuple[float, dict[str, int]]] = field(default_factory=list)  # (seconds, role -> PSS)


def _role(proc) -> str:
    try:
        cmd = " ".join(proc.cmdline())
    except Exception:
        return "?"
    if "forkserver" in cmd:
        return "fork server"
    if "resource_tracker" in cmd:
        return "resource tracker"
    if "spawn_main" in cmd or "multiprocessing" in cmd:
        return "worker"
    return "driver" if "cli" in cmd or "automl" in cmd else cmd[:40]


def _sample(root_pid: int, trace: MemoryTrace, stop: threading.Event) -> None:
    import psutil
    try:
        root = psutil.Process(root_pid)
    except psutil.NoSuchProcess:
        return
    roles: dict[int, str] = {}
    start = time.monotonic()
    while not stop.is_set():
        total = 0
        by_role: dict[str, int] = {}
        try:
            procs = [root] + root.children(recursive=True)
        except psutil.NoSuchProcess:
            break
        for proc in procs:
            try:
                pss = proc.memory_full_info().pss
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            total += pss
            if proc.pid not in roles:
                role = "driver" if proc.pid == root_pid else _role(proc)
                try:  # children of the fork server are the workers it forked
                    if role == "fork server" and roles.get(proc.ppid()) == "fork server":
                        role = "worker"
                except psutil.NoSuchProcess:
                    pass
                roles[proc.pid] = role
            old = trace.per_process.get(proc.pid, ("", 0))[1]
            trace.per_process[proc.pid] = (roles[proc.pid], max(old, pss))
            by_role[roles[proc.pid]] = by_role.get(roles[proc.pid], 0) + pss
        if total > trace.peak:
            trace.peak, trace.at_peak = total, by_role
        trace.timeline.append((time.monotonic() - start, by_role))
        trace.samples += 1
        stop.wait(SAMPLE_SECONDS)


def run_fit(train: Path, budget: float, out: Path, kb: Path, n_jobs: int, cluster: str | None,
            seed: int, extra: tuple[str, ...] = ()) -> tuple[dict | None, float, MemoryTrace, str]:
    """`automl fit` as a subprocess (``extra``: more of its options); (summary or None, wall seconds, memory trace,
    stderr tail)."""
    cmd = [sys.executable, "-c", "import cli; cli.main()", "fit", str(train), "--target", TARGET,
           "--time-budget", str(budget), "--out", str(out), "--kb", str(kb), "--n-jobs", str(n_jobs),
           "--seed", str(seed), "--json", "--quiet", *extra]
    if cluster:
        cmd += ["--cluster", cluster]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    trace = MemoryTrace()
    stop = threading.Event()
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    sampler = threading.Thread(target=_sample, args=(proc.pid, trace, stop), daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.monotonic() - start
    stop.set()
    sampler.join()
    try:
        summary = json.loads(stdout) if proc.returncode == 0 else None
    except json.JSONDecodeError:
        summary = None
    return summary, wall, trace, stderr[-2000:]


def memory_option(limit: str | None, table: int) -> tuple[str, ...]:
    """``automl fit``'s ``--memory-limit`` for ``limit``: a size as given, or ``Nx``, N times the table's bytes."""
    if limit is None:
        return ()
    if limit.lower().endswith("x"):
        return ("--memory-limit", f"{int(float(limit[:-1]) * table)}B")
    return ("--memory-limit", limit)


def _features(frame: pd.DataFrame, categories: dict | None = None) -> tuple[pd.DataFrame, dict]:
    """LightGBM's input: text columns as pandas categories (the training rows' categories, reused for the test)."""
    X = frame.drop(columns=[TARGET])
    categories = categories or {c: sorted(X[c].dropna().unique()) for c in X.columns if X[c].dtype.kind not in "fiub"}
    for c, cats in categories.items():
        X[c] = pd.Categorical(X[c], categories=cats)
    return X, categories


def test_scores(train: Path, test: Path, model_dir: Path, seed: int) -> tuple[float, float]:
    """Test ROC AUC of the saved model and of LightGBM's defaults fitted on the same training rows."""
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score

    from automl import AutoML
    test_frame = pd.read_parquet(test)
    y_test = (test_frame[TARGET] == "yes").to_numpy()
    model = AutoML.load(model_dir)
    positive = list(model.classes_).index("yes")
    ours = roc_auc_score(y_test, model.predict_proba(test_frame.drop(columns=[TARGET]))[:, positive])
    del model
    train_frame = pd.read_parquet(train)
    X, categories = _features(train_frame)
    y = (train_frame[TARGET] == "yes").to_numpy()
    del train_frame
    baseline = lgb.LGBMClassifier(random_state=seed, verbose=-1).fit(X, y)
    del X
    X_test, _ = _features(test_frame, categories)
    theirs = roc_auc_score(y_test, baseline.predict_proba(X_test)[:, 1])
    return float(ours), float(theirs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--budgets", default="60")
    parser.add_argument("--cluster", default=None, help="also run every fit with --cluster (e.g. 'local')")
    parser.add_argument("--n-jobs", type=int, default=2, help="workers per fit (local pool or Dask workers)")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "automl-scale",
                        help="generated tables are written here once and reused")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-process", action="store_true", help="print each process's peak PSS")
    parser.add_argument("--no-baseline", action="store_true", help="skip the test scores (ours and LightGBM's)")
    parser.add_argument("--memory-limit", default=None, metavar="SIZE",
                        help="the fits' --memory-limit: a size (4GB) or a multiple of the table in memory (3x)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    budgets = [float(b) for b in args.budgets.split(",")]
    runners = [None] + ([args.cluster] if args.cluster else [])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            train, test = write_table(n, args.data_dir, args.seed)
            table = memory_bytes(train)
            for budget in budgets:
                for cluster in runners:
                    label = f"dask:{cluster}" if cluster else "local"
                    out = Path(tmp) / f"model-{n}-{budget:g}-{label.replace(':', '-')}"
                    kb = Path(tmp) / f"kb-{n}-{budget:g}-{label.replace(':', '-')}.duckdb"  # fresh, seeded store
                    load = os.getloadavg()[0]
                    summary, wall, trace, err = run_fit(train, budget, out, kb, args.n_jobs, cluster, args.seed,
                                                        memory_option(args.memory_limit, table))
                    ours = theirs = float("nan")
                    if summary is None:  # (its memory and wall time are still measured)
                        print(f"fit failed on {n} rows, {budget:g}s ({label}): {err.strip().splitlines()[-1:]}",
                              file=sys.stderr)
                    elif not args.no_baseline:
                        ours, theirs = test_scores(train, test, out, args.seed)
                    rows.append({"rows": n, "budget": budget, "runner": label, "wall": wall, "peak": trace.peak,
                                 "table": table, "trials": summary["n_trials"] if summary else -1,
                                 "valid": summary["best_score"] if summary else float("nan"),
                                 "ours": ours, "lgbm": theirs, "load": load, "trace": trace})
                    _print_row(rows[-1], header=len(rows) == 1)
                    if args.per_process:
                        _print_processes(trace)
    print()
    print("targets: wall <= budget + max(2 s, 5 %); peak PSS <= 3 x table; test AUC > LightGBM defaults at 10^6 rows")
    for r in rows:
        slack = max(2.0, 0.05 * r["budget"])
        in_time = r["wall"] <= r["budget"] + slack
        in_memory = r["peak"] <= MEMORY_TARGET * r["table"]
        beats = r["ours"] > r["lgbm"] if r["rows"] >= SCORE_TARGET_ROWS else None
        print(f"{r['rows']:>9,d} {r['budget']:>5.0f}s {r['runner']:12s} time {'ok' if in_time else 'MISSED':6s} "
              f"memory {'ok' if in_memory else 'MISSED':6s} score "
              f"{'-' if beats is None else ('ok' if beats else 'MISSED')}")
    return 0


def _print_processes(trace: MemoryTrace) -> None:
    """Each process's own peak, the split by role in the sample of the summed peak, and a coarse timeline."""
    for pid, (role, pss) in sorted(trace.per_process.items(), key=lambda kv: -kv[1][1]):
        if pss > 20 * 2**20:
            print(f"      pid {pid:>7d} {role:17s} own peak PSS {pss / 2**20:8.1f} MiB")
    print("      at the summed peak: " + ", ".join(f"{role} {pss / 2**20:.0f} MiB"
                                                    for role, pss in sorted(trace.at_peak.items(), key=lambda kv: -kv[1])))
    step = max(1, len(trace.timeline) // 15)
    for seconds, by_role in trace.timeline[::step]:
        print(f"      t={seconds:6.1f}s " + ", ".join(f"{role} {pss / 2**20:.0f}" for role, pss in sorted(by_role.items())))


def _print_row(r: dict, header: bool) -> None:
    if header:
        print(f"{'rows':>9s} {'budget':>6s} {'runner':12s} {'wall':>7s} {'wall/b':>6s} {'peak PSS':>10s} "
              f"{'table':>9s} {'ratio':>5s} {'trials':>6s} {'valid':>7s} {'test':>7s} {'lgbm':>7s} {'load':>5s}")
    print(f"{r['rows']:>9,d} {r['budget']:>5.0f}s {r['runner']:12s} {r['wall']:>6.1f}s {r['wall'] / r['budget']:>6.2f} "
          f"{r['peak'] / 2**20:>7.0f}MiB {r['table'] / 2**20:>6.0f}MiB {r['peak'] / r['table']:>5.2f} "
          f"{r['trials']:>6d} {r['valid']:>7.4f} {r['ours']:>7.4f} {r['lgbm']:>7.4f} {r['load']:>5.1f}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
