"""Bounded disk: during the search only the models the ensemble may use stay in the work folder (the best
``KEEP_TOP`` trials and the best trial of every family); the rest are deleted as the search goes."""
import glob
import os
import tempfile

from automl.deadline import Deadline
from automl.search import optimize
from automl.search import kept_models
from automl.search.workdir import WORKDIR_PREFIX
from tests.search.conftest import make_problem

FAMILIES = ("linear", "knn", "lightgbm")  # (three cheap families: the bound is about families, not which)
KEEP_TOP = 2


def test_only_the_best_and_each_familys_best_keep_their_models(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(kept_models, "KEEP_TOP", KEEP_TOP)  # small, so that 24 trials overflow it
    p = make_problem(n=150, families=FAMILIES)
    seen: list[tuple[int, set[str]]] = []

    def on_trial(event):
        files = glob.glob(os.path.join(str(tmp_path), f"{WORKDIR_PREFIX}{os.getpid()}-*", "trial-*.joblib"))
        seen.append((len(files), {os.path.basename(f) for f in files}))

    result = optimize(p, Deadline(120), strategy="random", max_trials=24, callback=on_trial)

    ok = [t for t in result.trials if t.status == "ok" and not t.details.raced_out]  # (raced out: no models)
    ever = set().union(*(names for _, names in seen))
    assert len(ever) > KEEP_TOP + len(FAMILIES)  # more models were written than the bound: some were dropped
    assert max(n for n, _ in seen) <= KEEP_TOP + len(FAMILIES)
    final = seen[-1][1]
    best_of_family = {}
    for t in ok:
        if t.family not in best_of_family or t.loss < best_of_family[t.family].loss:
            best_of_family[t.family] = t
    for t in best_of_family.values():  # every family's best is still there for the ensemble
        assert f"trial-{t.trial_id}.joblib" in final
    ranked = sorted(ok, key=lambda t: (t.loss, t.trial_id))
    assert f"trial-{ranked[0].trial_id}.joblib" in final
    assert not glob.glob(os.path.join(str(tmp_path), f"{WORKDIR_PREFIX}{os.getpid()}-*"))  # removed at the end
