"""Search-space primitives: frozen, validated, JSON round-trippable hyperparameter domains.

A configuration is a plain dict ``{"family": key, name: value, ...}``; its id is
``knowledge_base.canonical.config_id(config)``. The space is conditional: on the model family (each
family in ``automl.models`` declares its own tuple of parameters), and per parameter on a ``Condition``
(the task, another parameter's value). A configuration holds its family's *active* parameters only
(``canonical``), so two configurations that build the same model have the same id. ``SPACE_VERSION``
changes whenever a family's space or the meaning of a value changes, so the knowledge base never mixes spaces.

Surrogates see a configuration as a point of the unit cube (``to_unit`` / ``encode_params``: log
scales where declared, a categorical as the centre of its slot, an inactive parameter as ``INACTIVE``
= -1, outside the cube, as SMAC encodes them for its random forest); local search moves in that cube
(``mutate_params``, ``neighbours``). Sampling, defaults, mutation and neighbours all end in ``canonical``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Optional, Union

import numpy as np

from .exceptions import plain_repr

SPACE_VERSION = "2"
INACTIVE = -1.0  # the unit-cube value of an inactive parameter (outside [0, 1])

_SCALARS = (str, int, float, bool, type(None))


def _check_name(kind: str, name) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a {kind} parameter needs an identifier as its name; got {name!r}")


def _check_condition(p) -> None:
    c = p.condition
    if isinstance(c, dict):  # from JSON
        c = Condition(**c)
        object.__setattr__(p, "condition", c)
    if c is not None and not isinstance(c, Condition):
        raise ValueError(f"the condition of {p.name!r} must be a Condition; got {c!r}")


def _check_bounds(kind: str, name: str, low, high, default, log: bool) -> None:
    for label, v in (("low", low), ("high", high), ("default", default)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"the {label!r} of {kind} {name!r} must be a finite number; got {v!r}")
    if not low < high:
        raise ValueError(f"{kind} {name!r} needs low < high; got low={low!r} high={high!r}")
    if log and low <= 0:
        raise ValueError(f"{kind} {name!r} is on a log scale, so low must be > 0; got {low!r}")
    if not low <= default <= high:
        raise ValueError(f"the default of {kind} {name!r} must lie in [{low!r}, {high!r}]; got {default!r}")


@dataclass(frozen=True)
class Condition:
    """When a parameter is active: every clause given holds. ``tasks``: the task is one of them;
    ``parent``: that (active) parameter's value is one of ``values``, or truthy when ``values`` is empty."""

    tasks: tuple[str, ...] = ()
    parent: Optional[str] = None
    values: tuple = ()

    def __post_init__(self) -> None:
        for attr in ("tasks", "values"):
            v = getattr(self, attr)
            if not isinstance(v, (list, tuple)):
                raise ValueError(f"the {attr!r} of a Condition must be a list; got {v!r}")
            object.__setattr__(self, attr, tuple(v))
        if self.parent is not None:
            _check_name("Condition's parent", self.parent)
        elif self.values:
            raise ValueError(f"a Condition with values {self.values!r} needs a parent parameter")
        if any(not isinstance(v, _SCALARS) for v in self.values):
            raise ValueError(f"the values of a Condition must be JSON scalars; got {self.values!r}")
        if not self.tasks and self.parent is None:
            raise ValueError("a Condition needs tasks, a parent parameter, or both")

    def holds(self, values: dict, task: Optional[str]) -> bool:
        """``values``: the active parameters decided so far (the parent's value, when active). ``task`` None
        (not known) lets every task clause hold."""
        if self.tasks and task is not None and task not in self.tasks:
            return False
        if self.parent is None:
            return True
        if self.parent not in values:
            return False
        v = values[self.parent]
        return _member(v, self.values) if self.values else bool(v)


def _member(v, choices) -> bool:
    """``v`` is one of ``choices`` with the same type (``True`` is not ``1``)."""
    return any(type(v) is type(c) and v == c for c in choices)


@dataclass(frozen=True)
class _Range:
    """A bounded numeric domain (``Float``, ``Int``): finite bounds, the default inside them, a log scale only
    above 0; bounds and default are stored as ``_cast`` values, ``log`` as a bool."""

    name: str
    low: float
    high: float
    default: float
    log: bool = False
    condition: Optional[Condition] = None
    _cast: ClassVar[type] = float

    def __post_init__(self) -> None:
        kind = type(self).__name__
        _check_name(kind, self.name)
        _check_condition(self)
        self._check_values()
        _check_bounds(kind, self.name, self.low, self.high, self.default, self.log)
        for attr in ("low", "high", "default"):
            object.__setattr__(self, attr, self._cast(getattr(self, attr)))
        object.__setattr__(self, "log", bool(self.log))

    def _check_values(self) -> None:
        """What this kind of range asks of its bounds and default beyond being finite numbers (nothing here)."""


@dataclass(frozen=True)
class Float(_Range):
    def contains(self, v) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and self.low <= v <= self.high

    def clip(self, v) -> float:
        try:
            v = float(v)
        except (TypeError, ValueError):
            return self.default
        return self.default if not math.isfinite(v) else min(max(v, self.low), self.high)

    def to_unit(self, v: float) -> float:
        v = self.clip(v)
        if self.log:
            return (math.log(v) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (v - self.low) / (self.high - self.low)

    def from_unit(self, u: float) -> float:
        u = min(max(float(u), 0.0), 1.0)
        if self.log:
            return float(math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low))))
        return float(self.low + u * (self.high - self.low))


@dataclass(frozen=True)
class Int(_Range):
    _cast: ClassVar[type] = int

    def _check_values(self) -> None:
        for label in ("low", "high", "default"):
            v = getattr(self, label)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ValueError(f"the {label!r} of Int {self.name!r} must be an integer; got {v!r}")

    def _span(self) -> tuple[float, float]:
        # each integer owns an equal slice of the (log) unit interval [low, high + 0.999]
        lo, hi = float(self.low), self.high + 0.999
        return (math.log(lo), math.log(hi)) if self.log else (lo, hi)

    def contains(self, v) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and self.low <= v <= self.high

    def clip(self, v) -> int:
        try:
            v = float(v)
        except (TypeError, ValueError):
            return self.default
        return self.default if not math.isfinite(v) else int(min(max(round(v), self.low), self.high))

    def to_unit(self, v: int) -> float:
        lo, hi = self._span()
        x = float(self.clip(v))
        return ((math.log(x) if self.log else x) - lo) / (hi - lo)

    def from_unit(self, u: float) -> int:
        lo, hi = self._span()
        x = lo + min(max(float(u), 0.0), 1.0) * (hi - lo)
        return int(min(self.high, max(self.low, math.floor((math.exp(x) if self.log else x) + 1e-9))))


@dataclass(frozen=True)
class Categorical:
    name: str
    choices: tuple
    default: Any
    condition: Optional[Condition] = None

    def __post_init__(self) -> None:
        _check_name("Categorical", self.name)
        _check_condition(self)
        choices = tuple(self.choices) if isinstance(self.choices, (list, tuple)) else None
        if not choices:
            raise ValueError(f"Categorical {self.name!r} needs a non-empty list of choices; got {self.choices!r}")
        if any(not isinstance(c, _SCALARS) for c in choices):
            raise ValueError(f"the choices of Categorical {self.name!r} must be JSON scalars; got {choices!r}")
        if len({(type(c), c) for c in choices}) != len(choices):
            raise ValueError(f"the choices of Categorical {self.name!r} must be distinct; got {choices!r}")
        if self.default not in choices:
            raise ValueError(f"the default of Categorical {self.name!r} must be one of {choices!r}; "
                             f"got {self.default!r}")
        object.__setattr__(self, "choices", choices)

    def contains(self, v) -> bool:
        return _member(v, self.choices)

    def clip(self, v):
        return v if self.contains(v) else self.default

    def to_unit(self, v) -> float:
        idx = self.choices.index(v) if self.contains(v) else self.choices.index(self.default)
        return (idx + 0.5) / len(self.choices)

    def from_unit(self, u: float):
        return self.choices[min(len(self.choices) - 1, max(0, int(float(u) * len(self.choices))))]


Param = Union[Float, Int, Categorical]
_KINDS = {"float": Float, "int": Int, "categorical": Categorical}
_KIND_OF = {Float: "float", Int: "int", Categorical: "categorical"}


def param_to_json(p: Param) -> dict:
    d = asdict(p)
    d["kind"] = _KIND_OF[type(p)]
    if "choices" in d:
        d["choices"] = list(d["choices"])
    if d["condition"] is None:
        del d["condition"]
    else:
        d["condition"] = {k: list(v) if isinstance(v, tuple) else v for k, v in d["condition"].items()}
    return d


def param_from_json(d: dict) -> Param:
    d = dict(d)
    kind = d.pop("kind", None)
    if kind not in _KINDS:
        raise ValueError(f"unknown parameter kind {kind!r}; valid: {', '.join(_KINDS)}")
    if kind == "categorical":
        d["choices"] = tuple(d.get("choices") or ())
    return _KINDS[kind](**d)


def space_to_json(families) -> dict:
    """The conditional space of ``families`` (objects with ``key`` and ``params``) as JSON data."""
    return {"version": SPACE_VERSION,
            "families": {f.key: [param_to_json(p) for p in f.params] for f in families}}


def space_from_json(doc: dict) -> dict[str, tuple[Param, ...]]:
    """``{family key: parameters}`` from :func:`space_to_json` (a space of another version is refused)."""
    if str(doc.get("version")) != SPACE_VERSION:
        raise ValueError(f"search space version {doc.get('version')!r} is not {SPACE_VERSION!r}")
    return {key: tuple(param_from_json(p) for p in params) for key, params in doc["families"].items()}


def check_conditions(params: tuple[Param, ...]) -> None:
    """Every condition's parent is an earlier parameter (so one pass in order decides activity) and its
    values are among the parent's choices; ValueError otherwise."""
    seen: dict[str, Param] = {}
    for p in params:
        c = p.condition
        if c is not None and c.parent is not None:
            parent = seen.get(c.parent)
            if parent is None:
                raise ValueError(f"the condition of {p.name!r} names {c.parent!r}, which is not an earlier parameter")
            bad = [v for v in c.values if not parent.contains(v)]
            if bad:
                raise ValueError(f"the condition of {p.name!r} names values {bad!r} outside {c.parent!r}'s domain")
        seen[p.name] = p


def canonical(params: tuple[Param, ...], config: dict, task: Optional[str]) -> dict:
    """The active parameters of ``config`` for ``task`` (in ``params`` order), each value brought into its
    domain or its default when missing; unknown and inactive names dropped. The one form a configuration
    is hashed, stored and built in (``task`` None: task clauses hold)."""
    out: dict = {}
    for p in params:
        if p.condition is None or p.condition.holds(out, task):
            out[p.name] = p.clip(config[p.name]) if p.name in config else p.default
    return out


def active(params: tuple[Param, ...], config: dict, task: Optional[str]) -> list[bool]:
    """Per parameter: active in ``config`` for ``task``."""
    names = canonical(params, config, task)
    return [p.name in names for p in params]


def check_config(params: tuple[Param, ...], config: dict, task: Optional[str] = None) -> list[str]:
    """Problems of ``config`` against ``params`` (unknown or inactive names, values outside the domain);
    empty when valid."""
    names = {p.name for p in params}
    problems = [f"unknown parameter {k!r}" for k in config if k != "family" and k not in names]
    live = canonical(params, config, task)
    problems += [f"parameter {k!r} is inactive here" for k in config if k in names and k not in live]
    for p in params:
        if p.name in config and not p.contains(config[p.name]):
            problems.append(f"{p.name}={plain_repr(config[p.name])} is outside its domain")
    return problems


def _active_mask(params: tuple[Param, ...], U: np.ndarray, task: Optional[str]) -> np.ndarray:
    """Per row of snapped unit-cube points ``U`` and per parameter: active (vectorised ``active``)."""
    mask = np.ones(U.shape, dtype=bool)
    index = {p.name: j for j, p in enumerate(params)}
    for j, p in enumerate(params):
        c = p.condition
        if c is None:
            continue
        if c.tasks and task is not None and task not in c.tasks:
            mask[:, j] = False
            continue
        if c.parent is not None:
            k = index[c.parent]
            parent = params[k]
            values = np.array([parent.from_unit(u) for u in U[:, k]], dtype=object)
            hold = np.array([_member(v, c.values) if c.values else bool(v) for v in values], dtype=bool)
            mask[:, j] = mask[:, k] & hold
    return mask


def snap_unit(params: tuple[Param, ...], U: np.ndarray, task: Optional[str] = None) -> np.ndarray:
    """Unit-cube points (rows of ``U``, one column per parameter) moved to the encoding of the value they
    decode to (integers and categories own slices of the interval; inactive parameters ``INACTIVE``):
    vectorised ``encode_params(decode_params(u))``."""
    U = np.clip(np.asarray(U, dtype=float), 0.0, 1.0)
    out = U.copy()
    for j, p in enumerate(params):
        if isinstance(p, Categorical):
            n = len(p.choices)
            out[:, j] = (np.minimum(np.floor(U[:, j] * n), n - 1) + 0.5) / n
        elif isinstance(p, Int):
            lo, hi = p._span()
            x = lo + U[:, j] * (hi - lo)
            v = np.clip(np.floor((np.exp(x) if p.log else x) + 1e-9), p.low, p.high)
            out[:, j] = ((np.log(v) if p.log else v) - lo) / (hi - lo)
    if any(p.condition is not None for p in params):
        out[~_active_mask(params, out, task)] = INACTIVE
    return out


def decode_params(params: tuple[Param, ...], u, task: Optional[str] = None) -> dict:
    """The canonical configuration values of a unit-cube point (inverse of :func:`encode_params` on
    snapped points)."""
    return canonical(params, {p.name: p.from_unit(float(x)) for p, x in zip(params, u)}, task)


def sample_params(params: tuple[Param, ...], rng: np.random.Generator, task: Optional[str] = None) -> dict:
    """A uniform point of the unit cube, decoded (one draw per parameter, active or not: the stream does
    not depend on the conditions)."""
    return decode_params(params, rng.random(len(params)), task)


def encode_params(params: tuple[Param, ...], config: dict, task: Optional[str] = None) -> list[float]:
    """Unit-cube vector of a configuration (the default for a missing active value, ``INACTIVE`` for an
    inactive parameter)."""
    live = canonical(params, config, task)
    return [p.to_unit(live[p.name]) if p.name in live else INACTIVE for p in params]


def _full(params: tuple[Param, ...], config: dict) -> dict:
    """Every parameter with a value (its default where ``config`` has none): what a move starts from, so a
    parameter a move activates gets its default."""
    return {p.name: p.clip(config[p.name]) if p.name in config else p.default for p in params}


def mutate_params(params: tuple[Param, ...], config: dict, rng: np.random.Generator, scale: float = 0.15,
                  task: Optional[str] = None) -> dict:
    """A local neighbour: each value moves by a Gaussian step in the unit cube with probability 1/2
    (canonical: a move never leaves an inactive parameter in the configuration)."""
    out = _full(params, config)
    for p in params:
        if rng.random() < 0.5:
            u = p.to_unit(out[p.name])
            out[p.name] = p.from_unit(rng.random() if isinstance(p, Categorical) else u + rng.normal(0, scale))
    return canonical(params, out, task)


def neighbours(params: tuple[Param, ...], config: dict, rng: np.random.Generator, n: int = 4,
               scale: float = 0.1, task: Optional[str] = None) -> list[dict]:
    """One-exchange neighbours (as in SMAC's local search): ``n`` per active parameter, one value changed
    each, canonical (a changed parent may activate or drop its children)."""
    full = _full(params, config)
    base = canonical(params, full, task)
    out = []
    for p in params:
        if p.name not in base:
            continue
        current = full[p.name]
        for _ in range(n):
            if isinstance(p, Categorical):
                others = [c for c in p.choices if not (type(c) is type(current) and c == current)]
                if not others:
                    break
                value = others[int(rng.integers(len(others)))]
            else:
                value = p.from_unit(p.to_unit(current) + rng.normal(0, scale))
            if value != current:
                out.append(canonical(params, {**full, p.name: value}, task))
    return out
