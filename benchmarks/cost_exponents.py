"""Fit the scheduler's per-configuration cost model: within each dataset, log(fit seconds) against the log
of each numeric parameter, per family, on a knowledge base's evaluations (default: the bundled seed).

    python benchmarks/cost_exponents.py [--seed-dir knowledge_base/seed] [--min-abs 0.1]

Prints, per family, the number of evaluations, the within-dataset R^2 and the exponents b (a fit takes
``(value / default) ** b`` times the default's seconds). The exponents with |b| >= --min-abs are the ones
written into the families' ``cost_exponents`` (automl/models/*_family.py).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd


def fit(evaluations: pd.DataFrame, configurations: pd.DataFrame) -> dict[str, dict]:
    d = evaluations.merge(configurations[["config_id", "config", "family"]], on="config_id")
    d = d[(d.status == "ok") & (d.fit_seconds > 0.02) & (d.fidelity == 1.0)]
    out = {}
    for family, rows in d.groupby("family"):
        configs = rows.config.map(json.loads)
        names = sorted({k for c in configs for k, v in c.items()
                        if k != "family" and isinstance(v, (int, float)) and not isinstance(v, bool)})
        X = pd.DataFrame({k: np.log(configs.map(lambda c: c.get(k)).astype(float).clip(lower=1e-9)) for k in names},
                         index=rows.index)
        X = X.loc[:, X.std() > 0]
        y = np.log(rows.fit_seconds)
        groups = rows.fingerprint
        Xd = X - X.groupby(groups).transform("mean")  # within-dataset: the data's own size drops out
        yd = y - y.groupby(groups).transform("mean")
        coef, *_ = np.linalg.lstsq(Xd.to_numpy(), yd.to_numpy(), rcond=None)
        r2 = 1 - float(((yd - Xd.to_numpy() @ coef) ** 2).sum() / (yd ** 2).sum())
        out[family] = {"n": len(rows), "r2": r2, "exponents": dict(zip(X.columns, coef.round(2).tolist()))}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed-dir", type=Path, default=Path(__file__).resolve().parents[1] / "knowledge_base" / "seed")
    parser.add_argument("--min-abs", type=float, default=0.1)
    args = parser.parse_args(argv)
    result = fit(pd.read_parquet(args.seed_dir / "evaluations.parquet"),
                 pd.read_parquet(args.seed_dir / "configurations.parquet"))
    for family, r in sorted(result.items()):
        kept = {k: b for k, b in r["exponents"].items() if abs(b) >= args.min_abs}
        print(f"{family:14s} n={r['n']:<5d} R2={r['r2']:.2f} kept={kept} all={r['exponents']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
