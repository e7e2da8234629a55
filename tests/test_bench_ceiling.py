"""bench_ceiling's plan and report (issue #30 part 2): which fits a resumed run repeats, the gap to the ceiling
and the two targets. No fit runs here."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def _row(dataset, task, metric, seed, system, budget, score):
    return {"dataset": dataset, "seed": seed, "system": system, "budget": float(budget), "task": task,
            "metric": metric, "score": score, "wall": float(budget), "n_trials": 1}


def test_relative_gain_reads_as_percent_of_the_reference_for_scores_and_negated_losses():
    from paired import relative_gain
    gain = relative_gain([0.891, -1.01, -2.0, 0.5], [0.9, -1.0, -2.0, 0.0])
    assert gain == pytest.approx([-0.01, -0.01, 0.0, 0.5])  # AUC 1 % lower, loss 1 % higher, equal, |ref| = 0


def test_plan_skips_the_fits_an_earlier_run_holds():
    from bench_ceiling import CEILING, OURS, plan
    done = pd.DataFrame([_row("a", "binary", "roc_auc", 0, CEILING, 600, 0.9),
                         _row("a", "binary", "roc_auc", 0, OURS, 10, 0.8)])
    jobs = plan(["a"], [0, 1], [10.0, 60.0], 600.0, done)
    assert [(j["seed"], j["system"], j["budget"]) for j in jobs] == \
        [(0, OURS, 60.0), (1, CEILING, 600.0), (1, OURS, 10.0), (1, OURS, 60.0)]
    assert len(plan(["a"], [0], [10.0], 300.0, done)) == 1  # a ceiling of another budget is not reused


def test_gaps_pair_each_split_with_its_ceiling_and_the_targets_read_them():
    from bench_ceiling import CEILING, OURS, gaps, per_dataset, report, target_lines
    rows = []
    for seed, (ceiling, at60, at300) in enumerate([(0.90, 0.90, 0.90), (0.80, 0.84, 0.80)]):
        rows += [_row("auc", "binary", "roc_auc", seed, CEILING, 600, ceiling),
                 _row("auc", "binary", "roc_auc", seed, OURS, 60, at60),
                 _row("auc", "binary", "roc_auc", seed, OURS, 300, at300)]
    rows += [_row("rmse", "regression", "rmse", 0, system, budget, score)
             for system, budget, score in [(CEILING, 600, -2.0), (OURS, 60, -1.9), (OURS, 300, -2.03),
                                           (CEILING, 30, -9.0)]]  # a ceiling at another budget: not read
    rows.append(_row("lonely", "binary", "roc_auc", 0, OURS, 60, 0.7))  # no ceiling: not paired
    paired = gaps(pd.DataFrame(rows), [60.0, 300.0], 600.0)
    assert len(paired) == 6 and set(paired["dataset"]) == {"auc", "rmse"}
    table = per_dataset(paired).set_index(["dataset", "budget"])
    assert table.at[("auc", 60.0), "gap"] == pytest.approx((0 + 0.05) / 2)  # the mean over seeds
    assert table.at[("rmse", 60.0), "gap"] == pytest.approx(0.05)  # RMSE 5 % below the ceiling's
    assert table.at[("rmse", 300.0), "gap"] == pytest.approx(-0.015)
    lines = target_lines(per_dataset(paired))
    assert lines[0].startswith("target at 60s") and ": met (median gap +3.75 % over 2 datasets)" in lines[0]
    assert ": NOT met (min gap -1.50 %" in lines[1]
    assert "not measured" in target_lines(per_dataset(paired[paired["budget"] == 60.0]))[1]
    text = "\n".join(report(paired, [60.0, 300.0]))
    assert "W/T/L 2/1/0" in text and "W/T/L 0/2/1" in text and "regression" in text and np.isfinite(paired["gap"]).all()
