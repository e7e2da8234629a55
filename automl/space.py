"""Search-space primitives: frozen, validated, JSON round-trippable hyperparameter domains.

A configuration is a plain dict ``{"family": key, name: value, ...}``; its id is
``knowledge_base.canonical.config_id(config)``. ``SPACE_VERSION`` changes whenever a family's
space or the meaning of a value changes, so the knowledge base never mixes spaces.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Union

import numpy as np

SPACE_VERSION = "1"


@dataclass(frozen=True)
class Float:
    name: str
    low: float
    high: float
    default: float
    log: bool = False

    def __post_init__(self) -> None:
        if not (self.low < self.high) or (self.log and self.low <= 0) or not (self.low <= self.default <= self.high):
            raise ValueError(f"bad Float {self.name}: low={self.low} high={self.high} default={self.default}")

    def to_unit(self, v: float) -> float:
        v = min(max(float(v), self.low), self.high)
        if self.log:
            return (math.log(v) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (v - self.low) / (self.high - self.low)

    def from_unit(self, u: float) -> float:
        u = min(max(float(u), 0.0), 1.0)
        if self.log:
            return float(math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low))))
        return float(self.low + u * (self.high - self.low))


@dataclass(frozen=True)
class Int:
    name: str
    low: int
    high: int
    default: int
    log: bool = False

    def __post_init__(self) -> None:
        if not (self.low < self.high) or (self.log and self.low <= 0) or not (self.low <= self.default <= self.high):
            raise ValueError(f"bad Int {self.name}: low={self.low} high={self.high} default={self.default}")

    def to_unit(self, v: int) -> float:
        return Float(self.name, self.low, self.high + 0.999, self.low, self.log).to_unit(v)

    def from_unit(self, u: float) -> int:
        return int(min(self.high, math.floor(Float(self.name, self.low, self.high + 0.999, self.low,
                                                     self.log).from_unit(u))))


@dataclass(frozen=True)
class Categorical:
    name: str
    choices: tuple
    default: Any

    def __post_init__(self) -> None:
        if len(self.choices) < 1 or self.default not in self.choices:
            raise ValueError(f"bad Categorical {self.name}: choices={self.choices} default={self.default}")
        object.__setattr__(self, "choices", tuple(self.choices))

    def to_unit(self, v) -> float:
        idx = self.choices.index(v) if v in self.choices else 0
        return (idx + 0.5) / len(self.choices)

    def from_unit(self, u: float):
        return self.choices[min(len(self.choices) - 1, int(float(u) * len(self.choices)))]


Param = Union[Float, Int, Categorical]
_KINDS = {"float": Float, "int": Int, "categorical": Categorical}


def param_to_json(p: Param) -> dict:
    d = asdict(p)
    d["kind"] = {Float: "float", Int: "int", Categorical: "categorical"}[type(p)]
    if "choices" in d:
        d["choices"] = list(d["choices"])
    return d


def param_from_json(d: dict) -> Param:
    d = dict(d)
    kind = _KINDS[d.pop("kind")]
    if kind is Categorical:
        d["choices"] = tuple(d["choices"])
    return kind(**d)


def sample_params(params: tuple[Param, ...], rng: np.random.Generator) -> dict:
    return {p.name: p.from_unit(rng.random()) for p in params}


def encode_params(params: tuple[Param, ...], config: dict) -> list[float]:
    """Unit-cube vector of a configuration (the default for a missing value)."""
    return [p.to_unit(config.get(p.name, p.default)) for p in params]


def mutate_params(params: tuple[Param, ...], config: dict, rng: np.random.Generator, scale: float = 0.15) -> dict:
    """A local neighbour: each value moves by a Gaussian step in the unit cube with probability 1/2."""
    out = dict(config)
    for p in params:
        if rng.random() < 0.5:
            u = p.to_unit(config.get(p.name, p.default))
            out[p.name] = p.from_unit(rng.random() if isinstance(p, Categorical) else u + rng.normal(0, scale))
    return out
