"""Successive-halving bookkeeping: asynchronous (ASHA) and synchronous Hyperband; pure classes, no training."""
from __future__ import annotations

import math

ETA = 3  # successive halving keeps the best 1/ETA of a rung; rungs are ETA times apart in training share
THREE_RUNGS_ROWS = 20_000  # from this many rows, three rungs (1/9, 1/3, all): a ninth still holds 2,000+ rows
TWO_RUNGS_ROWS = 3_000  # from this many rows, two rungs (1/3, all); below, every trial sees all the rows


def fidelity_rungs(n_rows: int, eta: int = ETA) -> list[float]:
    """Training-share rungs: none below 1/9 (lower rungs carry almost no signal, see notes)."""
    if n_rows >= THREE_RUNGS_ROWS:
        return [1 / eta ** 2, 1 / eta, 1.0]
    if n_rows >= TWO_RUNGS_ROWS:
        return [1 / eta, 1.0]
    return [1.0]


class ASHA:
    """Promote a configuration from rung r when it is in the top 1/eta of rung r's results, or when it is the
    best of its group (model family) at rung r and in the better half of rung r's results.

    Families learn differently from more rows, so a family that trails on a fraction of the rows and leads on
    all of them still reaches full fidelity (the case that motivated it: docs/search-status.md, "Promotion")."""

    def __init__(self, rungs: list[float], eta: int = ETA) -> None:
        self.rungs = rungs
        self.eta = eta
        self.results: list[dict[str, float]] = [dict() for _ in rungs]  # config_id -> loss
        self.groups: dict[str, str] = {}  # config_id -> its group
        self.promoted: list[set[str]] = [set() for _ in rungs]

    def report(self, rung: int, config_id: str, loss: float, group: str | None = None) -> None:
        self.results[rung][config_id] = loss
        if group is not None:
            self.groups[config_id] = group

    def _promotable(self, rung: int) -> list[str]:
        """Rung ``rung``'s top 1/eta, then the best of each group that is in the better half, by loss."""
        done = self.results[rung]
        k = len(done) // self.eta
        if k == 0:
            return []
        ranked = sorted(done, key=lambda c: done[c])
        out, seen = list(ranked[:k]), set()
        for cid in ranked[:(len(ranked) + 1) // 2]:
            group = self.groups.get(cid)
            if group is not None and group not in seen:
                seen.add(group)
                if cid not in out:
                    out.append(cid)
        return out

    def next_promotion(self, fits=None) -> tuple[str, int] | None:
        """(config_id, next rung) of a configuration ready for promotion, highest rung first; marked promoted
        when returned. ``fits(config_id, rung)``: whether that run can still finish in the time left; one
        that cannot is passed over and stays promotable (it may fit on a freer worker, and is not lost)."""
        for r in range(len(self.rungs) - 2, -1, -1):
            for cid in self._promotable(r):
                if cid not in self.promoted[r] and (fits is None or fits(cid, r + 1)):
                    self.promoted[r].add(cid)
                    return cid, r + 1
        return None

    def release(self, config_id: str, rung: int) -> None:
        """A promotion to ``rung`` that was not run after all (it no longer fit): promotable again."""
        self.promoted[rung - 1].discard(config_id)


class _Bracket:
    """One successive-halving bracket: ``sizes[i]`` configurations at stage ``i`` (rung ``start + i``)."""

    def __init__(self, index: int, start: int, sizes: list[int]) -> None:
        self.index, self.start, self.sizes = index, start, sizes
        self.stage = 0
        self.launched = 0  # configurations started at the current stage
        self.expected = sizes[0]  # configurations the current stage will run
        self.results: list[dict[str, float]] = [dict() for _ in sizes]
        self.queue: list[str] = []  # promoted configuration ids waiting to run at the current stage
        self.done = False

    def next_job(self) -> tuple[int, int, str | None] | None:
        if self.done or self.launched >= self.expected:
            return None
        self.launched += 1
        rung = self.start + self.stage
        if self.stage == 0:
            return self.index, rung, None
        return self.index, rung, self.queue.pop(0)

    def report(self, rung: int, config_id: str, loss: float) -> None:
        stage = rung - self.start
        if self.done or stage != self.stage:
            return
        self.results[stage][config_id] = loss
        if len(self.results[stage]) < self.expected:
            return
        finite = {c: v for c, v in self.results[stage].items() if v == v and v != float("inf")}
        if stage == len(self.sizes) - 1 or not finite:
            self.done = True
            return
        keep = sorted(finite, key=lambda c: finite[c])[: self.sizes[stage + 1]]
        self.stage, self.launched, self.expected, self.queue = stage + 1, 0, len(keep), keep


class Hyperband:
    """Synchronous Hyperband (Li et al., 2018) over ``rungs``: brackets cycle from the most exploratory
    (many configurations at the lowest rung) to plain full-fidelity evaluation. Pure bookkeeping.

    ``next_job()`` -> ``(bracket, rung, config_id)``: ``config_id`` None means "sample a new configuration
    for this rung", otherwise "evaluate this configuration again at the higher rung". While every open
    bracket waits for results, a new bracket opens (so parallel workers never idle). ``report`` takes every
    finished trial (a failure reports ``inf``, which is never promoted).
    """

    def __init__(self, rungs: list[float], eta: int = ETA) -> None:
        self.rungs = list(rungs)
        self.eta = eta
        self.s_max = len(self.rungs) - 1
        self.brackets: list[_Bracket] = []
        self._next_s = self.s_max

    def plan(self, s: int) -> list[int]:
        """Configurations per stage of bracket ``s`` (it starts at rung ``s_max - s``)."""
        n = math.ceil((self.s_max + 1) / (s + 1) * self.eta ** s)
        return [max(1, int(n // self.eta ** i)) for i in range(s + 1)]

    def next_job(self) -> tuple[int, int, str | None]:
        for b in self.brackets:
            job = b.next_job()
            if job is not None:
                return job
        s = self._next_s
        self._next_s = self.s_max if s == 0 else s - 1
        bracket = _Bracket(len(self.brackets), self.s_max - s, self.plan(s))
        self.brackets.append(bracket)
        return bracket.next_job()

    def report(self, bracket: int, rung: int, config_id: str, loss: float) -> None:
        self.brackets[bracket].report(rung, config_id, loss)
