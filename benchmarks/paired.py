"""Paired comparisons for the benchmarks: wins / ties / losses, an exact sign test and a bootstrap interval.

    from paired import compare
    stats = compare(gains)              # gains[i] = score_a - score_b on pair i (same split), greater = a better
    print(stats.line("warm - bo"))

One split at one budget is noise at the size of most changes; compare the same splits, over several seeds,
and read the sign test's p and the interval of the median gain, not one mean.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TIE = 1e-9  # |gain| at or under this is a tie (scores equal up to floating point)
N_BOOTSTRAP = 2000


@dataclass(frozen=True)
class Paired:
    n: int
    wins: int
    ties: int
    losses: int
    p_sign: float             # exact two-sided binomial test of wins against losses (ties dropped)
    median: float             # median gain
    ci: tuple[float, float]   # 95 % bootstrap interval of the median gain

    @property
    def win_share(self) -> float:
        """Wins over all pairs (ties count against)."""
        return self.wins / self.n if self.n else float("nan")

    def line(self, label: str, gain: str = "gain") -> str:
        return (f"{label}: {self.n} pairs, W/T/L {self.wins}/{self.ties}/{self.losses} "
                f"({100 * self.win_share:.0f} % wins), sign test p = {self.p_sign:.3g}, "
                f"median {gain} {self.median:+.4g} [95 % CI {self.ci[0]:+.4g}, {self.ci[1]:+.4g}]")


def relative_gain(score, reference):
    """(score - reference) / |reference| (|reference| = 0: the plain difference), elementwise: a gain of scores of
    different metrics on one scale. On greater-is-better scores (minus a loss for the loss metrics), -0.01 is a
    score 1 % lower than the reference's, or a loss 1 % higher."""
    score, reference = np.asarray(score, dtype=float), np.asarray(reference, dtype=float)
    scale = np.where(np.abs(reference) > 0, np.abs(reference), 1.0)
    return (score - reference) / scale


def bootstrap_ci(values, statistic=np.median, n: int = N_BOOTSTRAP, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over ``values`` (NaN when empty)."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    draws = np.random.default_rng(seed).choice(values, size=(n, len(values)), replace=True)
    stats = statistic(draws, axis=1)
    tail = (1 - level) / 2
    return float(np.quantile(stats, tail)), float(np.quantile(stats, 1 - tail))


def sign_test(wins: int, losses: int) -> float:
    """Exact two-sided binomial p of ``wins`` against ``losses`` under p = 1/2 (1.0 with no decided pair)."""
    from scipy.stats import binomtest
    return float(binomtest(wins, wins + losses, 0.5).pvalue) if wins + losses else 1.0


def compare(gains, tie: float = TIE, seed: int = 0) -> Paired:
    """Wins, ties, losses, sign test and the median's bootstrap interval of paired ``gains`` (NaN pairs dropped)."""
    gains = np.asarray(gains, dtype=float)
    gains = gains[~np.isnan(gains)]
    wins, losses = int((gains > tie).sum()), int((gains < -tie).sum())
    return Paired(n=len(gains), wins=wins, ties=len(gains) - wins - losses, losses=losses,
                  p_sign=sign_test(wins, losses), median=float(np.median(gains)) if len(gains) else float("nan"),
                  ci=bootstrap_ci(gains, seed=seed))
