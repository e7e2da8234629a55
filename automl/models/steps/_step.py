"""The pipeline-step record and its registry (the model registry's mechanism, a second instance).

A step fills one slot of a family's pipeline (``SLOTS``, in pipeline order). A family names the slots it takes
and its default step in each (``Family.steps``); its space then holds one categorical parameter per slot (the
step keys that apply to it, plus ``none`` for the optional slots) and each step's own parameters, prefixed
``<step key>__`` and active only when that step is chosen. A slot the data gives no work (``unused_slots``: ``text``
on a table without text columns) is left out of the search's spaces.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from ...data import text_columns
from ...exceptions import InputError
from ...space import Categorical, Condition, Param
from ..registry import Registry

SLOTS = ("text", "missing", "categorical_encoding", "numeric_transform", "selection", "construction")
OPTIONAL = ("numeric_transform", "selection", "construction")  # slots where ``none`` (identity) is a choice
NONE = "none"
WHOLE_SLOT = "*"  # ``<slot>:*`` among a family's excluded steps: the slot is not searched (its default builds it)


@dataclass(frozen=True)
class Step:
    """One pipeline step. ``build(params, task, seed)`` returns an unfitted scikit-learn transformer (``params``:
    the step's own values, unprefixed) that takes the previous stage's output: the cleaned table for ``text``
    (it replaces the text columns), a DataFrame of category columns for ``categorical_encoding``, a float matrix
    for the other slots. ``families``: the family keys it serves (empty: every family that takes the slot);
    ``needs_imputed``: only for families whose input is imputed
    (those that take a numeric transform: the linear, k-NN, MLP and SVM families), e.g. because it cannot
    read NaN (or, for ``missing``, because the others read NaN themselves). ``may_emit_nan``: its output can hold NaN (an imputer follows it for imputed families).
    ``columns(n, params)``: how many columns it makes of ``n`` (None: ``n``), for the memory estimate of a trial
    (``automl.search.trial_memory``)."""

    key: str
    slot: str
    build: Callable
    params: tuple[Param, ...] = ()
    families: tuple[str, ...] = ()
    needs_imputed: bool = False
    may_emit_nan: bool = False
    columns: Callable[[int, dict], int] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key.isidentifier() or self.key == NONE:
            raise ValueError(f"a pipeline step needs an identifier other than 'none' as its key; got {self.key!r}")
        if self.slot not in SLOTS:
            raise ValueError(f"step {self.key!r}: slot must be one of {', '.join(SLOTS)}; got {self.slot!r}")
        if not callable(self.build):
            raise ValueError(f"step {self.key!r}: build must be callable")
        object.__setattr__(self, "params", tuple(self.params))
        object.__setattr__(self, "families", tuple(self.families))
        if any(p.condition is not None for p in self.params):
            raise ValueError(f"step {self.key!r}: its parameters take no condition (they are active with the step)")

    def applies_to(self, family) -> bool:
        return ((not self.families or family.key in self.families)
                and (not self.needs_imputed or family.imputed))

    def values(self, config: dict) -> dict:
        """The step's own parameters out of an expanded configuration (prefix removed)."""
        return {p.name: config[f"{self.key}__{p.name}"] for p in self.params}


STEPS = Registry("pipeline step", Step)
_SPACES: dict = {}


def step_params(family) -> tuple[Param, ...]:
    """The pipeline part of ``family``'s space (cached until a step is registered or removed)."""
    key = (family.key, family.steps, family.excluded_steps, STEPS.version)
    if key not in _SPACES:
        out: list[Param] = []
        for slot, default in sorted(family.steps, key=lambda s: SLOTS.index(s[0])):
            if f"{slot}:{WHOLE_SLOT}" in family.excluded_steps:
                continue
            offered = [s for s in STEPS.values() if s.slot == slot and s.applies_to(family)]
            keys = ([NONE] if slot in OPTIONAL else []) + [s.key for s in offered]
            if default not in keys:
                raise ValueError(f"family {family.key!r}: the default {slot} {default!r} is not a registered step "
                                 f"for it; valid: {', '.join(keys)}")
            chosen = [s for s in offered if s.key not in family.excluded_steps]
            keys = [k for k in keys if k not in family.excluded_steps and f"{slot}:{k}" not in family.excluded_steps]
            if not keys:
                raise InputError(f"the excluded steps leave family {family.key!r} no {slot}")
            default = default if default in keys else keys[0]
            out.append(Categorical(slot, tuple(keys), default))
            for s in chosen:
                out += [replace(p, name=f"{s.key}__{p.name}", condition=Condition(parent=slot, values=(s.key,)))
                        for p in s.params]
        _SPACES.clear() if len(_SPACES) > 256 else None
        _SPACES[key] = tuple(out)
    return _SPACES[key]


def unused_slots(X) -> tuple[str, ...]:
    """``Family.without_steps`` keys for the slots the cleaned table ``X`` gives no work: ``text`` without text
    columns (every text step builds the same model there), so such a search varies what it did before the slot
    existed and its configurations keep their ids."""
    return () if text_columns(X) else (f"text:{WHOLE_SLOT}",)


def uses_any(config: dict, keys, family=None) -> bool:
    """``config`` (stored form: omitted slots are its family's defaults) chooses one of the steps ``keys`` in a
    slot ``family`` (the search's, default: the registered one) still has: a slot the table gives no work
    (``unused_slots``) builds nothing, so excluding its default does not exclude every stored configuration."""
    from ..registry import REGISTRY
    if config.get("family") not in REGISTRY:
        return False
    registered = REGISTRY.get(config["family"])
    family = registered if family is None else family
    full = registered.expanded(config)
    slots = [slot for slot, _ in family.steps if f"{slot}:{WHOLE_SLOT}" not in family.excluded_steps]
    return any(full.get(slot) in keys or f"{slot}:{full.get(slot)}" in keys for slot in slots)


def describe(config: dict) -> str:
    """The chosen non-default-free pipeline of a stored configuration, e.g. ``quantile > percentile(50) > linear``:
    the steps named in it (a stored configuration omits the family's defaults), then the family."""
    parts = []
    for slot in SLOTS:
        key = config.get(slot)
        if key is None:
            continue
        own = [f"{v:g}" if isinstance(v, float) else str(v) for k, v in config.items() if k.startswith(f"{key}__")]
        parts.append(f"{key}({','.join(own)})" if own else str(key))
    return " > ".join([*parts, str(config.get("family", "?"))])
