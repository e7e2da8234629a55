"""An explicit, ordered model registry: one entry per family.

Adding a family is one new module and one ``register`` call. Lookups of unknown keys list the
valid ones; duplicate keys are refused.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..exceptions import InputError
from ..space import Param, encode_params, mutate_params, sample_params


@dataclass(frozen=True)
class Family:
    key: str
    tasks: tuple[str, ...]
    params: tuple[Param, ...]
    build: Callable  # build(config, task, n_rows, n_classes, seed) -> sklearn estimator taking cleaned X
    defaults: tuple[dict, ...] = field(default_factory=tuple)  # extra hand-chosen configurations
    max_rows: int | None = None  # the family is skipped on larger data (e.g. kNN, MLP)
    cost: float = 1.0  # relative cost hint for the scheduler

    def default_config(self) -> dict:
        return {"family": self.key, **{p.name: p.default for p in self.params}}

    def sample(self, rng) -> dict:
        return {"family": self.key, **sample_params(self.params, rng)}

    def mutate(self, config: dict, rng) -> dict:
        return {"family": self.key, **{k: v for k, v in mutate_params(self.params, config, rng).items()
                                       if k != "family"}}

    def encode(self, config: dict) -> list[float]:
        return encode_params(self.params, config)

    def complete(self, config: dict) -> dict:
        """The configuration with every parameter present (defaults filled in), unknown keys dropped."""
        names = {p.name for p in self.params}
        out = {"family": self.key, **{p.name: p.default for p in self.params}}
        out.update({k: v for k, v in config.items() if k in names})
        return out


class Registry:
    def __init__(self) -> None:
        self._families: dict[str, Family] = {}
        self._builtin: set[str] = set()

    def mark_builtin(self) -> None:
        self._builtin = set(self._families)

    def user_families(self) -> list[Family]:
        """Families registered by the user (shipped to worker processes with the data)."""
        return [f for k, f in self._families.items() if k not in self._builtin]

    def ensure(self, families: list[Family]) -> None:
        for family in families:
            if family.key not in self._families:
                self._families[family.key] = family

    def register(self, family: Family) -> Family:
        if family.key in self._families:
            raise ValueError(f"model family {family.key!r} is already registered")
        self._families[family.key] = family
        return family

    def unregister(self, key: str) -> None:
        self._families.pop(key, None)

    def get(self, key: str) -> Family:
        try:
            return self._families[key]
        except KeyError:
            raise InputError(f"unknown model family {key!r}; valid: {', '.join(self._families)}") from None

    def keys(self) -> list[str]:
        return list(self._families)

    def for_task(self, task: str, n_rows: int) -> list[Family]:
        return [f for f in self._families.values()
                if task in f.tasks and (f.max_rows is None or n_rows <= f.max_rows)]

    def __contains__(self, key: str) -> bool:
        return key in self._families


REGISTRY = Registry()
