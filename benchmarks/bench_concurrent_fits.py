"""Fits on a busy machine: start-up cost per phase, and several `automl fit` commands started at once.

    python benchmarks/bench_concurrent_fits.py [--budgets 10,15,30] [--counts 1,3,6] [--data FILE --target T]
                                               [--shared-kb] [--n-jobs N] [--repeats-startup 3]

(a) CPU and wall seconds per start-up phase of one fit (the median of ``--repeats-startup`` fits run one after
    the other; from ``startup`` in ``--json``): imports (CPU since the process started), load, encode,
    metafeatures, knowledge_base, worker_start (driver thread + fork server), first_trial (the early trial's
    thread).
(b) For every budget and count: ``count`` CLI fits of the same table started together, each with its own copy
    of a freshly seeded knowledge base (``--shared-kb``: all on one store). Per setting: fits that returned a
    validated model (a finite validation score, not the fallback), those whose only finished trial was the
    early one (run in the fitting process while the workers start), median trials, median wall time against the
    budget, fallbacks used, evaluations written, failed commands, and the CPU seconds other processes used
    on the machine meanwhile (a quiet machine shows about 0).

Default table: the bundled example (examples/customers.csv, target churned); ``--data`` takes any table the CLI
reads (a PMLB ``.tsv.gz`` with ``--target target``).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PHASES = ("imports", "load", "encode", "metafeatures", "knowledge_base", "worker_start", "first_trial")


def _machine_busy_seconds() -> float | None:
    """CPU seconds every process on the machine has used since boot (``/proc/stat``); None elsewhere."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _seed_kb(path: Path) -> None:
    """A knowledge base filled from the shipped seed (``automl kb info`` creates it)."""
    subprocess.run([sys.executable, "-m", "cli", "kb", "info", "--kb", str(path)], cwd=REPO, check=True,
                   capture_output=True, text=True)


def _fit_commands(args, budget: float, count: int, tmp: Path, base_kb: Path) -> list[tuple[list[str], Path]]:
    commands = []
    for i in range(count):
        kb = base_kb
        if not args.shared_kb:
            kb = tmp / f"kb-{budget:g}-{count}-{i}.duckdb"
            shutil.copy(base_kb, kb)
        out = tmp / f"model-{budget:g}-{count}-{i}"
        commands.append(([sys.executable, "-m", "cli", "fit", str(args.data), "--target", args.target,
                          "--time-budget", str(budget), "--n-jobs", str(args.n_jobs), "--seed", str(i),
                          "--kb", str(kb), "--out", str(out), "--json", "--quiet"], out))
    return commands


def _run_together(commands) -> tuple[list[tuple[int, float, dict | None]], float | None]:
    """Start every command at once; (exit code, wall seconds, parsed --json) each, and other processes' CPU."""
    busy, ours = _machine_busy_seconds(), _children_cpu()
    start = time.monotonic()
    procs = [subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for cmd, _ in commands]
    results = []
    for proc in procs:
        stdout, _ = proc.communicate()
        wall = time.monotonic() - start
        try:
            summary = json.loads(stdout) if proc.returncode == 0 else None
        except ValueError:
            summary = None
        results.append((proc.returncode, wall, summary))
    after = _machine_busy_seconds()
    others = None if busy is None or after is None else max(0.0, (after - busy) - (_children_cpu() - ours))
    return results, others


def _validated(summary: dict | None) -> bool:
    if summary is None or summary.get("fallback"):
        return False
    score = summary.get("best_score")
    return isinstance(score, (int, float)) and math.isfinite(score)


def _early_only(summary: dict | None) -> bool:
    """The fit's only finished trial is the early one (the leaderboard lists finished trials first)."""
    if summary is None or summary.get("n_trials_ok") != 1 or not summary.get("leaderboard"):
        return False
    return summary["leaderboard"][0].get("origin") == "early"


def startup_table(args, tmp: Path, base_kb: Path) -> None:
    samples: dict[str, list[tuple[float, float]]] = {}
    for rep in range(args.repeats_startup):
        folder = tmp / f"startup-{rep}"
        folder.mkdir()
        [(code, _, summary)], _ = _run_together(_fit_commands(args, args.startup_budget, 1, folder, base_kb))
        if summary is None:
            print(f"start-up fit {rep} failed with exit code {code}", file=sys.stderr)
            continue
        for name, phase in (summary.get("startup") or {}).items():
            samples.setdefault(name, []).append((phase["cpu_seconds"], phase["wall_seconds"]))
    print(f"(a) start-up per phase, one fit at a time (median of {args.repeats_startup}; {args.data.name}, "
          f"budget {args.startup_budget:g} s)")
    print(f"{'phase':16s} {'CPU s':>8s} {'wall s':>8s}")
    names = [p for p in PHASES if p in samples] + [p for p in samples if p not in PHASES]
    for name in names:
        cpu = statistics.median(s[0] for s in samples[name])
        wall = statistics.median(s[1] for s in samples[name])
        print(f"{name:16s} {cpu:8.2f} {wall:8.2f}")
    if samples:
        total = sum(statistics.median(s[0] for s in samples[n]) for n in names)
        print(f"{'total':16s} {total:8.2f}")
    print()


def concurrency_table(args, tmp: Path, base_kb: Path) -> None:
    kb_note = "one shared store" if args.shared_kb else "a copy of the seeded store each"
    print(f"(b) fits started together ({args.data.name}, --n-jobs {args.n_jobs}, knowledge base: {kb_note})")
    header = (f"{'budget':>6s} {'fits':>4s} {'validated':>9s} {'early only':>10s} {'trials':>6s} {'wall/budget':>11s} "
              f"{'fallbacks':>9s} {'written':>7s} {'failed':>6s} {'others CPU s':>12s}")
    print(header)
    for budget in args.budgets:
        for count in args.counts:
            results, others = _run_together(_fit_commands(args, budget, count, tmp, base_kb))
            summaries = [s for _, _, s in results if s is not None]
            validated = sum(_validated(s) for _, _, s in results)
            trials = statistics.median(s["n_trials"] for s in summaries) if summaries else float("nan")
            wall = statistics.median(w for _, w, _ in results)
            fallbacks = sum(1 for s in summaries if s.get("fallback"))
            written = sum(int(s.get("n_evaluations_written") or 0) for s in summaries)
            failed = sum(1 for code, _, _ in results if code != 0)
            early = sum(_early_only(s) for s in summaries)
            print(f"{budget:6g} {count:4d} {validated:5d}/{count:<3d} {early:10d} {trials:6.1f} {wall / budget:11.2f} "
                  f"{fallbacks:9d} {written:7d} {failed:6d} "
                  f"{'n/a' if others is None else f'{others:.1f}':>12s}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", default="10,15,30", help="comma-separated seconds")
    parser.add_argument("--counts", default="1,3,6", help="comma-separated numbers of fits started together")
    parser.add_argument("--data", type=Path, default=REPO / "examples" / "customers.csv")
    parser.add_argument("--target", default="churned")
    parser.add_argument("--n-jobs", type=int, default=1, help="--n-jobs of every fit (the CLI's default: 1)")
    parser.add_argument("--shared-kb", action="store_true", help="every fit on one store instead of a copy each")
    parser.add_argument("--repeats-startup", type=int, default=3)
    parser.add_argument("--startup-budget", type=float, default=10.0)
    parser.add_argument("--skip-startup", action="store_true", help="only the concurrent fits (b)")
    args = parser.parse_args()
    args.data = args.data.resolve()
    args.budgets = [float(b) for b in args.budgets.split(",") if b.strip()]
    args.counts = [int(c) for c in args.counts.split(",") if c.strip()]
    with tempfile.TemporaryDirectory(prefix="bench-concurrent-") as name:
        tmp = Path(name)
        base_kb = tmp / "seed.duckdb"
        _seed_kb(base_kb)
        if not args.skip_startup:
            startup_table(args, tmp, base_kb)
        concurrency_table(args, tmp, base_kb)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
