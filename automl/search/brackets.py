"""Asynchronous successive halving (ASHA) bookkeeping: a pure class, testable without training."""
from __future__ import annotations


def fidelity_rungs(n_rows: int, eta: int = 3) -> list[float]:
    """Training-share rungs: none below 1/9 (lower rungs carry almost no signal, see notes)."""
    if n_rows >= 20_000:
        return [1 / eta ** 2, 1 / eta, 1.0]
    if n_rows >= 3_000:
        return [1 / eta, 1.0]
    return [1.0]


class ASHA:
    """Promote a configuration from rung r when it is in the top 1/eta of rung r's results."""

    def __init__(self, rungs: list[float], eta: int = 3) -> None:
        self.rungs = rungs
        self.eta = eta
        self.results: list[dict[str, float]] = [dict() for _ in rungs]  # config_id -> loss
        self.promoted: list[set[str]] = [set() for _ in rungs]

    def report(self, rung: int, config_id: str, loss: float) -> None:
        self.results[rung][config_id] = loss

    def next_promotion(self) -> tuple[str, int] | None:
        """(config_id, next rung) of a configuration ready for promotion, highest rung first."""
        for r in range(len(self.rungs) - 2, -1, -1):
            done = self.results[r]
            k = len(done) // self.eta
            if k == 0:
                continue
            top = sorted(done, key=lambda c: done[c])[:k]
            for cid in top:
                if cid not in self.promoted[r]:
                    self.promoted[r].add(cid)
                    return cid, r + 1
        return None
