"""Budget overrun of `automl fit` (loading and saving included) on PMLB datasets of several sizes.

    python benchmarks/bench_budget.py ../shared/datasets/pmlb --budgets 10,30 --repeats 2

Prints, per dataset and budget, wall time of the whole command and the overrun against the
allowed slack max(2 s, 5 %), then the median and maximum overrun.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT = ["analcatdata_aids", "breast_cancer_wisconsin", "1027_ESL", "phoneme", "197_cpu_act", "mushroom",
           "satimage", "1201_BNG_breastTumor", "connect_4"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pmlb_dir", type=Path)
    parser.add_argument("--datasets", default=",".join(DEFAULT))
    parser.add_argument("--budgets", default="10,30")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    budgets = [float(b) for b in args.budgets.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        kb = Path(tmp) / "kb.duckdb"
        for name in args.datasets.split(","):
            path = args.pmlb_dir / f"{name}.tsv.gz"
            if not path.exists():
                print(f"skip {name}: not found", file=sys.stderr)
                continue
            for budget in budgets:
                for rep in range(args.repeats):
                    out = Path(tmp) / f"{name}-{budget}-{rep}"
                    start = time.monotonic()
                    proc = subprocess.run([sys.executable, "-m", "cli", "fit", str(path), "--target", "target",
                                           "--time-budget", str(budget), "--out", str(out), "--kb", str(kb),
                                           "--n-jobs", str(args.n_jobs), "--json", "--quiet", "--seed", str(rep)],
                                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
                    wall = time.monotonic() - start
                    slack = max(2.0, 0.05 * budget)
                    n_trials = json.loads(proc.stdout)["n_trials"] if proc.returncode == 0 else -1
                    rows.append((name, budget, wall, wall - budget, wall - budget - slack, proc.returncode, n_trials))
                    print(f"{name:28s} budget {budget:5.0f}s  wall {wall:6.2f}s  overrun {wall - budget:+6.2f}s  "
                          f"over slack {wall - budget - slack:+6.2f}s  exit {proc.returncode}  trials {n_trials}",
                          flush=True)
    over = [r[3] for r in rows]
    beyond = [r for r in rows if r[4] > 0]
    print(f"\nruns {len(rows)}; overrun median {statistics.median(over):+.2f}s, max {max(over):+.2f}s; "
          f"runs beyond max(2 s, 5 %): {len(beyond)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
