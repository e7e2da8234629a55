"""Pure ranking logic: per-dataset normalised scores, similarity-weighted expectations, diversity.

Works on small arrays (the evaluations of the k nearest datasets) in plain numpy / Python: at a
thousand rows that is faster than any data-frame machinery.

* Normalised score, within one (dataset, metric, validation scheme: :func:`comparable_groups`), over its
  ``ok`` evaluations with a finite loss at any fidelity: ``1`` for the best loss, ``0`` at the 90th
  percentile of losses or worse (the maximum when the dataset has fewer than 5 evaluations), linear in
  between. Clipping at a quantile keeps one terrible configuration from squashing all the others
  together. All-equal losses score 1.
* A configuration's score on a dataset is the mean normalised score at the highest fidelity it was
  evaluated at there. Its evidence weight is ``similarity x that fidelity``.
* ``expected = (sum w * s + 0.5 * PRIOR_WEIGHT) / (sum w + PRIOR_WEIGHT)``: a similarity-weighted mean
  shrunk toward 0.5, so one lucky score on one far dataset does not beat consistent scores on several.
* Suggestions are chosen to complement each other (a portfolio local to the neighbours, as
  auto-sklearn 2.0's greedy portfolio but weighted by similarity): each pick is the configuration that
  most raises ``sum over neighbours of similarity x the best score among the picks so far`` (a score
  at fidelity f counts f times; a configuration not evaluated on a neighbour counts 0 there). The first
  pick is the best on the nearest data; the next ones cover the neighbours the first does not, each
  chosen by what it adds per second: its gain divided by its typical cost (:func:`typical_cost`, the
  similarity-weighted geometric mean over the neighbours of its fit seconds relative to each one's
  median configuration, :func:`relative_seconds`), so a cheap configuration that covers a neighbour comes
  before a slow one that covers it a little better. Once no configuration adds anything, the rest
  follow by expected score. Never two of one family whose
  hyperparameter distance (:func:`config_distance`) is below ``epsilon``. How this order compares with
  the alternatives in leave-one-out over the seed: ``docs/knowledge-base.md`` (Measured choices).
* The query's own lineage (the stored versions of the same table, ``Plan(own=...)``) comes first: up to
  ``OWN_HISTORY_N`` of its complementary picks (origin ``"previous version"``), then the other neighbours'
  picks; its rows also lead the surrogate's prior. A timed fit names the lineage's configurations it estimates
  cannot run at full fidelity within one trial (``own_over_cap``): the picks are made among the others, and
  only when every candidate is over, the best one alone is kept (:func:`select_within_cap`).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Iterable

import numpy as np

from .records import OWN_HISTORY_ORIGIN, Neighbour, PriorObservation, Suggestion

CLIP_QUANTILE = 0.9
MIN_FOR_QUANTILE = 5
PRIOR_WEIGHT = 0.25
DIVERSITY_EPSILON = 0.05
COST_EXPONENT = 1.0  # picks after the first: gain per (relative seconds) ** this


def similarity(distance: float) -> float:
    """Similarity in (0, 1] from a per-dimension RMS distance between scaled meta-feature vectors."""
    return float(math.exp(-max(0.0, distance)))


@dataclass
class Observations:
    """``ok`` evaluations (finite loss) of the neighbours under one metric, as parallel arrays."""

    dataset: np.ndarray  # int
    config: np.ndarray  # uint64 configuration keys
    family: np.ndarray  # object
    fidelity: np.ndarray  # float
    loss: np.ndarray  # float
    normalised: np.ndarray | None = None
    seconds: np.ndarray | None = None  # float, 0 where not recorded

    def __len__(self) -> int:
        return len(self.loss)

    def subset(self, mask: np.ndarray) -> "Observations":
        return Observations(self.dataset[mask], self.config[mask], self.family[mask], self.fidelity[mask],
                            self.loss[mask], None if self.normalised is None else self.normalised[mask],
                            None if self.seconds is None else self.seconds[mask])


OWN_SCHEME_PREFIXES = ("user-valid", "group-", "time-")  # validation schemes scored apart from row-shuffled CV


def comparable_groups(dataset: np.ndarray, protocol: np.ndarray) -> np.ndarray:
    """A key per evaluation under which losses are comparable (for :func:`normalise`): the dataset, and for
    the user's validation set, grouped or time-ordered folds also the protocol (a forward-chaining loss is
    not worse than a shuffled-CV loss of the same configuration, only measured differently). Row-shuffled
    protocols (``cvK``, ``holdoutS``) on the same rows stay comparable with each other; the rows are the
    protocol's suffix (a refresh's subsample, ``;rows=N/M;seed=S``; none: all the dataset's), so evaluations of
    one dataset at several sizes are normalised per size (more rows score better, not the configurations)."""
    schemes = [p if p.startswith(OWN_SCHEME_PREFIXES) else ";" + p.partition(";")[2]
               for p in (p if isinstance(p, str) else "" for p in protocol)]
    codes = {p: i for i, p in enumerate(sorted(set(schemes) | {""}))}
    return np.asarray(dataset, dtype=np.int64) * len(codes) + np.asarray([codes[p] for p in schemes], dtype=np.int64)


def normalise(dataset: np.ndarray, loss: np.ndarray) -> np.ndarray:
    """Normalised score (1 = best) of every loss within its dataset (see the module docstring)."""
    out = np.empty(len(loss), dtype=float)
    for d in np.unique(dataset):
        mask = dataset == d
        values = loss[mask]
        best = values.min()
        ref = np.quantile(values, CLIP_QUANTILE) if len(values) >= MIN_FOR_QUANTILE else values.max()
        span = ref - best
        out[mask] = np.clip((ref - values) / span, 0.0, 1.0) if span > 1e-12 else 1.0
    return out


def relative_seconds(obs: Observations) -> np.ndarray:
    """Each evaluation's fit seconds brought to full fidelity (seconds / fidelity), over the median of its
    dataset's; NaN where no seconds were recorded (0)."""
    out = np.full(len(obs), np.nan)
    if obs.seconds is None:
        return out
    full = obs.seconds / np.maximum(obs.fidelity, 1e-3)
    ok = np.isfinite(full) & (full > 0)
    for d in np.unique(obs.dataset[ok]):
        mask = ok & (obs.dataset == d)
        out[mask] = full[mask] / np.median(full[mask])
    return out


def per_config(obs: Observations) -> dict[tuple[int, int], tuple[float, float, float]]:
    """``(dataset, config) -> (mean normalised score at the highest fidelity, that fidelity, mean relative
    seconds there (:func:`relative_seconds`; NaN when unknown))``."""
    acc: dict[tuple[int, int], list] = {}
    costs = relative_seconds(obs).tolist()
    for d, c, f, v, t in zip(obs.dataset.tolist(), obs.config.tolist(), obs.fidelity.tolist(),
                             obs.normalised.tolist(), costs):
        entry = acc.get((d, c))
        if entry is None or f > entry[0]:
            entry = acc[(d, c)] = [f, 0.0, 0, 0.0, 0]
        elif f != entry[0]:
            continue
        entry[1] += v
        entry[2] += 1
        if t == t:  # not NaN
            entry[3] += t
            entry[4] += 1
    return {key: (total / n, f, cost / k if k else math.nan) for key, (f, total, n, cost, k) in acc.items()}


def expected_scores(pairs: dict[tuple[int, int], tuple[float, float, float]], weights: dict[int, float]
                    ) -> list[tuple[int, float, float, int]]:
    """``(config, expected, evidence, n_datasets)``, best first (shrunk similarity-weighted mean)."""
    acc: dict[int, list] = {}
    for (d, c), (score, fidelity, _) in pairs.items():
        w = weights[d] * fidelity
        entry = acc.setdefault(c, [0.0, 0.0, 0])
        entry[0] += w * score
        entry[1] += w
        entry[2] += 1
    ranked = [(c, (total + 0.5 * PRIOR_WEIGHT) / (evidence + PRIOR_WEIGHT), evidence, n)
              for c, (total, evidence, n) in acc.items()]
    ranked.sort(key=lambda r: (-r[1], -r[2], r[0]))
    return ranked


def prior_rows(obs: Observations, weights: dict[int, float]) -> list[tuple[int, int, float, float, str, float]]:
    """``(dataset, config, fidelity, mean normalised score, family, weight)`` sorted by weight, then score."""
    acc: dict[tuple[int, int, float], list] = {}
    for d, c, f, v, fam in zip(obs.dataset.tolist(), obs.config.tolist(), obs.fidelity.tolist(),
                               obs.normalised.tolist(), obs.family.tolist()):
        entry = acc.setdefault((d, c, f), [0.0, 0, fam])
        entry[0] += v
        entry[1] += 1
    rows = [(d, c, f, total / n, fam, weights[d]) for (d, c, f), (total, n, fam) in acc.items()]
    rows.sort(key=lambda r: (-r[5], -r[3], r[1], r[2]))
    return rows


def config_id_of(key: int) -> str:
    """The 16-hex configuration id of a stored configuration key."""
    return f"{int(key):016x}"


# ------------------------------------------------------------------------------------------ diversity
def _flatten(config: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _value_distance(a: Any, b: Any) -> float:
    if _is_number(a) and _is_number(b):
        if a == b:
            return 0.0
        if a > 0 and b > 0:
            return min(1.0, abs(math.log10(a / b)))
        return min(1.0, abs(a - b) / max(abs(a), abs(b)))
    return 0.0 if a == b else 1.0


def config_distance(a: dict, b: dict) -> float:
    """Hyperparameter distance in [0, 1]: 1 across families; else the mean over (flattened) keys of
    0/1 for categorical values and ``min(1, |log10(a/b)|)`` for positive numbers (relative difference
    otherwise); a key present in only one configuration counts 1."""
    if a.get("family") != b.get("family"):
        return 1.0
    fa, fb = _flatten(a), _flatten(b)
    keys = (set(fa) | set(fb)) - {"family"}
    if not keys:
        return 0.0
    total = sum(_value_distance(fa[k], fb[k]) if k in fa and k in fb else 1.0 for k in keys)
    return total / len(keys)


@dataclass
class Candidate:
    config_id: str
    family: str
    expected: float
    load: Callable[[], dict]  # parses the configuration lazily
    scores: dict[int, float] = field(default_factory=dict)  # neighbour dataset -> score x fidelity
    cost: float = 1.0  # expected fit seconds relative to a typical configuration (see typical_cost)
    _config: dict | None = None

    @property
    def config(self) -> dict:
        if self._config is None:
            self._config = self.load()
        return self._config


def typical_cost(costs: dict[int, float], weights: dict[int, float]) -> float:
    """Similarity-weighted geometric mean of a configuration's relative seconds on the neighbours (``costs``:
    neighbour -> relative seconds, as :func:`per_config` gives them); 1 when none is known."""
    total = evidence = 0.0
    for d, v in costs.items():
        w = weights.get(d, 0.0)
        if v == v and w > 0:  # not NaN
            total += w * math.log(v)
            evidence += w
    return math.exp(total / evidence) if evidence > 0 else 1.0


def select_complementary(candidates: Iterable[Candidate], n: int, weights: dict[int, float], *,
                         epsilon: float = DIVERSITY_EPSILON, cost_exponent: float = COST_EXPONENT) -> list[Candidate]:
    """Up to ``n`` candidates, greedily: first the one that most raises ``sum_d weights[d] x max over the
    picks of scores[d]``, then each the one that raises it most per ``cost ** cost_exponent`` (0: ignore
    cost); once nothing adds, by ``expected`` (the input order); near-duplicates skipped. Returned in the
    order picked (the order to try them in)."""
    pool = list(candidates)
    if n <= 0 or not pool:
        return []
    chosen: list[Candidate] = []
    covered: dict[int, float] = {}  # neighbour -> best score among the picks

    def near(c: Candidate) -> bool:
        return any(o.family == c.family and config_distance(o.config, c.config) < epsilon for o in chosen)

    while len(chosen) < n and pool:
        gains = [sum(weights.get(d, 0.0) * (v - covered.get(d, 0.0)) for d, v in c.scores.items()
                     if v > covered.get(d, 0.0)) for c in pool]
        rates = [g / c.cost ** cost_exponent for g, c in zip(gains, pool)] if chosen and cost_exponent else gains
        order = sorted(range(len(pool)), key=lambda i: -rates[i])  # stable: ties keep the expected order
        pick = next((i for i in order if gains[i] > 1e-12 and not near(pool[i])), None)
        if pick is None:
            break
        c = pool.pop(pick)
        chosen.append(c)
        for d, v in c.scores.items():
            covered[d] = max(covered.get(d, 0.0), v)
    for c in pool:  # nothing adds any more: the rest by expected score
        if len(chosen) >= n:
            break
        if not near(c):
            chosen.append(c)
    return chosen


def select_within_cap(candidates: list[Candidate], n: int, weights: dict[int, float],
                      over_cap: frozenset[str]) -> list[Candidate]:
    """:func:`select_complementary` among the candidates whose id is not in ``over_cap``; when every candidate's
    is, the best one alone (a table's own best is never dropped for lack of a cheaper one)."""
    within = [c for c in candidates if c.config_id not in over_cap]
    if within or not candidates:
        return select_complementary(within, n, weights)
    return select_complementary(candidates, min(n, 1), weights)


def load_json(text: str) -> Callable[[], dict]:
    return lambda: json.loads(text)



@dataclass(frozen=True)
class Material:
    """Neighbours under the metric actually used and their ``ok`` evaluations, normalised per dataset and scheme.

    ``neighbours`` pairs each stored dataset's internal id with its :class:`Neighbour`; ``used`` is the
    requested metric, or the task's default when no neighbour has scores under the requested one.
    """

    task: str
    requested: str
    used: str
    neighbours: list[tuple[int, Neighbour]]
    obs: Observations

    @cached_property
    def by_id(self) -> dict[int, Neighbour]:
        return {did: nb for did, nb in self.neighbours}

    @cached_property
    def weights(self) -> dict[int, float]:
        """Each neighbour's similarity: its evidence weight."""
        return {did: nb.similarity for did, nb in self.neighbours}

    @property
    def note(self) -> str:
        if self.used == self.requested:
            return ""
        return (f"; no similar dataset has {self.requested} evaluations, so these are {self.used} scores "
                f"(the {self.task} default)")


OWN_HISTORY_N = 3  # suggestions from the query's own lineage, tried before the other neighbours' picks


class _Ranking:
    """One material's configurations by expected score: the candidates of its complementary picks."""

    def __init__(self, m: Material, obs: Observations, n: int) -> None:
        self.m = m
        self.family_of = dict(zip(obs.config.tolist(), obs.family.tolist()))
        self.pairs = per_config(obs)
        self.ranked = expected_scores(self.pairs, m.weights)[:max(50, 20 * n)]

    def keys(self) -> set[int]:
        return {c for c, *_ in self.ranked}

    def suggestions(self, texts: dict[int, str], n: int, origin: str, taken: set[str],
                    over_cap: frozenset[str] = frozenset()) -> list[Suggestion]:
        """Up to ``n`` complementary picks (``select_within_cap``) whose ids are not in ``taken``."""
        scores: dict[int, dict[int, float]] = {}
        costs: dict[int, dict[int, float]] = {}
        for (d, c), (score, fidelity, cost) in self.pairs.items():
            scores.setdefault(c, {})[d] = score * fidelity
            costs.setdefault(c, {})[d] = cost
        candidates = [Candidate(config_id_of(c), self.family_of[c], float(expected), load_json(texts[c]),
                                scores.get(c, {}), typical_cost(costs.get(c, {}), self.m.weights))
                      for c, expected, *_ in self.ranked if c in texts and config_id_of(c) not in taken]
        chosen = select_within_cap(candidates, n, self.m.weights, over_cap)
        sources_of = self._sources({int(c.config_id, 16) for c in chosen})
        return [Suggestion(config=c.config, config_id=c.config_id, family=c.family, expected=float(c.expected),
                           explanation=self._explanation(c, sources_of[int(c.config_id, 16)], origin),
                           sources=sources_of[int(c.config_id, 16)], metric=self.m.used, origin=origin)
                for c in chosen]

    def _sources(self, wanted: set[int]) -> dict[int, list[tuple[str, float, float]]]:
        """``(neighbour label, score, distance)`` of each wanted configuration, nearest first."""
        sources_of: dict[int, list] = {}
        for (d, c), (score, *_) in self.pairs.items():
            if c in wanted:
                nb = self.m.by_id[d]
                sources_of.setdefault(c, []).append((nb.name or nb.fingerprint[:12], float(score), float(nb.distance)))
        return {c: sorted(sources, key=lambda t: (t[2], t[0])) for c, sources in sources_of.items()}

    def _explanation(self, c: Candidate, sources: list[tuple[str, float, float]], origin: str) -> str:
        m = self.m
        shown = ", ".join(f"{label!r} (distance {dist:.2f}, score {score:.2f})" for label, score, dist in sources[:3])
        more = f" and {len(sources) - 3} more" if len(sources) > 3 else ""
        whose = "stored version(s) of this data" if origin == OWN_HISTORY_ORIGIN else f"similar {m.task} dataset(s)"
        return (f"{c.family}: expected {c.expected:.2f} (similarity-weighted normalised {m.used}, "
                f"1 = best) from {len(sources)} of {len(m.neighbours)} {whose}: {shown}{more}{m.note}")


class Plan:
    """Suggestions and prior observations ranked without SQL, so their configurations are fetched at once:
    :meth:`keys` names the configurations to fetch, then :meth:`suggestions` and :meth:`observations`
    take their JSON texts by key.

    ``own`` (the stored versions of the query's lineage) comes first: up to ``OWN_HISTORY_N`` of the ``n``
    suggestions (origin ``"previous version"``; none of ``own_over_cap``, unless all are: :func:`select_within_cap`)
    and the first prior rows; ``m`` (the other neighbours) fills the rest.
    """

    def __init__(self, m: Material | None, n: int, families: set[str] | None, limit: int | None,
                 suggest: bool = True, prior: bool = True, own: Material | None = None,
                 own_over_cap: frozenset[str] = frozenset()) -> None:
        self.n = n
        self.own_over_cap = own_over_cap
        self.rankings: list[tuple[_Ranking, int, str]] = []
        self.rows: list[tuple[Material, tuple]] = []
        for material, count, origin in ((own, min(n, OWN_HISTORY_N), OWN_HISTORY_ORIGIN), (m, n, "kb")):
            if material is None:
                continue
            obs = material.obs if families is None else \
                material.obs.subset(np.isin(material.obs.family, np.asarray(sorted(families), dtype=object)))
            if not len(obs):
                continue
            if suggest and count > 0:
                self.rankings.append((_Ranking(material, obs, count), count, origin))
            if prior:
                self.rows += [(material, row) for row in prior_rows(obs, material.weights)]
        if limit is not None:
            self.rows = self.rows[:int(limit)]

    def keys(self) -> set[int]:
        return set().union(*(r.keys() for r, *_ in self.rankings)) | {row[1] for _, row in self.rows}

    def suggestions(self, texts: dict[int, str]) -> list[Suggestion]:
        """The own lineage's picks, then the other neighbours' complementary picks, ``n`` in all."""
        out: list[Suggestion] = []
        for ranking, count, origin in self.rankings:
            over_cap = self.own_over_cap if origin == OWN_HISTORY_ORIGIN else frozenset()
            out += ranking.suggestions(texts, min(count, self.n - len(out)), origin, {s.config_id for s in out},
                                       over_cap)
        return out

    def observations(self, texts: dict[int, str]) -> list[PriorObservation]:
        """The prior rows whose configuration was fetched, each configuration parsed once."""
        parsed: dict[int, dict] = {}
        out = []
        for m, (d, c, f, v, fam, w) in self.rows:
            if c not in texts:
                continue
            config = parsed.get(c)
            if config is None:
                config = parsed[c] = json.loads(texts[c])
            out.append(PriorObservation(config=config, config_id=config_id_of(c), family=fam, fidelity=float(f),
                                        normalised_score=float(v), weight=float(w),
                                        fingerprint=m.by_id[d].fingerprint, metric=m.used))
        return out


__all__ = ["similarity", "Observations", "comparable_groups", "normalise", "per_config", "relative_seconds",
           "typical_cost", "expected_scores", "prior_rows", "config_id_of", "config_distance", "Candidate",
           "select_complementary", "select_within_cap", "Material", "Plan", "OWN_HISTORY_N", "CLIP_QUANTILE",
           "PRIOR_WEIGHT", "DIVERSITY_EPSILON", "COST_EXPONENT"]
