"""``automl.prepare``: the one clean -> encode -> describe path; ``kb similar`` sees what a fit records."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import knowledge_base as kb
from automl.data import split_target
from automl.prepare import prepare
from cli import main
from tests.fixtures.tables import make_dataset


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_kb_similar_sees_the_metafeatures_and_fingerprint_a_fit_writes_back(tmp_path):
    frame = make_dataset("multiclass", n=150, seed=4)  # strings, NaN, a date, an ID and a constant column
    frame.loc[:2, "y"] = None  # rows a fit drops
    csv = tmp_path / "d.csv"
    frame.to_csv(csv, index=False)
    store_path = tmp_path / "kb.duckdb"
    kb.open_store(store_path, seed_dir=None)
    fit = invoke("fit", csv, "--target", "y", "--time-budget", 10, "--max-trials", 2, "--include", "linear",
                 "--out", tmp_path / "m", "--kb", store_path, "--json")
    assert fit.exit_code == 0, fit.stderr
    written = kb.open_store(store_path).datasets()
    assert len(written) == 1
    row = written.iloc[0]
    similar = invoke("kb", "similar", csv, "--target", "y", "--kb", store_path, "--json")
    assert similar.exit_code == 0, similar.output
    seen = json.loads(similar.stdout)
    assert seen["fingerprint"] == row["fingerprint"]
    stored = {k: (np.nan if v is None else v) for k, v in dict(row["metafeatures"]).items()}
    shown = {k: (np.nan if v is None else v) for k, v in seen["metafeatures"].items()}
    assert shown == pytest.approx(stored, nan_ok=True)
    table = prepare(*split_target(frame, "y"))
    assert table.fingerprint == row["fingerprint"] and table.n_rows_dropped == 3
    assert seen["neighbours"][0]["fingerprint"] == row["fingerprint"]


def test_prepare_describes_only_when_asked():
    X, y = split_target(make_dataset(n=60, seed=1), "y")
    bare = prepare(X, y, describe=False)
    assert bare.metafeatures is None and bare.fingerprint is None
    described = bare.described()
    assert described.X is bare.X and described.metafeatures is not None
    assert described.fingerprint == prepare(X, y).fingerprint
