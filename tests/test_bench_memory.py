"""The memory benchmarks' pieces (issue #28): paired statistics, the cut store, the anytime reach time, last month's
rows and the stacked large tables. No fit runs here."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import knowledge_base as kb
from tests.knowledge_base.factories import VERSION, lgbm, make_metafeatures, record

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def test_compare_counts_pairs_and_tests_the_sign():
    from paired import compare
    stats = compare([0.1, 0.2, 0.3, 0.0, -0.1, float("nan")])
    assert (stats.n, stats.wins, stats.ties, stats.losses) == (5, 3, 1, 1)
    assert stats.p_sign == pytest.approx(0.625)  # 3 of 4 decided pairs, two-sided exact binomial
    assert stats.median == pytest.approx(0.1) and stats.ci[0] <= stats.median <= stats.ci[1]
    assert compare([1.0] * 10).p_sign == pytest.approx(2 / 2 ** 10)
    assert "W/T/L 3/1/1" in stats.line("a - b")


def test_keeping_hides_every_other_named_dataset(tmp_path):
    from leave_out import LeaveOut
    store = kb.open_store(tmp_path / "kb.duckdb", seed_dir=None)
    for i, name in enumerate(("a", "b", "c")):
        record(store, name, float(i), [(lgbm(7), -0.9)])
    view = LeaveOut.keeping(store, ["a", "b"], hide=["b"])
    assert view.names == ("b", "c")
    assert [n.name for n in view.similar(make_metafeatures(0.0), "binary", k=3, metafeatures_version=VERSION)] == ["a"]


def test_time_to_compares_losses_within_one_fidelity():
    from fits import Fit
    fit = Fit(test=0.0, valid=0.0, points=[(1.0, 1 / 3, 0.1), (2.0, 1.0, 0.5), (4.0, 1.0, 0.3), (6.0, 1.0, 0.4)])
    assert fit.top_fidelity == 1.0 and fit.best(1.0) == 0.3 and fit.best(1 / 3) == 0.1
    assert fit.time_to(0.45, 1.0) == 4.0 and fit.time_to(0.5, 1.0) == 2.0 and math.isinf(fit.time_to(0.2, 1.0))
    assert fit.time_to(0.2, 1 / 3) == 1.0 and math.isinf(fit.best(1 / 9))
    assert math.isnan(Fit(test=0.0, valid=0.0).top_fidelity)


def test_last_month_is_sixty_percent_random_or_the_lowest_of_a_column():
    from bench_repeat_fit import last_month
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=100), "k": np.arange(100) % 3})
    y = pd.Series(np.arange(100))
    Xr, yr, column = last_month(X, y, "random", 0)
    assert len(Xr) == 60 and column == "-" and (Xr.index == yr.index).all()
    Xs, ys, column = last_month(X, y, "sorted", 0)
    assert column == "x" and len(Xs) == 60 and Xs["x"].max() <= X["x"].drop(Xs.index).min()


def test_stacked_repeats_rows_with_noise_on_numeric_columns_only():
    from bench_large_tables import stacked
    X = pd.DataFrame({"x": np.linspace(0, 1, 50), "c": pd.Categorical(["a", "b"] * 25)})
    y = pd.Series(np.arange(50) % 2)
    Xs, ys = stacked(X, y, 180, seed=0)
    assert len(Xs) == len(ys) == 180 and (ys.to_numpy() == np.resize(y.to_numpy(), 180)).all()
    assert (Xs["c"].astype(str).to_numpy() == np.resize(X["c"].astype(str).to_numpy(), 180)).all()
    noise = Xs["x"].to_numpy() - np.resize(X["x"].to_numpy(), 180)
    assert 0 < np.abs(noise).max() < 0.2
