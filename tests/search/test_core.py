"""The ask/tell core alone (no worker, no training): the initial design's filters and order, and a trial's way
through ``ask`` -> ``start`` -> ``tell`` with typed messages."""
from __future__ import annotations

import numpy as np

from automl.deadline import Deadline
from automl.models import REGISTRY
from automl.models.steps import uses_any
from automl.search.core import SearchCore
from automl.search.initial_design import initial_design
from automl.search.messages import Status, TrialDetails, TrialRequest, TrialResult
from knowledge_base.canonical import config_id
from tests.search.conftest import make_problem

LINEAR, KNN = REGISTRY.get("linear"), REGISTRY.get("knn")
PCA = {"family": "linear", "C": 0.5, "construction": "pca"}  # chooses the ``pca`` construction step


def test_the_initial_design_leaves_out_suggestions_of_excluded_steps_and_other_families():
    families = [f.without_steps(("pca",)) for f in (LINEAR, KNN)]
    suggestions = [{"config": PCA, "origin": "kb"},
                   {"config": {"family": "lightgbm"}, "origin": "kb"},  # a family the search may not use
                   {"config": {"family": "knn", "n_neighbors": 3}, "origin": "neighbour"},
                   {"config": {"family": "knn", "n_neighbors": 3}, "origin": "kb"}]  # the same id again
    design = initial_design("warm", suggestions, families, "binary", exclude_steps=("pca",))
    assert design[0] == (KNN.complete({"family": "knn", "n_neighbors": 3}, "binary"), "neighbour")
    assert [origin for _, origin in design[1:]] == ["portfolio"] * (len(design) - 1)
    assert {config["family"] for config, _ in design[1:]} == {"linear"}  # the portfolio covers what is left
    assert not any(uses_any(config, ("pca",)) for config, _ in design)
    assert len({config_id(config) for config, _ in design}) == len(design)
    kept = initial_design("warm", suggestions[:1], families, "binary")  # nothing excluded: the suggestion stays
    assert kept[0] == (LINEAR.complete(PCA, "binary"), "kb")


def test_a_trial_goes_through_ask_start_and_tell(tmp_path):
    problem = make_problem(n=120, families=("linear", "knn"))
    core = SearchCore(problem, Deadline(60), "bo", str(tmp_path), max_trials=4)
    job = core.ask()
    assert job.origin == "default" and job.config == LINEAR.default_config("binary") and job.fidelity == 1.0
    request = core.start(job)
    assert isinstance(request, TrialRequest) and request.keep_models_dir == str(tmp_path)
    trial = core.by_id[request.trial_id]
    assert trial.status is Status.RUNNING and core.history.trials == [trial]
    oof = np.zeros((len(problem.y), 2))
    details = TrialDetails(fold_losses=(0.4, 0.5, 0.3, 0.4, 0.4))
    core.tell(request.trial_id, TrialResult(Status.OK, score=0.6, loss=0.4, fit_seconds=0.2, details=details,
                                            oof=oof, models_path=str(tmp_path / "trial-0.joblib")))
    assert trial.status == "ok" and trial.loss == 0.4 and trial.details == details
    assert core.kept.best() is trial and core.kept.models[trial.trial_id].oof is oof
    following = core.start(core.ask())  # racing at full fidelity against the incumbent's folds
    assert following.race == details.fold_losses and following.config == KNN.default_config("binary")
    core.tell(following.trial_id, TrialResult.failed("worker died", 1.5))
    failed = core.by_id[following.trial_id]
    assert failed.status is Status.FAILED and failed.error == "worker died" and failed.fit_seconds == 1.5
    assert len(core.history.finished()) == 2 and core.kept.best() is trial


def test_excluding_the_text_step_keeps_suggestions_on_a_table_without_text():
    """A stored configuration omits the default text step; on a table without text columns the slot builds
    nothing (``unused_slots``), so ``exclude=("tfidf_svd",)`` must not drop every suggestion there."""
    from automl.models.steps import WHOLE_SLOT
    suggestion = [{"config": {"family": "linear", "C": 0.5}, "origin": "kb"}]
    no_text = [LINEAR.without_steps(("tfidf_svd", f"text:{WHOLE_SLOT}"))]
    design = initial_design("warm", suggestion, no_text, "binary", exclude_steps=("tfidf_svd",))
    assert design[0][1] == "kb"
    with_text = [LINEAR.without_steps(("tfidf_svd",))]  # a text column: the suggestion's text step is TF-IDF
    design = initial_design("warm", suggestion, with_text, "binary", exclude_steps=("tfidf_svd",))
    assert all(origin != "kb" for _, origin in design)
