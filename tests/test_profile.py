"""The training-data profile saved with every model: what it holds, its size and cost, its JSON round trip."""
from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd

import metafeatures
from automl import AutoML
from automl.data import TableEncoder, load_table, split_target
from automl.profile import MAX_CATEGORIES, ColumnKind, DataProfile, compute_profile
from tests.conftest import EXAMPLE


def _wide_table(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """50 columns: 25 numeric, 20 categorical with 300 levels, 5 dates; a binary target."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"num_{i}": rng.normal(i, 1 + i, n) for i in range(25)})
    for i in range(20):
        X[f"cat_{i}"] = rng.choice([f"level_{j}" for j in range(300)], n)
    for i in range(5):
        X[f"date_{i}"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1000, n), unit="D")
    return X, (rng.random(n) < 0.3).astype(int)


def test_profile_is_bounded_cheap_and_round_trips():
    X, y = _wide_table(100_000)
    encoder = TableEncoder().fit(X)
    encoded = encoder.transform(X)
    mf = metafeatures.compute(encoded, y, "binary")
    started = time.perf_counter()
    profile = compute_profile(X, encoder, encoded, y, "binary", metafeatures=mf, fingerprint="f" * 32)
    seconds = time.perf_counter() - started
    assert seconds < 1.0  # ~0.1 s measured on a busy 2-core machine; the bound allows for the load
    text = json.dumps(profile.to_dict())
    assert 2_000 < len(text) < 60_000  # bounded by the column count, not the row count
    assert "level_" in text and not any(f"{v:.6f}" in text for v in X["num_3"].iloc[:50])  # no raw rows
    assert DataProfile.from_dict(json.loads(text)) == profile
    kinds = {c.name: c.kind for c in profile.columns}
    assert kinds["num_0"] is ColumnKind.NUMERIC and kinds["cat_0"] is ColumnKind.CATEGORICAL
    assert kinds["date_0"] is ColumnKind.DATETIME
    num = profile.column("num_0")
    assert len(num.edges) == 9 and np.allclose(num.shares, 0.1, atol=0.01)
    cat = profile.column("cat_0")
    assert len(cat.categories) == MAX_CATEGORIES and 0.5 < cat.other_share < 0.9
    assert abs(sum(cat.shares) + cat.other_share - 1) < 1e-4
    assert profile.n_rows == 100_000 and profile.metafeatures["n_rows_log"] == mf["n_rows_log"]


def test_a_fitted_model_saves_its_training_profile(tmp_path):
    X, y = split_target(load_table(EXAMPLE), "churned")
    model = AutoML(time_budget=30, max_trials=2, write_back=False, warm_start=False).fit(X, y)
    model.save(tmp_path / "model")
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    profile = DataProfile.from_dict(manifest["profile"])
    assert profile == AutoML.load(tmp_path / "model").profile_
    kinds = {c.name: c.kind.value for c in profile.columns}
    assert kinds == {"customer_id": "dropped", "signup_date": "datetime", "plan": "categorical",
                     "city": "categorical", "tenure_months": "numeric", "monthly_spend": "numeric",
                     "support_calls": "numeric", "autopay": "boolean", "country": "dropped"}
    plan = profile.column("plan")
    assert set(plan.categories) == {"basic", "standard", "premium", "family"} and plan.other_share == 0
    assert abs(plan.missing_share - X["plan"].isna().mean()) < 1e-6
    assert profile.n_rows == len(X) and profile.fingerprint
    assert len(profile.metafeatures) == len(metafeatures.FEATURE_NAMES)
    assert "C100565" not in json.dumps(manifest["profile"])  # no raw rows (an ID of the table)
