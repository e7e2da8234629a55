"""Evaluations under the user's validation schemes (own rows, grouped, time-ordered folds) are normalised apart
from row-shuffled CV/holdout on the same dataset: their losses are measured differently, not worse."""
from __future__ import annotations

import dataclasses

from tests.knowledge_base.factories import VERSION, lgbm, make_dataset, make_evaluation, make_metafeatures, make_run

Q = {"metafeatures_version": VERSION}


def test_losses_are_normalised_per_dataset_and_validation_scheme(store):
    shuffled = [lgbm(4), lgbm(8), lgbm(16)]
    forward = [lgbm(32), lgbm(64), lgbm(128)]
    evaluations = [make_evaluation(c, loss) for c, loss in zip(shuffled, (-0.95, -0.9, -0.85))]
    evaluations += [dataclasses.replace(make_evaluation(c, loss), protocol="time-cv5")
                    for c, loss in zip(forward, (-0.7, -0.65, -0.6))]
    store.record_run(make_run("mixed"), make_dataset("d", 0.0), evaluations)
    prior = {p.config["num_leaves"]: p.normalised_score
             for p in store.prior_observations(make_metafeatures(0.0), "binary", "roc_auc", **Q)}
    assert prior[4] == 1.0 and prior[16] == 0.0
    assert prior[32] == 1.0 and prior[128] == 0.0  # best under its own scheme, not the worst of the dataset
    assert store.evaluations()["protocol"].value_counts().to_dict() == {"cv5": 3, "time-cv5": 3}


def test_evaluations_of_one_dataset_at_several_sizes_are_normalised_per_size(store):
    configs = [lgbm(4), lgbm(8), lgbm(16)]
    evaluations = [dataclasses.replace(make_evaluation(c, loss), protocol="cv3;rows=300/5000;seed=0")
                   for c, loss in zip(configs, (-0.80, -0.75, -0.70))]
    evaluations += [dataclasses.replace(make_evaluation(c, loss), protocol="cv3;rows=600/5000;seed=0")
                    for c, loss in zip(configs, (-0.90, -0.88, -0.86))]  # more rows: every loss lower
    store.record_run(make_run("sizes"), make_dataset("d", 0.0), evaluations)
    prior = {p.config["num_leaves"]: p.normalised_score
             for p in store.prior_observations(make_metafeatures(0.0), "binary", "roc_auc", **Q)}
    assert prior == {4: 1.0, 8: 0.5, 16: 0.0}  # best and worst at both sizes, not worst because fewer rows
