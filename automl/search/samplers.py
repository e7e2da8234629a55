"""Samplers: random, and model-based (random-forest surrogate + expected improvement, as in SMAC).

The surrogate learns (configuration, fidelity) -> normalised score in [0, 1] (1 = best). Prior
observations from similar past tasks enter as weighted rows whose weight fades as the run's
own observations accumulate.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import norm, rankdata
from sklearn.ensemble import RandomForestRegressor

from ..models import Family

PRIOR_HALF_LIFE = 10  # own observations after which the prior's weight has halved


class RandomSampler:
    def __init__(self, families: list[Family], rng: np.random.Generator) -> None:
        self.families = families
        self.rng = rng

    def propose(self, history, n_own_unused=None) -> tuple[dict, str]:
        family = self.families[self.rng.integers(len(self.families))]
        return family.sample(self.rng), "random"


class Encoder:
    """Configurations as vectors: family one-hot, then every family's unit-cube block, then fidelity."""

    def __init__(self, families: list[Family]) -> None:
        self.families = families
        self.offsets = {}
        pos = len(families)
        for f in families:
            self.offsets[f.key] = pos
            pos += len(f.params)
        self.width = pos + 1

    def encode(self, config: dict, fidelity: float) -> np.ndarray | None:
        key = config.get("family")
        if key not in self.offsets:
            return None
        family = next(f for f in self.families if f.key == key)
        v = np.full(self.width, -1.0)
        v[: len(self.families)] = 0.0
        v[self.families.index(family)] = 1.0
        start = self.offsets[key]
        v[start:start + len(family.params)] = family.encode(config)
        v[-1] = fidelity
        return v


class BOSampler:
    """Random-forest surrogate with expected improvement; candidates are random and local samples."""

    def __init__(self, families: list[Family], rng: np.random.Generator, prior: list[dict] = (),
                 random_share: float = 0.2, n_candidates: int = 300) -> None:
        self.families = families
        self.rng = rng
        self.random = RandomSampler(families, rng)
        self.encoder = Encoder(families)
        self.prior = [p for p in prior if p.get("config", {}).get("family") in self.encoder.offsets]
        self.random_share = random_share
        self.n_candidates = n_candidates

    def training_set(self, history) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        own = history.ok()
        rows, targets, weights = [], [], []
        if own:
            losses = np.array([t.loss for t in own])
            # per fidelity, rank-normalise the run's losses into [0, 1] (1 = best), like the prior
            scores = np.zeros(len(own))
            fids = np.array([t.fidelity for t in own])
            for f in np.unique(fids):
                mask = fids == f
                if mask.sum() == 1:
                    scores[mask] = 0.5
                else:
                    r = rankdata(-losses[mask])
                    scores[mask] = (r - 1) / (mask.sum() - 1)
            for t, s in zip(own, scores):
                v = self.encoder.encode(t.config, t.fidelity)
                if v is not None:
                    rows.append(v), targets.append(s), weights.append(1.0)
        fade = PRIOR_HALF_LIFE / (PRIOR_HALF_LIFE + len(own))
        for p in self.prior:
            v = self.encoder.encode(p["config"], float(p.get("fidelity", 1.0)))
            if v is not None:
                rows.append(v), targets.append(float(p["normalised_score"]))
                weights.append(max(1e-3, float(p.get("weight", 1.0))) * fade)
        if not rows:
            return np.empty((0, self.encoder.width)), np.empty(0), np.empty(0)
        return np.vstack(rows), np.asarray(targets), np.asarray(weights)

    def candidates(self, history) -> list[dict]:
        out = [self.random.propose(history)[0] for _ in range(self.n_candidates)]
        ranked = sorted(history.ok(), key=lambda t: t.loss)[:5]
        seeds = [t.config for t in ranked] + [p["config"] for p in sorted(
            self.prior, key=lambda p: -p["normalised_score"] * p.get("weight", 1.0))[:5]]
        for config in seeds:
            family = next((f for f in self.families if f.key == config.get("family")), None)
            if family is not None:
                out += [family.mutate(family.complete(config), self.rng) for _ in range(20)]
        return out

    def propose(self, history) -> tuple[dict, str]:
        X, y, w = self.training_set(history)
        if len(y) < 3 or self.rng.random() < self.random_share:
            return self.random.propose(history)
        model = RandomForestRegressor(n_estimators=40, min_samples_leaf=2, max_features=0.7, n_jobs=1,
                                      random_state=int(self.rng.integers(1 << 31)))
        model.fit(X, y, sample_weight=w)
        cands = self.candidates(history)
        V = np.vstack([self.encoder.encode(c, 1.0) for c in cands])
        per_tree = np.stack([t.predict(V) for t in model.estimators_])
        mu, sigma = per_tree.mean(axis=0), per_tree.std(axis=0) + 1e-6
        best = y.max()
        z = (mu - best) / sigma
        ei = (mu - best) * norm.cdf(z) + sigma * norm.pdf(z)
        return cands[int(np.argmax(ei))], "surrogate"
