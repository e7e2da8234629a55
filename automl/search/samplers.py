"""Samplers: random, and model-based (random-forest surrogate + expected improvement, as in SMAC).

The surrogate learns (configuration, fidelity) -> normalised score in [0, 1] (1 = best). Prior
observations from similar past tasks enter as weighted rows: together they weigh as much as
``PRIOR_HALF_LIFE`` (10) of the run's own observations, times 10 / (10 + own observations), so the run's
own results outweigh them after 10 and dominate as they accumulate; each row keeps its share by
similarity. A retrieval of any size thus never holds the search to the neighbours' favourite (the
measurement: docs/search-status.md).

Candidates live in the unit cube (``automl.space``): random points per family and Gaussian moves
around the best configurations seen (own and prior), snapped to valid encodings, scored by expected
improvement at full fidelity; only the winner is decoded into a configuration. The forest is refit when
the observations change, but (outside deterministic mode) only while its fits stay under a small share of
the elapsed time, so the optimiser's overhead stays bounded on fast trials. While the forest is unchanged,
the runners-up of its last ranking are proposed next (skipping any now near a tried configuration) instead
of ranking a fresh candidate set: on small data with hundreds of sub-second trials, ranking every proposal
anew made the driver, not the models, the bottleneck.
"""
from __future__ import annotations

import time

import numpy as np
from scipy.stats import norm, rankdata
from sklearn.ensemble import RandomForestRegressor

from ..models import Family
from ..space import INACTIVE, Categorical, decode_params, snap_unit

PRIOR_HALF_LIFE = 10  # the prior weighs as much as this many own observations, halved after this many
SURROGATE_TIME_SHARE = 0.05  # refits stop while they took more than this share of the elapsed time
MIN_DISTANCE = 0.02  # proposals closer than this to a tried configuration are not made again
RANKED_KEPT = 16  # runners-up of one EI ranking proposed next while the surrogate is unchanged
RUNNER_UP_SHARE = 0.25  # of the model-based proposals: the surrogate's best within a runner-up family
RUNNER_UPS = 2  # the families after the incumbent's (by their best loss) that take turns
RANDOM_SHARE = 0.2  # of the model-based sampler's proposals: random configurations (exploration, as in SMAC)
N_CANDIDATES = 200  # random unit-cube candidates per ranking, shared among the families
FITS_DRAWS = 20  # random draws for a configuration that fits in the time left before taking the last one
LOCAL_SEEDS = 5  # the best own, and the best prior, configurations that local moves start from ...
LOCAL_MOVES = 10  # ... each moved this many times
MOVE_SHARE = 0.5  # a local move changes each value with this probability ...
MOVE_SCALE = 0.15  # ... by a N(0, this) step in the unit cube (a category is redrawn)
MIN_OBSERVATIONS = 3  # the surrogate is fitted from this many observations on (with fewer, proposals are random)
FOREST_TREES = 16  # the surrogate forest has few trees: it is refit often, in the driver ...
FOREST_MIN_LEAF = 2  # ... leaves of two observations or more (a smoother mean than single-row leaves) ...
FOREST_MAX_FEATURES = 0.7  # ... each split among 70 % of the dimensions (trees differ: their spread is the sigma)
SIGMA_FLOOR = 1e-6  # added to the trees' spread: expected improvement stays defined where they all agree
MIN_PRIOR_WEIGHT = 1e-3  # a prior observation's weight floor: every prior row keeps some say


def _allowed(families: list[Family], keys: set[str] | None) -> list[Family]:
    """The ``families`` whose key is in ``keys`` (all of them when ``keys`` is None or matches none)."""
    return [f for f in families if keys is None or f.key in keys] or families


class RandomSampler:
    def __init__(self, families: list[Family], rng: np.random.Generator, task: str | None = None) -> None:
        self.families = families
        self.rng = rng
        self.task = task  # configurations are canonical for it (active parameters only)

    def propose(self, history, families: set[str] | None = None, fits=None) -> tuple[dict, str]:
        """A random configuration of a random family (of ``families`` when given; one ``fits(config)``
        accepts, when given and one of ``FITS_DRAWS`` draws does)."""
        pool = _allowed(self.families, families)
        for _ in range(FITS_DRAWS if fits is not None else 1):
            family = pool[self.rng.integers(len(pool))]
            config = family.sample(self.rng, self.task)
            if fits is None or fits(config):
                break
        return config, "random"


class Encoder:
    """Configurations as vectors: family one-hot, then every family's unit-cube block (inactive parameters and
    other families' blocks at ``INACTIVE``), then fidelity."""

    def __init__(self, families: list[Family], task: str | None = None) -> None:
        self.families = families
        self.task = task
        self.index = {f.key: i for i, f in enumerate(families)}
        self.offsets = {}
        pos = len(families)
        for f in families:
            self.offsets[f.key] = pos
            pos += len(f.space())
        self.width = pos + 1

    def span(self, key: str) -> slice:
        """The columns of family ``key``'s unit-cube block."""
        start = self.offsets[key]
        return slice(start, start + len(self.families[self.index[key]].space()))

    def encode(self, config: dict, fidelity: float) -> np.ndarray | None:
        key = config.get("family")
        if key not in self.offsets:
            return None
        family = self.families[self.index[key]]
        v = np.full(self.width, -1.0)
        v[: len(self.families)] = 0.0
        v[self.index[key]] = 1.0
        v[self.span(key)] = family.encode(config, self.task)
        v[-1] = fidelity
        return v

    def block(self, family: Family, U: np.ndarray, fidelity: float = 1.0) -> np.ndarray:
        """Rows for unit-cube points ``U`` (one column per parameter of ``family``)."""
        V = np.full((len(U), self.width), -1.0)
        V[:, : len(self.families)] = 0.0
        V[:, self.index[family.key]] = 1.0
        V[:, self.span(family.key)] = U
        V[:, -1] = fidelity
        return V

    def decode(self, v: np.ndarray) -> dict:
        family = self.families[int(np.argmax(v[: len(self.families)]))]
        return family.complete(decode_params(family.space(), v[self.span(family.key)], self.task), self.task)


class BOSampler:
    """Random-forest surrogate with expected improvement; candidates are random and local samples."""

    def __init__(self, families: list[Family], rng: np.random.Generator, prior: list[dict] = (),
                 random_share: float = RANDOM_SHARE, n_candidates: int = N_CANDIDATES, deterministic: bool = False,
                 task: str | None = None) -> None:
        self.families = families
        self.rng = rng
        self.task = task
        self.random = RandomSampler(families, rng, task)
        self.encoder = Encoder(families, task)
        self.prior = [p for p in prior if p.get("config", {}).get("family") in self.encoder.offsets]
        # the prior's rows, encoded once (the surrogate is refit on them many times): vectors, targets, weights
        encoded = [(self.encoder.encode(p["config"], float(p.get("fidelity", 1.0))), p) for p in self.prior]
        encoded = [(v, p) for v, p in encoded if v is not None]
        self._prior_rows = [v for v, _ in encoded]
        self._prior_targets = [float(p["normalised_score"]) for _, p in encoded]
        self._prior_weights = np.array([max(MIN_PRIOR_WEIGHT, float(p.get("weight", 1.0))) for _, p in encoded])
        self._prior_total = sum(self._prior_weights.tolist())
        self.random_share = random_share
        self.n_candidates = n_candidates
        self.deterministic = deterministic
        self._cache = None
        self._ranked_model, self._ranked = None, []  # the last EI ranking (its surrogate, runners-up best first)
        self._turn = 0  # which runner-up family's turn it is
        self._tried_of, self._tried, self._tried_n = None, {}, 0  # tried configurations' blocks (_tried_blocks)
        self._encoded: dict[tuple[str, float], np.ndarray | None] = {}  # (config id, fidelity) -> vector
        self._created = time.monotonic()
        self.fit_seconds = 0.0

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
                v = self._encode(t)
                if v is not None:
                    rows.append(v), targets.append(s), weights.append(1.0)
        if self._prior_rows:
            fade = PRIOR_HALF_LIFE / (PRIOR_HALF_LIFE + len(own))
            rows += self._prior_rows
            targets += self._prior_targets
            weights += (self._prior_weights * (PRIOR_HALF_LIFE * fade / self._prior_total)).tolist()
        if not rows:
            return np.empty((0, self.encoder.width)), np.empty(0), np.empty(0)
        return np.vstack(rows), np.asarray(targets), np.asarray(weights)

    def _encode(self, trial) -> np.ndarray | None:
        """The trial's encoded vector, computed once per (configuration, fidelity): the surrogate's training
        set and the distance check read every trial at every proposal."""
        key = (trial.config_id, trial.fidelity)
        if key not in self._encoded:
            self._encoded[key] = self.encoder.encode(trial.config, trial.fidelity)
        return self._encoded[key]

    def candidate_vectors(self, history, families: set[str] | None = None) -> np.ndarray:
        """Random unit-cube points for every family (of ``families`` when given), and local moves around the
        best own and prior configurations of those families (``MOVE_SHARE`` of the values moved by
        N(0, ``MOVE_SCALE``), categories redrawn), snapped."""
        blocks = []
        pool = _allowed(self.families, families)
        allowed = {f.key for f in pool}
        per_family = max(1, self.n_candidates // len(pool))
        for family in pool:
            space = family.space()
            U = snap_unit(space, self.rng.random((per_family, len(space))), self.task)
            blocks.append(self.encoder.block(family, U))
        ranked = sorted((t for t in history.ok() if t.family in allowed), key=lambda t: t.loss)[:LOCAL_SEEDS]
        seeds = [t.config for t in ranked] + [p["config"] for p in sorted(
            (p for p in self.prior if p["config"].get("family") in allowed),
            key=lambda p: -p["normalised_score"] * p.get("weight", 1.0))[:LOCAL_SEEDS]]
        for config in seeds:
            key = config.get("family")
            if key not in self.encoder.index:
                continue
            family = self.families[self.encoder.index[key]]
            space = family.space()
            base = np.asarray(family.encode(config, self.task))
            # an inactive parameter a move activates starts from its default
            base = np.where(base == INACTIVE, [p.to_unit(p.default) for p in space], base)
            moves = self.rng.random((LOCAL_MOVES, len(base))) < MOVE_SHARE
            noise = self.rng.normal(0.0, MOVE_SCALE, (LOCAL_MOVES, len(base)))
            redraw = self.rng.random((LOCAL_MOVES, len(base)))
            cat = np.array([isinstance(p, Categorical) for p in space])
            U = np.where(moves, np.where(cat, redraw, base + noise), base)
            blocks.append(self.encoder.block(family, snap_unit(space, U, self.task)))
        return np.vstack(blocks)

    def surrogate(self, history):
        """The fitted forest and its training targets; refitted when the observations changed (and, outside
        deterministic mode, while refits take under ``SURROGATE_TIME_SHARE`` of the elapsed time)."""
        key = tuple((t.trial_id, t.loss) for t in history.ok())
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1], self._cache[2]
        if (self._cache is not None and self._cache[1] is not None and not self.deterministic
                and self.fit_seconds > SURROGATE_TIME_SHARE * (time.monotonic() - self._created)):
            return self._cache[1], self._cache[2]  # a slightly stale model: bounded overhead
        started = time.monotonic()
        X, y, w = self.training_set(history)
        model = None
        if len(y) >= MIN_OBSERVATIONS:
            model = RandomForestRegressor(n_estimators=FOREST_TREES, min_samples_leaf=FOREST_MIN_LEAF,
                                          max_features=FOREST_MAX_FEATURES, n_jobs=1,
                                          random_state=int(self.rng.integers(1 << 31)))
            model.fit(X, y, sample_weight=w)
        self._cache = (key, model, y)
        self.fit_seconds += time.monotonic() - started
        return model, y

    def propose(self, history, families: set[str] | None = None, fits=None) -> tuple[dict, str]:
        """The candidate with the highest expected improvement (among ``families`` and the configurations
        ``fits(config)`` accepts, when given: the scheduler asks for what still fits in the time left)."""
        if self.rng.random() < self.random_share:  # interleaved random configurations (as in SMAC)
            return self.random.propose(history, families, fits)
        if families is None and self.rng.random() < RUNNER_UP_SHARE:
            families = self._runner_up(history)
        model, y = self.surrogate(history)
        if model is None:
            return self.random.propose(history, families, fits)
        if families is None and model is self._ranked_model:
            while self._ranked:  # the surrogate has not changed: its next-best candidates are still its choice
                v = self._ranked.pop(0)
                if np.isfinite(self._diverse(np.zeros(1), v[None, :], history)[0]):
                    return self.encoder.decode(v), "surrogate"
        V = self.candidate_vectors(history, families)
        V32 = np.ascontiguousarray(V, dtype=np.float32)  # the trees' own predict, without input validation
        per_tree = np.stack([t.tree_.predict(V32).reshape(len(V32), -1)[:, 0] for t in model.estimators_])
        mu, sigma = per_tree.mean(axis=0), per_tree.std(axis=0) + SIGMA_FLOOR
        best = y.max()
        z = (mu - best) / sigma
        ei = (mu - best) * norm.cdf(z) + sigma * norm.pdf(z)
        ei = self._diverse(ei, V, history)
        if not np.isfinite(ei).any():  # every candidate repeats a configuration already tried
            return self.random.propose(history, families, fits)
        if fits is not None:  # the best candidate that fits in the time left
            for i in np.argsort(-ei, kind="stable"):
                if not np.isfinite(ei[i]):
                    break
                config = self.encoder.decode(V[i])
                if fits(config):
                    return config, "surrogate"
            return self.random.propose(history, families, fits)
        order = [int(i) for i in np.argsort(-ei, kind="stable")[:RANKED_KEPT + 1] if np.isfinite(ei[i])]
        if families is None:
            self._ranked_model, self._ranked = model, [V[i] for i in order[1:]]
        return self.encoder.decode(V[order[0]]), "surrogate"

    def _runner_up(self, history) -> set[str] | None:
        """One of the ``RUNNER_UPS`` families ranked after the incumbent's by their best loss (at the highest
        fidelity run), in turn; None while fewer than two families have finished. A surrogate that settles on
        one family leaves the ensemble near-copies of one model; tuning the next families too gives the
        greedy selection members whose errors differ (on small data the random strategy's ensembles gained
        more over their single best than the model-based ones, because their members were of several
        families)."""
        ok = history.ok()
        if not ok:
            return None
        top = max(t.fidelity for t in ok)
        best: dict[str, float] = {}
        for t in ok:
            if t.fidelity == top and t.loss < best.get(t.family, np.inf):
                best[t.family] = t.loss
        ranked = sorted(best, key=lambda f: (best[f], f))[1:1 + RUNNER_UPS]
        if not ranked:
            return None
        self._turn += 1
        return {ranked[self._turn % len(ranked)]}

    def _diverse(self, ei: np.ndarray, V: np.ndarray, history) -> np.ndarray:
        """Candidates within ``MIN_DISTANCE`` (max-norm in the unit cube) of a configuration this run already
        tried lose their EI: on small, flat problems the forest otherwise proposes near-copies of its best."""
        ei = ei.copy()
        for key, seen in self._tried_blocks(history).items():  # only same-family configurations can be near
            rows = np.flatnonzero(V[:, self.encoder.index[key]] == 1.0)
            if not len(rows):
                continue
            block = V[rows, self.encoder.span(key)].astype(np.float32)
            dist = np.abs(block[:, None, :] - seen[None, :, :]).max(axis=2).min(axis=1)
            ei[rows[dist < MIN_DISTANCE]] = -np.inf
        return ei

    def _tried_blocks(self, history) -> dict[str, np.ndarray]:
        """Per family, the unit-cube blocks of every configuration tried in ``history``; trials are only ever
        appended, so each is encoded once and the arrays grow by the new trials alone."""
        if self._tried_of is not history:
            self._tried_of, self._tried, self._tried_n = history, {}, 0
        new: dict[str, list] = {}
        for t in history.trials[self._tried_n:]:
            v = self._encode(t)
            if v is not None:
                key = t.config["family"]
                new.setdefault(key, []).append(v[self.encoder.span(key)])
        self._tried_n = len(history.trials)
        for key, rows in new.items():
            block = np.array(rows, dtype=np.float32)
            self._tried[key] = np.vstack([self._tried[key], block]) if key in self._tried else block
        return self._tried
