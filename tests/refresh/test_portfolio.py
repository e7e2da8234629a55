"""Greedy portfolio selection (auto-sklearn 2.0) on synthetic score matrices, and the JSON round trip."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from knowledge_base.portfolio import (build_portfolios, greedy_portfolio, load_portfolio, normalised_regret,
                                      portfolio_document, save_portfolio)


def test_normalised_regret_per_row_with_missing_as_worst():
    losses = np.array([[1.0, 2.0, 3.0], [5.0, np.nan, 5.0]])
    r = normalised_regret(losses)
    np.testing.assert_allclose(r, [[0.0, 0.5, 1.0], [0.0, 1.0, 0.0]])


def test_greedy_picks_complementary_configurations():
    # config 0 is decent everywhere; 1 is best on datasets 0-1, 2 is best on datasets 2-3;
    # {1, 2} together beat anything containing 0, so after the first pick the greedy takes the complement.
    losses = np.array([
        [0.30, 0.10, 0.90, 0.50],
        [0.30, 0.10, 0.90, 0.50],
        [0.30, 0.90, 0.10, 0.50],
        [0.30, 0.90, 0.10, 0.50],
    ])
    steps = greedy_portfolio(losses, size=3)
    chosen = [s.column for s in steps]
    assert chosen[0] == 0  # best single configuration on average
    assert set(chosen[:3]) >= {1, 2}
    assert steps[-1].mean_regret == 0.0  # the set is perfect on every dataset
    assert all(a.mean_regret >= b.mean_regret for a, b in zip(steps, steps[1:]))


def test_greedy_stops_when_nothing_improves_and_respects_size():
    losses = np.array([[0.1, 0.2, 0.3], [0.1, 0.2, 0.3]])
    assert [s.column for s in greedy_portfolio(losses, size=3)] == [0]
    assert len(greedy_portfolio(losses, size=3, stop_when_flat=False)) == 3
    rng = np.random.default_rng(0)
    assert len(greedy_portfolio(rng.random((20, 10)), size=4)) <= 4
    assert greedy_portfolio(np.zeros((0, 0)), size=3) == []


def test_build_save_load_round_trip(tmp_path):
    configs = {f"c{i}": {"family": "lightgbm", "num_leaves": 4 + i} for i in range(3)}
    rows = []
    for d, best in enumerate([0, 1, 2, 1]):
        task = "binary" if d < 2 else "regression"
        for i in range(3):
            rows.append({"fingerprint": f"d{d}", "task": task, "config_id": f"c{i}",
                         "loss": 0.0 if i == best else 1.0 + i})
    built = build_portfolios(pd.DataFrame(rows), configs, size=2)
    assert set(built["portfolios"]) == {"binary", "regression", "any"}
    assert built["portfolios"]["binary"][0] in (configs["c0"], configs["c1"])
    doc = portfolio_document(built, space_version="7", size=2)
    path = save_portfolio(doc, tmp_path / "kb.duckdb.portfolio.json")
    assert json.loads(path.read_text())["format"] == "automl-portfolio"
    assert load_portfolio("binary", "7", path=path) == built["portfolios"]["binary"]
    assert load_portfolio("multiclass", "7", path=path) == built["portfolios"]["any"]  # falls back to "any"
    assert load_portfolio("binary", "8", path=path) == []  # another space version: not used
    assert load_portfolio("binary", "7", path=tmp_path / "missing.json") == []
