"""Samplers without training: seeded random proposals; prior observations steer the surrogate."""
from __future__ import annotations

import contextlib
import shutil

import numpy as np
import pytest

from automl.models import REGISTRY
from automl.search.history import History, Trial
from automl.search.samplers import BOSampler, RandomSampler


def test_random_sampler_is_seeded():
    families = [REGISTRY.get("lightgbm"), REGISTRY.get("knn")]
    a = [RandomSampler(families, np.random.default_rng(7)).propose(History()) for _ in range(3)]
    b = [RandomSampler(families, np.random.default_rng(7)).propose(History()) for _ in range(3)]
    assert a == b and all(origin == "random" for _, origin in a)


def _six_sampled_knn_configurations(families):
    rng = np.random.default_rng(0)
    prior = [{"config": families[1].sample(rng), "fidelity": 1.0, "normalised_score": 1.0, "weight": 1.0}
             for _ in range(6)]
    return prior + [{"config": families[0].sample(rng), "fidelity": 1.0, "normalised_score": 0.0, "weight": 1.0}
                    for _ in range(6)]


def _one_good_knn_configuration_five_times(families):
    good = {"family": "knn", "n_neighbors": 3, "weights": "distance", "p": 1}
    prior = [{"config": families[1].complete(good), "fidelity": 1.0, "normalised_score": 1.0, "weight": 1.0}] * 5
    return prior + [{"config": families[0].sample(np.random.default_rng(i)), "fidelity": 1.0,
                     "normalised_score": 0.0, "weight": 1.0} for i in range(10)]


@pytest.mark.parametrize("make_prior, min_knn", [(_six_sampled_knn_configurations, 5),
                                                 (_one_good_knn_configuration_five_times, 4)])
def test_prior_observations_change_what_the_surrogate_proposes(make_prior, min_knn):
    """Prior: k-NN configurations scored 1 (best) on similar tasks, LightGBM 0. With no observation of
    its own the sampler then proposes k-NN; without the prior it falls back to random proposals."""
    families = [REGISTRY.get("lightgbm"), REGISTRY.get("knn")]
    prior = make_prior(families)
    with_prior = [BOSampler(families, np.random.default_rng(s), prior, random_share=0.0).propose(History())
                  for s in range(5)]
    assert all(origin == "surrogate" for _, origin in with_prior)
    assert sum(config["family"] == "knn" for config, _ in with_prior) >= min_knn
    without = [BOSampler(families, np.random.default_rng(s), (), random_share=0.0).propose(History())
               for s in range(5)]
    assert all(origin == "random" for _, origin in without)


def test_prior_weight_fades_as_own_observations_accumulate():
    families = [REGISTRY.get("lightgbm")]
    rng = np.random.default_rng(0)
    prior = [{"config": families[0].sample(rng), "fidelity": 1.0, "normalised_score": 0.5, "weight": 1.0}]
    sampler = BOSampler(families, rng, prior)
    history = History()
    _, _, w0 = sampler.training_set(history)
    for i in range(30):
        history.add(Trial(i, families[0].sample(rng), f"id{i}", "lightgbm", 1.0, "random", status="ok",
                          loss=float(rng.random())))
    _, y, w30 = sampler.training_set(history)
    assert w30[-1] < w0[-1] / 3 and len(y) == 31
    assert np.all((0.0 <= y) & (y <= 1.0))


def test_the_prior_weighs_as_much_as_ten_own_observations_however_many_rows_it_has():
    """400 prior rows (a full retrieval) together weigh PRIOR_HALF_LIFE own observations, faded as the
    run's own observations accumulate, and keep their similarity ratios: with a per-row weight, they
    outweighed a 40-trial run's own results and held warm to the neighbours' favourite."""
    from automl.search.samplers import PRIOR_HALF_LIFE
    families = [REGISTRY.get("lightgbm")]
    rng = np.random.default_rng(0)
    prior = [{"config": families[0].sample(rng), "fidelity": 1.0, "normalised_score": float(rng.random()),
              "weight": 0.8 if i % 2 else 0.4} for i in range(400)]
    sampler = BOSampler(families, rng, prior)
    history = History()
    _, _, w0 = sampler.training_set(history)
    assert len(w0) == 400 and np.isclose(w0.sum(), PRIOR_HALF_LIFE) and np.isclose(w0[1] / w0[0], 2.0)
    for i in range(40):
        history.add(Trial(i, families[0].sample(rng), f"id{i}", "lightgbm", 1.0, "random", status="ok",
                          loss=float(rng.random())))
    _, _, w40 = sampler.training_set(history)
    own, prior_mass = w40[:40].sum(), w40[40:].sum()
    assert own == 40 and np.isclose(prior_mass, PRIOR_HALF_LIFE * PRIOR_HALF_LIFE / (PRIOR_HALF_LIFE + 40))


def test_proposals_from_an_unchanged_surrogate_stay_apart_and_only_use_the_families_asked_for():
    """Proposals made while no new result arrives (the surrogate's runners-up) are never within
    MIN_DISTANCE of a configuration already tried, and a ``families`` restriction is honoured."""
    from automl.search.samplers import MIN_DISTANCE
    from knowledge_base.canonical import config_id
    families = [REGISTRY.get("knn"), REGISTRY.get("linear")]
    rng = np.random.default_rng(3)
    sampler = BOSampler(families, rng, (), random_share=0.0)
    history = History()
    for i in range(8):  # observed results: the surrogate is fitted once and then left unchanged
        config = families[i % 2].sample(rng)
        history.add(Trial(i, config, config_id(config), config["family"], 1.0, "random", status="ok",
                          loss=float(rng.random())))
    proposed = []
    for i in range(8, 30):  # each proposal starts running (no result yet), as with busy workers
        config, origin = sampler.propose(history)
        assert origin == "surrogate"
        proposed.append(config)
        history.add(Trial(i, config, config_id(config), config["family"], 1.0, origin, status="running"))
    for family in families:
        vectors = np.array([family.encode(c) for c in proposed if c["family"] == family.key])
        for a in range(len(vectors)):
            for b in range(a):
                assert np.abs(vectors[a] - vectors[b]).max() >= MIN_DISTANCE
    only_linear = [sampler.propose(history, families={"linear"})[0]["family"] for _ in range(5)]
    assert only_linear == ["linear"] * 5


def test_runner_up_families_take_turns_in_model_based_proposals():
    """The incumbent's family gets most proposals, but the two families ranked next by their best loss take
    turns in a share of them (members of other families for the ensemble); the worst family gets none
    from that rule (only through the random share, switched off here)."""
    from automl.search import samplers
    from knowledge_base.canonical import config_id
    families = [REGISTRY.get(k) for k in ("knn", "linear", "lightgbm", "extra_trees")]
    rng = np.random.default_rng(5)
    history = History()
    losses = {"knn": 0.1, "linear": 0.2, "lightgbm": 0.3, "extra_trees": 0.9}
    for i in range(12):
        config = families[i % 4].sample(rng)
        history.add(Trial(i, config, config_id(config), config["family"], 1.0, "random", status="ok",
                          loss=losses[config["family"]] + 0.01 * i))
    sampler = BOSampler(families, rng, (), random_share=0.0)
    assert [sampler._runner_up(history) for _ in range(4)] == [{"lightgbm"}, {"linear"}, {"lightgbm"}, {"linear"}]
    assert BOSampler(families, rng, ())._runner_up(History()) is None
    proposed = [sampler.propose(history)[0]["family"] for _ in range(200)]
    share = 1 - proposed.count("knn") / len(proposed)
    assert samplers.RUNNER_UP_SHARE - 0.1 < share < 0.5, share
    assert min(proposed.count("linear"), proposed.count("lightgbm")) >= 10


def test_proposals_can_be_limited_to_configurations_that_fit_in_the_time_left():
    """The surrogate prefers slow (low learning rate) LightGBM here; asked for what fits, it proposes its best
    candidate among the fast ones rather than a slow one or nothing."""
    from knowledge_base.canonical import config_id
    lgbm = REGISTRY.get("lightgbm")
    rng = np.random.default_rng(11)
    history = History()
    for i in range(16):
        config = lgbm.sample(rng)
        history.add(Trial(i, config, config_id(config), "lightgbm", 1.0, "random", status="ok",
                          loss=float(np.log(config["learning_rate"]))))  # lower rate, lower loss
    fits = lambda c: c["learning_rate"] >= 0.1  # noqa: E731
    sampler = BOSampler([lgbm], rng, (), random_share=0.0)
    free = [sampler.propose(history)[0]["learning_rate"] for _ in range(3)]
    assert max(free) < 0.1
    limited = [sampler.propose(history, families={"lightgbm"}, fits=fits) for _ in range(5)]
    assert all(origin == "surrogate" and fits(config) for config, origin in limited)
    config, origin = RandomSampler([lgbm], np.random.default_rng(0)).propose(History(), fits=fits)
    assert fits(config) and origin == "random"


def test_a_slow_configuration_does_not_price_its_whole_family_out():
    """A knowledge-base LightGBM at learning rate 0.01 took 8 s; before, the family's median cost kept every
    LightGBM out of the last seconds. Now the estimate is per configuration: the default still fits."""
    from knowledge_base.canonical import config_id
    from tests.search.conftest import make_problem
    lgbm = REGISTRY.get("lightgbm")
    with _search(make_problem(n=200, families=["lightgbm"])) as search:
        slow = {**lgbm.default_config(), "learning_rate": 0.01}
        search.core.history.add(Trial(0, slow, config_id(slow), "lightgbm", 1.0, "kb", status="ok", loss=0.1,
                                      fit_seconds=8.0))
        assert not search.core.cost.fits_in_time(slow, 1.0)
        assert search.core.cost.fits_in_time(lgbm.default_config(), 1.0)
        job = search.core._cheap_job()
        assert job is not None and job[0]["family"] == "lightgbm" and search.core.cost.fits_in_time(job[0], 1.0)


def test_new_configurations_start_at_full_fidelity_when_no_promotion_could_be_paid_for():
    """On 3,000+ rows new configurations are screened on a third of the rows; once the time left cannot pay
    for eta full-fidelity runs of the best configuration so far, they start at full fidelity instead (before:
    the search went on screening and the final model was built from models that saw a third of the data)."""
    from knowledge_base.canonical import config_id
    from tests.search.conftest import make_problem
    lgbm = REGISTRY.get("lightgbm")
    problem = make_problem(n=3000, families=["lightgbm"])
    for seconds, fidelity in ((0.1, 1 / 3), (2.5, 1.0)):  # a full-fidelity run: 0.3 s, then 7.5 s (3 x > 9 s left)
        with _search(problem) as search:
            assert search.core.rungs == [1 / 3, 1.0] and search.core._entry_rung() == 0  # nothing known yet
            config = lgbm.default_config()
            search.core.history.add(Trial(0, config, config_id(config), "lightgbm", 1 / 3, "default", status="ok",
                                          loss=0.3, fit_seconds=seconds))
            job = search.core._next_job()
            assert job is not None and job[2] == fidelity and job[3] == (0 if fidelity < 1 else 1)


def test_a_configuration_too_slow_to_start_at_full_fidelity_is_screened_not_dropped():
    """Once new configurations start at full fidelity, one that cannot finish there in the time left (a
    warm-start suggestion slower than the best so far) starts on the lowest rung; before, it was dropped and
    the time went to whatever cheap proposal fitted (at 100,000 rows: linear models instead of the
    knowledge base's LightGBM)."""
    from knowledge_base.canonical import config_id
    from tests.search.conftest import make_problem
    lgbm = REGISTRY.get("lightgbm")
    with _search(make_problem(n=3000, families=["lightgbm"])) as search:
        config = lgbm.default_config()
        search.core.history.add(Trial(0, config, config_id(config), "lightgbm", 1 / 3, "default", status="ok",
                                      loss=0.3, fit_seconds=2.5))  # full fidelity 7.5 s: 3 x is more than is left
        slow = {**config, "learning_rate": 0.03}  # about 3 x the default's seconds: 22 s at full fidelity
        search.core.queue.insert(0, (slow, "kb"))
        assert search.core._entry_rung() == 1 and not search.core.cost.fits_in_time(slow, 1.0)
        job = search.core._next_job()
        assert job is not None and job[0] == slow and job[1] == "kb" and job[2] == 1 / 3 and job[3] == 0
        assert search.core.cost.fits_in_time(slow, 1 / 3)


@contextlib.contextmanager
def _search(problem, budget: float = 10.0):
    """A ``bo`` search over ``problem`` that is never run (its scheduling methods are called directly)."""
    from automl.deadline import Deadline
    from automl.search.optimizer import _Search
    search = _Search(problem, Deadline(budget), "bo", (), (), None, None)
    try:
        yield search
    finally:
        shutil.rmtree(search.workdir, ignore_errors=True)


def test_a_proposal_that_does_not_fit_in_the_time_left_is_replaced_by_the_best_that_fits():
    """When the next proposal cannot finish in the time left, the search asks once for the best job among
    those that fit (``_cheap_job``); it does not re-draw proposals until one happens to be cheap, which
    let the random and runner-up shares fill the end of a search with k-NN and linear models."""
    from knowledge_base.canonical import config_id
    from tests.search.conftest import make_problem
    lgbm, knn = REGISTRY.get("lightgbm"), REGISTRY.get("knn")
    with _search(make_problem(n=200, families=["lightgbm", "knn"])) as search:
        slow = {**lgbm.default_config(), "learning_rate": 0.01}
        search.core.history.add(Trial(0, slow, config_id(slow), "lightgbm", 1.0, "kb", status="ok", loss=0.1,
                                      fit_seconds=60.0))
        asked = []

        def next_job():
            asked.append(1)
            return slow, "surrogate", 1.0, 0, None

        cheap = (knn.default_config(), "surrogate", 1.0, 0, None)
        search.core._next_job, search.core._cheap_job = next_job, lambda: cheap
        submitted = []

        class OneSlot:
            def free_slots(self):
                return 0 if submitted else 1

            def running(self):
                return []

            def submit(self, request, seconds):
                submitted.append(request.config)

        search._loop(OneSlot())
        assert len(asked) == 1 and submitted == [cheap[0]]
