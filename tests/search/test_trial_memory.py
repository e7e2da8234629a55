"""The memory plan: sizes the user gives, the columns a trial's preprocessing makes, the peak a worker measures, and
a search that keeps the trials running at once within its memory limit (real workers, real trials)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl import AutoMLClassifier
from automl.deadline import Deadline
from automl.exceptions import InputError
from automl.models import REGISTRY
from automl.models.registry import MEMORY_FIXED_BYTES
from automl.search import optimize
from automl.search.history import EARLY
from automl.search.core import SearchCore
from automl.search.trial_memory import (UNLIMITED, MemoryPlan, PeakMeter, TableWidths, fixed_bytes,
                                        parse_memory_limit, table_bytes)
from tests.search.conftest import make_problem

MIB = 1 << 20


@pytest.mark.parametrize("value, expected", [("1.5GB", 1.5 * 1024 * MIB), ("800MiB", 800 * MIB), ("512M", 512 * MIB),
                                             (2, 2048 * MIB), ("2", 2048 * MIB), ("3000000B", 3_000_000),
                                             (" 1 gib ", 1024 * MIB), (None, None)])
def test_memory_sizes_in_binary_units_and_a_bare_number_is_gib(value, expected):
    assert parse_memory_limit(value) == expected


@pytest.mark.parametrize("value", ["lots", "", "0GB", "-1G", "nan", "inf", "1B", "512KB", True, "4 GB extra"])
def test_a_malformed_or_tiny_memory_size_is_bad_input_naming_the_option(value):
    with pytest.raises(InputError, match="--memory-limit must be a memory size of at least 1 MiB"):
        parse_memory_limit(value, "--memory-limit")


def test_a_bad_memory_limit_parameter_is_refused_before_the_fit():
    frame = make_frame()
    with pytest.raises(InputError, match="'memory_limit' parameter"):
        AutoMLClassifier(time_budget=5, memory_limit="big", write_back=False, warm_start=False).fit(
            frame.drop(columns="y"), frame["y"])


def make_frame(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    x[::7] = np.nan
    return pd.DataFrame({"x": x, "z": rng.normal(size=n),
                         "c": pd.Categorical([f"v{i % 50}" for i in range(n)]), "y": (rng.random(n) > 0.5)})


def test_the_dense_families_width_counts_one_hot_columns_and_missing_indicators():
    widths = TableWidths.of(make_frame().drop(columns="y"))
    assert (widths.columns, widths.numeric, widths.with_missing) == (3, 2, 1)
    assert widths.dense(30) == 2 + 1 + 31  # 50 categories and missing, one-hot up to 30 and the rest grouped
    assert widths.dense(max_categories=4) == 2 + 1 + 5


def plan(limit=UNLIMITED, fixed=0, deterministic=False, columns=10) -> MemoryPlan:
    widths = TableWidths(columns, columns, 0, ())
    return MemoryPlan([REGISTRY.get("lightgbm"), REGISTRY.get("linear")], widths, train_rows=80_000,
                      valid_rows=20_000, all_rows=100_000, limit=limit, fixed=fixed, deterministic=deterministic)


def test_estimates_grow_with_rows_and_a_refit_fits_every_row():
    p, config = plan(), REGISTRY.get("lightgbm").default_config("binary")
    assert p.trial_bytes(config, 1 / 9) < p.trial_bytes(config, 1 / 3) < p.trial_bytes(config, 1.0)
    assert p.refit_bytes(config) == p.trial_bytes(config, 1.0)  # every row fitted, or fitted and scored
    assert plan(columns=20).refit_bytes(config) > p.refit_bytes(config)


def test_a_job_alone_always_starts_and_beside_others_only_within_the_budget():
    p = plan(limit=1000 * MIB, fixed=400 * MIB)
    assert p.admits(5000 * MIB, [])  # alone: the search must progress
    assert p.admits(300 * MIB, [300 * MIB])
    assert not p.admits(301 * MIB, [300 * MIB])


def test_a_measured_peak_above_the_estimate_raises_the_familys_estimates_at_its_fidelity_never_lowers_them():
    p, config = plan(), REGISTRY.get("lightgbm").default_config("binary")
    linear = REGISTRY.get("linear").default_config("binary")
    third, full, refit, linear_third = (p.trial_bytes(config, 1 / 3), p.trial_bytes(config, 1.0),
                                        p.refit_bytes(config), p.trial_bytes(linear, 1 / 3))
    p.observe(config, 1 / 3, int(3 * third))
    assert p.trial_bytes(config, 1 / 3) == pytest.approx(3 * third)
    assert (p.trial_bytes(config, 1.0), p.refit_bytes(config)) == (full, refit)  # (few rows' fixed cost)
    assert p.trial_bytes(linear, 1 / 3) == linear_third  # another family's estimate is its own
    p.observe(config, 1 / 3, 1)
    assert p.trial_bytes(config, 1 / 3) == pytest.approx(3 * third)
    p.observe(config, 1.0, int(2 * full))
    assert p.refit_bytes(config) == pytest.approx(2 * refit)  # a refit is priced as a full-fidelity trial
    fixed = plan(deterministic=True)
    fixed.observe(config, 1 / 3, int(3 * third))
    assert fixed.trial_bytes(config, 1 / 3) == third  # a deterministic search never depends on a measurement


PEAKS = """
import sys, numpy as np
from automl.search.runner import load_search_data, write_search_data
from automl.search.trial_memory import PeakMeter
mapped = load_search_data(write_search_data({"X": np.arange(40 * 2**20 // 8, dtype=np.float64)}, sys.argv[1]))["X"]
with PeakMeter() as reading:
    assert float(mapped.sum()) > 0  # every page of the 40 MiB file
with PeakMeter() as allocating:
    block = np.ones(60 * 2**20 // 8)
    del block
print(reading.peak_bytes, allocating.peak_bytes)
"""


def test_the_peak_meter_counts_memory_a_job_allocates_not_mapped_table_pages_it_reads(tmp_path):
    # in a process of its own, as a worker: a long-running process may reuse memory it freed without a new peak
    out = subprocess.run([sys.executable, "-c", PEAKS, str(tmp_path)], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    reading, allocating = map(int, out.stdout.split())
    assert allocating > 55 * MIB
    assert reading < 10 * MIB


def overlapping(trials) -> int:
    """Pairs of worker trials whose running times overlap."""
    spans = sorted((t.started, t.ended) for t in trials if t.origin != EARLY)
    return sum(1 for (_, end), (start, _) in zip(spans, spans[1:]) if start < end)


def single_trial_limit(problem, families) -> int:
    """A limit in which the largest trial of ``families`` on ``problem`` fits alone and no two trials fit together."""
    widths = TableWidths.of(problem.X)
    largest = max(REGISTRY.get(f).memory_estimate(len(problem.y), widths.dense(30)) for f in families)
    return fixed_bytes(table_bytes(problem.X), problem.n_jobs) + int(largest)


@pytest.mark.parametrize("limited", [False, True])
def test_trials_that_do_not_fit_the_memory_limit_together_run_one_after_another(limited):
    problem = make_problem("binary", n=400, n_jobs=2, families=("lightgbm", "linear"))
    problem.memory_limit = single_trial_limit(problem, ("lightgbm", "linear")) if limited else None
    overlaps = not limited
    result = optimize(problem, Deadline(120), strategy="bo", max_trials=6)
    trials = [t for t in result.trials if t.origin != EARLY]
    assert len(trials) == 6 and all(t.status == "ok" for t in trials)
    assert (overlapping(trials) > 0) is overlaps
    # every trial measured by its worker; a worker's later trial may reuse memory an earlier one freed (a peak of 0
    # is a true measurement), its first allocates
    assert all(t.details.peak_bytes is not None for t in trials)
    assert max(t.details.peak_bytes for t in trials) > MIB


def test_a_trial_too_large_for_the_limit_alone_is_never_proposed(tmp_path):
    problem = make_problem("binary", n=400, families=("lightgbm", "linear"))
    limit = single_trial_limit(problem, ("lightgbm",))  # LightGBM fits; the linear model's one-hot columns do not
    limited = SearchCore(problem, Deadline(60), "bo", str(tmp_path), max_trials=8, memory_limit=limit)
    assert not limited.memory.fits(limited.memory.trial_bytes(REGISTRY.get("linear").default_config("binary"), 1.0))
    assert set(proposed_families(limited, 8)) == {"lightgbm"}
    assert "were not run; a larger memory_limit runs them" in limited.memory.refusal()
    unlimited = SearchCore(problem, Deadline(60), "bo", str(tmp_path), max_trials=8)
    assert set(proposed_families(unlimited, 8)) == {"lightgbm", "linear"}
    assert unlimited.memory.refusal() is None


def proposed_families(core: SearchCore, n: int) -> list[str]:
    """The families of ``n`` jobs asked for and started."""
    families = []
    for _ in range(n):
        job = core.ask()
        if job is not None:
            families.append(job.config["family"])
            core.start(job)
    return families


def test_the_default_limit_is_a_share_of_this_machine_and_none_on_a_cluster():
    from automl.search.optimizer import search_memory_limit
    from automl.search.runner import MEMORY_SHARE
    from automl.search.trial_memory import machine_memory
    problem = make_problem("binary", n=200)
    assert search_memory_limit(problem, on_cluster=False) == int(MEMORY_SHARE * machine_memory())
    assert search_memory_limit(problem, on_cluster=True) is None
    problem.memory_limit = 3 << 30
    assert search_memory_limit(problem, on_cluster=True) == search_memory_limit(problem, on_cluster=False) == 3 << 30


def test_a_construction_step_counts_the_columns_it_makes():
    p = plan(columns=10)
    linear = REGISTRY.get("linear").default_config("binary")
    splines = {**linear, "construction": "splines", "splines__n_knots": 8}
    nystroem = {**linear, "construction": "nystroem", "nystroem__n_components": 400}
    def rows_part(config):
        return p.trial_bytes(config, 1.0) - MEMORY_FIXED_BYTES

    assert rows_part(splines) == pytest.approx(10 * rows_part(linear))  # each column as 8 + 2 splines
    assert rows_part(nystroem) == pytest.approx(40 * rows_part(linear))  # 400 kernel features of 10 columns
