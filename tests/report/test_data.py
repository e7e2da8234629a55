"""Figure data: pure functions tested on synthetic trials and predictions (nothing is trained)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from automl.report import data as D
from tests.report.factories import kb_tables as _kb_tables
from tests.report.factories import make_trial


@pytest.fixture
def trials():
    return [
        make_trial(0, "lightgbm", 0.80, origin="kb"),
        make_trial(1, "linear", 0.70, origin="portfolio"),
        make_trial(2, "lightgbm", 0.95, fidelity=0.25, origin="surrogate"),  # low fidelity: not a best
        make_trial(3, "knn", 0.00, origin="random", status="failed"),
        make_trial(4, "extra_trees", 0.85, origin="surrogate"),
        make_trial(5, "lightgbm", 0.83, origin="promoted"),
        make_trial(6, "linear", 0.84, origin="random"),
    ]


def test_anytime_curve_best_so_far_counts_only_full_fidelity(trials):
    curve = D.anytime_curve(trials, greater_is_better=True)
    assert [b["score"] for b in curve["best"]] == [0.80, 0.85]
    assert [b["time"] for b in curve["best"]] == [1.0, 5.0]
    assert curve["full_fidelity"] == 1.0
    assert curve["time_to_best"] == 5.0 and curve["final_best"] == 0.85
    assert len(curve["points"]) == 6 and len(curve["failed"]) == 1
    assert {p["fidelity"] for p in curve["points"]} == {1.0, 0.25}
    assert curve["failed"][0]["status"] == "failed"
    assert curve["time_axis"] == "seconds since the search began"


def test_anytime_curve_lower_is_better_uses_losses():
    trials = [make_trial(i, score=s) for i, s in enumerate([3.0, 2.0, 2.5, 1.0])]
    for t in trials:  # rmse-like: the loss is the score
        t["loss"] = t["score"]
    curve = D.anytime_curve(trials, greater_is_better=False)
    assert [b["score"] for b in curve["best"]] == [3.0, 2.0, 1.0]


def test_anytime_curve_of_an_older_model_without_times_or_losses():
    old = [{"config": {"family": "linear"}, "score": s, "fit_seconds": 2.0} for s in (0.6, 0.7, 0.65)]
    curve = D.anytime_curve(old, greater_is_better=True)
    assert curve["time_axis"] == "cumulative trial seconds"
    assert [b["time"] for b in curve["best"]] == [2.0, 4.0]
    assert [p["family"] for p in curve["points"]] == ["linear"] * 3
    assert curve["points"][0]["origin"] == "unknown"


def test_anytime_curve_without_trials_is_empty():
    for empty in (None, []):
        curve = D.anytime_curve(empty)
        assert curve["points"] == [] and curve["best"] == [] and curve["n_trials"] == 0


def test_family_scores(trials):
    fam = D.family_scores(trials, greater_is_better=True)
    assert list(fam["family"]) == ["extra_trees", "linear", "lightgbm", "knn"]  # best first, failed-only last
    row = fam.set_index("family").loc["lightgbm"]
    assert row["n_trials"] == 3 and row["n_ok"] == 3 and row["n_full_fidelity"] == 2
    assert row["best_score"] == 0.83  # the 0.95 at fidelity 0.25 does not count
    assert row["median_score"] == pytest.approx(0.815)
    knn = fam.set_index("family").loc["knn"]
    assert knn["n_failed"] == 1 and math.isnan(knn["best_score"])
    assert D.family_scores([]).empty


def test_ensemble_members_and_leaderboard_marks(trials):
    members = D.ensemble_members([("c04", 0.6), ("c06", 0.4)], trials)
    assert list(members["family"]) == ["extra_trees", "linear"]
    assert list(members["score"]) == [0.85, 0.84]
    board = pd.DataFrame([{"config_id": t["config_id"], "fidelity": t["fidelity"], "score": t["score"]}
                          for t in trials])
    marked = D.leaderboard_frame(board, [("c04", 0.6), ("c02", 0.4)])
    weights = dict(zip(marked["config_id"], marked["ensemble_weight"]))
    assert weights["c04"] == 0.6 and weights["c02"] == 0.0  # c02 ran at a lower fidelity only
    assert marked.index.name == "rank" and marked.index[0] == 1
    # an ensemble recorded by an older model without trials still names the single best family
    solo = D.ensemble_members([["abc", 1.0]], [], best_config={"family": "knn"})
    assert solo.iloc[0]["family"] == "knn" and math.isnan(solo.iloc[0]["score"])


def test_config_summary():
    text = D.config_summary({"family": "lightgbm", "learning_rate": 0.012345, "num_leaves": 31})
    assert text == "learning_rate=0.0123, num_leaves=31"
    assert D.config_summary('{"family": "knn", "k": 5}') == "k=5"
    assert len(D.config_summary({"family": "x", **{f"p{i}": i for i in range(50)}}, width=40)) == 40


def test_neighbours_frame_sorted_and_flat():
    frame = D.neighbours_frame([{"fingerprint": "b", "distance": 0.9, "metafeatures": {"a": 1}},
                                {"fingerprint": "a", "name": "iris", "distance": 0.1, "task": "multiclass"}])
    assert list(frame["fingerprint"]) == ["a", "b"]
    assert "metafeatures" not in frame.columns and list(frame.columns[:2]) == ["name", "fingerprint"]
    assert D.neighbours_frame([]).empty


def test_warm_start_trials_joins_by_config_id():
    from knowledge_base.canonical import config_id
    config = {"family": "linear", "C": 1.0}
    cid = config_id(config)
    trials = [make_trial(0, "linear", 0.7, config_id=cid, fidelity=0.5, origin="kb"),
              make_trial(1, "linear", 0.75, config_id=cid, fidelity=1.0, origin="promoted")]
    ws = D.warm_start_trials(trials, [{"config": config, "origin": "kb", "explanation": "best on iris"},
                                      {"config": {"family": "knn"}, "origin": "kb"}])
    assert ws.iloc[0]["score"] == 0.75 and ws.iloc[0]["fidelity"] == 1.0
    assert ws.iloc[0]["origin"] == "knowledge base" and ws.iloc[0]["explanation"] == "best on iris"
    assert math.isnan(ws.iloc[1]["score"])


def test_encode_labels_matches_text_and_flags_unknown():
    codes, known = D.encode_labels(pd.Series([1, 0, "1", 2.0, None]), np.array(["0", "1"], dtype=object))
    assert codes.tolist()[:3] == [1, 0, 1] and known.tolist() == [True, True, True, False, False]


def test_confusion_data():
    c = D.confusion_data([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], ["a", "b", "c"])
    assert c["matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert c["rates"][0] == [0.5, 0.5, 0.0] and c["accuracy"] == pytest.approx(0.6) and c["n"] == 5


def test_calibration_binary_and_multiclass():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=4000)
    y = (rng.uniform(size=4000) < p).astype(int)  # perfectly calibrated by construction
    cal = D.calibration_data(y, np.column_stack([1 - p, p]), n_bins=10)
    assert cal["kind"] == "positive class" and len(cal["bins"]) == 10
    assert sum(b["count"] for b in cal["bins"]) == 4000
    assert cal["ece"] < 0.05 and 0.1 < cal["brier"] < 0.25
    for b in cal["bins"]:
        assert abs(b["mean_predicted"] - b["observed"]) < 0.08
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
    multi = D.calibration_data([0, 0, 2], proba, n_bins=5)
    assert multi["kind"] == "top-label confidence" and "brier" not in multi
    assert sum(b["count"] for b in multi["bins"]) == 3


def test_residuals_data_summary_and_cap():
    y = np.arange(100, dtype=float)
    r = D.residuals_data(y, y + 1.0, max_points=10)
    assert r["rmse"] == pytest.approx(1.0) and r["mae"] == pytest.approx(1.0) and r["bias"] == pytest.approx(-1.0)
    assert r["n"] == 100 and len(r["actual"]) == 10 and all(v == -1.0 for v in r["residual"])
    assert r["r2"] == pytest.approx(1 - 100 / np.sum((y - y.mean()) ** 2))


def test_permutation_importance_finds_the_signal_and_respects_time():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"signal": rng.normal(size=300), "noise": rng.normal(size=300),
                      "cat": rng.choice(["a", "b"], 300)})
    target = X["signal"].to_numpy() * 2

    def neg_mse(frame):
        return -float(np.mean((frame["signal"].to_numpy() * 2 - target) ** 2))
    imp = D.permutation_importance(neg_mse, X, greater_is_better=True, n_repeats=2, seed=1)
    assert list(imp["feature"])[0] == "signal" and imp.iloc[0]["importance"] > 1
    assert (imp.set_index("feature").loc[["noise", "cat"], "importance"] == 0).all()
    assert imp.attrs["baseline"] == 0 and not imp.attrs["out_of_time"] and set(imp["repeats"]) == {2}
    again = D.permutation_importance(neg_mse, X, greater_is_better=True, n_repeats=2, seed=1)
    pd.testing.assert_frame_equal(imp, again)  # seeded

    def mse(frame):
        return -neg_mse(frame)
    lower = D.permutation_importance(mse, X, greater_is_better=False, n_repeats=1)
    assert lower.iloc[0]["feature"] == "signal" and lower.iloc[0]["importance"] > 1  # positive when it hurts
    cut = D.permutation_importance(neg_mse, X, n_repeats=5, time_limit=0.0)
    assert cut.attrs["out_of_time"] and cut["importance"].isna().all()


def test_kb_overview_counts_by_task_and_size():
    datasets, _, _ = _kb_tables()
    table = D.kb_overview(datasets)
    assert table["total"].sum() == len(datasets) and set(table.index) == {"binary", "multiclass", "regression"}
    assert D.size_bucket(999) == "< 1k rows" and D.size_bucket(1000) == "1k-10k rows"
    assert D.size_bucket(None) == "unknown size"
    assert D.kb_overview(pd.DataFrame()).empty


def test_metafeature_map_places_points_and_a_new_dataset():
    datasets, _, names = _kb_tables()
    new = datasets.iloc[3][names].to_dict()
    m = D.metafeature_map(datasets, names, new=new, neighbours=["fp3", "fp5"])
    assert len(m["points"]) == len(datasets) and m["reason"] is None
    assert sum(p["neighbour"] for p in m["points"]) == 2
    assert m["new"]["x"] == pytest.approx(m["points"][3]["x"]) and m["new"]["y"] == pytest.approx(m["points"][3]["y"])
    assert 0.99 >= sum(m["explained"]) > 0.3 and "mf.const" not in m["axes"][0] + m["axes"][1]
    again = D.metafeature_map(datasets, names)
    assert [p["x"] for p in again["points"]] == [p["x"] for p in m["points"]]  # deterministic signs
    few = D.metafeature_map(datasets.head(2), names)
    assert few["points"] == [] and "at least 3" in few["reason"]


def test_winning_families_ignores_low_fidelity_and_failures():
    datasets, evaluations, _ = _kb_tables()
    wins = D.winning_families(evaluations, datasets)
    assert len(wins) == len(datasets)
    assert set(wins["family"]) == {"linear", "lightgbm"}
    assert (wins.set_index("fingerprint").loc["fp0", "family"]) == "linear"
    assert (wins.set_index("fingerprint").loc["fp1", "family"]) == "lightgbm"
    by_task = D.wins_table(wins, "task")
    assert by_task["total"].sum() == len(datasets) and "knn" not in by_task.index
    assert D.winning_families(pd.DataFrame(), datasets).empty
