"""A fixed-seed ``max_trials`` search gives the trials (ids, order, origins, fidelities, statuses, scores) and the
ensemble recorded from main before the search core was refactored (issue #26): the refactor changes no behaviour."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from automl.deadline import Deadline
from automl.search import optimize
from tests.search.conftest import make_problem

BASELINE = json.loads((Path(__file__).parent / "determinism_baseline.json").read_text())
CASES = {"binary-bo": ("binary", "bo", ("lightgbm", "linear")),
         "regression-hyperband": ("regression", "hyperband", ("lightgbm", "extra_trees")),
         "multiclass-random": ("multiclass", "random", ("linear", "knn"))}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fixed_seed_max_trials_search_matches_the_recorded_baseline(case):
    task, strategy, families = CASES[case]
    # (a budget a loaded machine does not run out of: a search the budget cuts short is not reproducible, and warns)
    result = optimize(make_problem(task, n=300, families=families), Deadline(600), strategy=strategy, max_trials=6)
    assert summary(result) == BASELINE[case]


def summary(result) -> dict:
    """What the baseline records of a search: its trials, best score and ensemble (rounded)."""
    return {"trials": [[t.config_id, t.origin, round(t.fidelity, 6), t.status,
                        None if t.score is None else round(t.score, 9)] for t in result.trials],
            "best_score": round(result.best_score, 9),
            "ensemble": [[c, round(w, 9)] for c, w in result.ensemble]}
