"""Pure bookkeeping, no training: Hyperband brackets, ASHA promotions, racing over CV folds."""
from __future__ import annotations

import math

from automl.search.brackets import ASHA, Hyperband, fidelity_rungs
from automl.search.racing import race_out


def test_rungs_by_data_size_never_below_one_ninth():
    assert fidelity_rungs(500) == [1.0]
    assert fidelity_rungs(5_000) == [1 / 3, 1.0]
    assert fidelity_rungs(50_000) == [1 / 9, 1 / 3, 1.0]


def test_hyperband_bracket_sizes():
    hb = Hyperband([1 / 9, 1 / 3, 1.0], eta=3)
    assert [hb.plan(s) for s in (2, 1, 0)] == [[9, 3, 1], [5, 1], [3]]


def test_hyperband_promotes_the_best_third_and_opens_brackets_while_waiting():
    hb = Hyperband([1 / 9, 1 / 3, 1.0], eta=3)
    first = [hb.next_job() for _ in range(9)]
    assert first == [(0, 0, None)] * 9  # bracket 0: nine new configurations at the lowest rung
    assert hb.next_job() == (1, 1, None)  # bracket 0 waits for results: bracket 1 opens (at rung 1)
    losses = [5, 3, 8, 1, 9, 2, 7, 6, 4]
    for i, loss in enumerate(losses[:-1]):
        hb.report(0, 0, f"c{i}", float(loss))
    assert hb.next_job() == (1, 1, None)  # one result missing: still no promotion in bracket 0
    hb.report(0, 0, "c8", 4.0)
    promoted = [hb.next_job() for _ in range(3)]
    assert promoted == [(0, 1, "c3"), (0, 1, "c5"), (0, 1, "c1")]  # the three lowest losses, best first
    for _, _, cid in promoted:
        hb.report(0, 1, cid, {"c3": 0.5, "c5": 0.4, "c1": 0.9}[cid])
    assert (0, 2, "c5") in [hb.next_job() for _ in range(3)]


def test_hyperband_failures_are_never_promoted_and_end_the_bracket_when_all_fail():
    hb = Hyperband([1 / 3, 1.0], eta=3)
    jobs = [hb.next_job() for _ in range(hb.plan(1)[0])]
    for i, (b, r, _) in enumerate(jobs):
        hb.report(b, r, f"x{i}", math.inf)
    assert hb.brackets[0].done
    assert hb.next_job()[0] == 1


def test_asha_promotes_the_top_third_once():
    asha = ASHA([1 / 9, 1 / 3, 1.0])
    for i, loss in enumerate([0.5, 0.2, 0.9]):
        asha.report(0, f"c{i}", loss)
    assert asha.next_promotion() == ("c1", 1)
    assert asha.next_promotion() is None
    for i, loss in enumerate([0.6, 0.7, 0.8]):
        asha.report(0, f"d{i}", loss)
    assert asha.next_promotion() == ("c0", 1)


def test_an_asha_promotion_that_cannot_run_in_the_time_left_is_not_lost():
    asha = ASHA([1 / 9, 1 / 3, 1.0])
    for i, loss in enumerate([0.5, 0.2, 0.9]):
        asha.report(0, f"c{i}", loss)
    assert asha.next_promotion(fits=lambda cid, rung: False) is None  # passed over, not marked promoted
    assert asha.next_promotion(fits=lambda cid, rung: True) == ("c1", 1)
    assert asha.next_promotion() is None
    asha.release("c1", 1)  # proposed ahead, then no longer fit when a worker freed up
    assert asha.next_promotion() == ("c1", 1)


def test_asha_promotes_the_best_first_and_up_every_rung():
    asha = ASHA([1 / 9, 1 / 3, 1.0])
    for i, loss in enumerate([5, 3, 9, 1, 7, 8]):
        asha.report(0, f"c{i}", loss)
    promoted = [asha.next_promotion(), asha.next_promotion(), asha.next_promotion()]
    assert promoted[:2] == [("c3", 1), ("c1", 1)] and promoted[2] is None
    asha.report(1, "c3", 0.5)
    asha.report(1, "c1", 0.7)
    asha.report(1, "c9", 0.9)
    assert asha.next_promotion() == ("c3", 2)


def test_asha_also_promotes_the_best_of_each_family_in_the_better_half():
    """Families learn differently from more rows (an MLP can trail the LightGBMs on a third of the rows and
    lead on all of them): each family's best is promotable when it is in the better half of the rung, not
    only the top third overall; a family's best in the worse half is not."""
    asha = ASHA([1 / 3, 1.0])
    for i, loss in enumerate([1.0, 1.1, 1.2, 1.3, 1.4]):
        asha.report(0, f"gbm{i}", loss, "lightgbm")
    asha.report(0, "mlp", 1.25, "mlp")
    asha.report(0, "linear", 9.0, "linear")
    promoted = [asha.next_promotion() for _ in range(4)]
    assert promoted == [("gbm0", 1), ("gbm1", 1), ("mlp", 1), None]


def test_racing_drops_only_clearly_worse_challengers():
    incumbent = [0.30, 0.32, 0.31, 0.29, 0.33]
    assert race_out([0.45], incumbent)  # far worse after one fold
    assert not race_out([0.31], incumbent)  # comparable
    assert not race_out([0.32, 0.34], incumbent)  # within the incumbent's spread + margin
    assert not race_out([0.45] * 5, incumbent)  # every fold done: nothing left to save
    assert not race_out([0.45], None) and not race_out([0.45], [0.3])  # no incumbent / holdout
