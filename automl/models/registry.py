"""An explicit, ordered model registry: one entry per family.

Adding a family is one new module and one ``register`` call. Lookups of unknown keys list the
valid ones; duplicate keys are refused.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable

from metafeatures import TASKS

from ..exceptions import InputError
from ..space import (Condition, Param, canonical, check_conditions, check_config, encode_params, mutate_params,
                     neighbours, sample_params)
from .boosting import Boosting

CLASSIFICATION = Condition(tasks=("binary", "multiclass"))  # e.g. class_weight: classifiers only read it
REGRESSION = Condition(tasks=("regression",))
# the pipeline slots a family takes and its default step in each (``automl.models.steps``): the fixed
# preprocessing these families had before steps were choices, and TF-IDF + SVD features of free-text columns
DENSE_STEPS = (("text", "tfidf_svd"), ("missing", "median_indicator"), ("categorical_encoding", "onehot"),
               ("numeric_transform", "standard"), ("selection", "none"), ("construction", "none"))
TREE_STEPS = (("text", "tfidf_svd"), ("categorical_encoding", "ordinal"), ("selection", "none"))
TEXT_STEPS = (("text", "tfidf_svd"),)  # (LightGBM: it reads numbers and categories itself)
MEMORY_FIXED_BYTES = 40 << 20  # a fit's memory beyond its rows' copies (libraries' buffers, the model)


@dataclass(frozen=True)
class Family:
    """One model family: its space, defaults, how to build it, and hints for the scheduler.

    ``build(config, task, n_rows, n_classes, seed)`` returns an unfitted scikit-learn estimator (usually
    a Pipeline: the family's preprocessing + the model) that takes the cleaned table (float64 and
    category columns, NaN anywhere, unseen categories at predict time) and uses one thread.
    ``fidelity`` names what a fidelity below 1 scales: ``"rows"`` (share of the training rows) for every
    family; the boosting families (``boosting``, ``automl.models.boosting``: LightGBM, CatBoost, XGBoost) also
    early-stop their rounds (``iterations``) on the validation fold, so one training run gives its learning curve.
    ``memory_per_cell`` (bytes per cell of the rows a fit reads, as its preprocessing makes them; measured per
    family on the 10^6-row scale table: ``memory_estimate``) and ``cost`` (relative time) are hints; ``max_rows``
    excludes the family from larger data.
    ``cost_exponents`` (``(parameter, b)`` pairs) make the time estimate per configuration: a fit takes
    ``(value / default) ** b`` times the default configuration's seconds per parameter (log-linear, fitted
    within datasets on the knowledge base's evaluations by ``benchmarks/cost_exponents.py``).
    Parameters may carry a ``Condition`` (``automl.space``); every configuration this class hands out is
    canonical for the ``task`` given (its active parameters only; ``task`` None: task clauses hold).
    ``steps`` (``(slot, default step)`` pairs; ``automl.models.steps``) makes the pipeline steps of those slots
    choices of the family's ``space()``; its ``build`` then wraps the model in ``preprocessing.assemble``. Stored
    configurations omit the step values at these defaults.
    ``upgrade(config, task)`` (optional) translates a configuration of space version 1 whose values meant
    something else then (the result is made canonical by ``upgrade_config``).
    ``predict_threads`` names the fitted model's (its pipeline's final estimator's) parameter that sets how many
    threads its predictions use, for a library whose predictions do not depend on it (each row predicted on its
    own); None: it predicts on one thread (``set_predict_threads``).
    ``predict_cost_grows_with_rows``: a prediction compares each row with stored training rows (k-NN's rows, a
    kernel SVM's support vectors), so its cost grows with the training rows: a refit on every row costs more per
    row than the fold model its trial timed (``automl.search.predict_cost``).
    """

    key: str
    tasks: tuple[str, ...]
    params: tuple[Param, ...]
    build: Callable  # build(config, task, n_rows, n_classes, seed) -> sklearn estimator taking cleaned X
    defaults: tuple[dict, ...] = field(default_factory=tuple)  # extra hand-chosen configurations
    max_rows: int | None = None  # the family is skipped on larger data (e.g. kNN, MLP)
    cost: float = 1.0  # relative cost hint for the scheduler
    fidelity: str = "rows"
    iterations: str | None = None  # the parameter early stopping chooses (the boosting rounds)
    boosting: Boosting | None = None  # how a trial drives its early stopping and deadline (``automl.models.boosting``)
    memory_per_cell: float = 64.0
    cost_exponents: tuple[tuple[str, float], ...] = ()
    upgrade: Callable | None = None
    steps: tuple[tuple[str, str], ...] = ()  # (slot, default step key) per pipeline slot the family takes
    excluded_steps: tuple[str, ...] = ()  # step keys (or ``slot:none``) this search may not choose
    predict_threads: str | None = None  # the fitted final estimator's thread-count parameter (None: one thread)
    predict_cost_grows_with_rows: bool = False  # each prediction compares with the stored training rows

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key.isidentifier():
            raise ValueError(f"a model family needs an identifier as its key; got {self.key!r}")
        bad = [t for t in self.tasks if t not in TASKS]
        if bad or not self.tasks:
            raise ValueError(f"family {self.key!r}: tasks must be among {', '.join(TASKS)}; got {self.tasks!r}")
        names = [p.name for p in self.params]
        if len(set(names)) != len(names) or "family" in names:
            raise ValueError(f"family {self.key!r}: parameter names must be distinct and not 'family'")
        if not callable(self.build):
            raise ValueError(f"family {self.key!r}: build must be callable")
        if self.boosting is not None and not (isinstance(self.boosting, Boosting) and self.iterations):
            raise ValueError(f"family {self.key!r}: boosting must be a Boosting, with the iterations it early-stops")
        object.__setattr__(self, "tasks", tuple(self.tasks))
        object.__setattr__(self, "params", tuple(self.params))
        object.__setattr__(self, "steps", tuple((str(slot), str(key)) for slot, key in self.steps))
        object.__setattr__(self, "excluded_steps", tuple(sorted(set(self.excluded_steps))))
        check_conditions(self.params)
        from .steps import SLOTS
        bad = [slot for slot, _ in self.steps if slot not in SLOTS]
        if bad or len({slot for slot, _ in self.steps}) != len(self.steps):
            raise ValueError(f"family {self.key!r}: steps name each slot once, among {', '.join(SLOTS)}; got {bad!r}")

    @property
    def imputed(self) -> bool:
        """Its pipeline imputes missing values (median + indicators, a constant category) before the steps: the
        families taking a numeric transform (models that cannot read NaN)."""
        return any(slot == "numeric_transform" for slot, _ in self.steps)

    def space(self) -> tuple[Param, ...]:
        """The family's own parameters, then one choice per pipeline slot it takes and each step's own
        parameters (active when that step is chosen); see ``automl.models.steps``."""
        if not self.steps:
            return self.params
        from .steps import step_params
        return self.params + step_params(self)

    def without_steps(self, keys) -> "Family":
        """This family with the pipeline steps ``keys`` removed from its slots' choices (a slot whose default is
        removed defaults to its first remaining choice; configurations are still stored against the registered
        defaults, so their ids do not depend on the exclusion). ``self`` when no key concerns it."""
        keys = tuple(sorted(set(self.excluded_steps) | set(keys)))
        return self if keys == self.excluded_steps else replace(self, excluded_steps=keys)

    def _stored(self, values: dict) -> dict:
        """The configuration as hashed and stored: pipeline-step parameters at the family's default are
        omitted (a configuration without step keys is today's fixed pipeline, so older ids stay valid;
        ``canonical`` fills them back in)."""
        out = {"family": self.key}
        registered = replace(self, excluded_steps=()) if self.excluded_steps else self
        defaults = {p.name: p.default for p in registered.space()[len(self.params):]}
        for k, v in values.items():
            if not (k in defaults and type(v) is type(defaults[k]) and v == defaults[k]):
                out[k] = v
        return out

    def relative_cost(self, config: dict) -> float:
        """Seconds of ``config`` relative to the default configuration's on the same data (1.0 for a family
        without ``cost_exponents``), clipped to [0.02, 50]."""
        log_ratio = sum(b * math.log(v / d) for v, d, b in self._cost_terms(config))
        return float(min(50.0, max(0.02, math.exp(log_ratio))))

    def min_relative_cost(self) -> float:
        """The lowest ``relative_cost`` over the space (each costed parameter at its cheaper end)."""
        cheapest = {}
        for name, b in self.cost_exponents:
            p = next((p for p in self.params if p.name == name), None)
            values = [v for v in (getattr(p, "choices", None) or (getattr(p, "low", None), getattr(p, "high", None)))
                      if _positive(v)]
            if values:
                cheapest[name] = min(values) if b > 0 else max(values)
        return self.relative_cost(cheapest)

    def _cost_terms(self, config: dict):
        defaults = {p.name: p.default for p in self.params}
        for name, b in self.cost_exponents:
            v, d = config.get(name), defaults.get(name)
            if _positive(v) and _positive(d):
                yield float(v), float(d), b

    def memory_estimate(self, n_rows: int, n_cols: int) -> float:
        """Peak bytes of one fit above its process's start: a fixed part and the data copies the preprocessing and
        the model make (``n_cols``: the columns the preprocessing makes; automl.search.trial_memory)."""
        return MEMORY_FIXED_BYTES + self.memory_per_cell * n_rows * max(1, n_cols)

    def default_config(self, task: str | None = None) -> dict:
        return self._stored(canonical(self.space(), {}, task))

    def sample(self, rng, task: str | None = None, steps: bool = True) -> dict:
        """A random configuration; ``steps=False``: the family's own parameters only, its steps at their defaults
        (the refresh's seeded candidate pool, whose random stream predates the steps)."""
        return self._stored(sample_params(self.space() if steps else self.params, rng, task))

    def mutate(self, config: dict, rng, task: str | None = None) -> dict:
        return self._stored(mutate_params(self.space(), config, rng, task=task))

    def neighbours(self, config: dict, rng, n: int = 2, task: str | None = None) -> list[dict]:
        return [self._stored(c) for c in neighbours(self.space(), config, rng, n, task=task)]

    def encode(self, config: dict, task: str | None = None) -> list[float]:
        return encode_params(self.space(), config, task)

    def check(self, config: dict, task: str | None = None) -> list[str]:
        """Problems of ``config`` in this family's space (empty when valid)."""
        return check_config(self.space(), {k: v for k, v in config.items() if k != "family"}, task)

    def complete(self, config: dict, task: str | None = None) -> dict:
        """The canonical configuration: every active parameter present (defaults filled in), unknown and
        inactive keys dropped, values brought into their domain (suggestions may come from an older
        knowledge base)."""
        return self._stored(canonical(self.space(), config, task))

    def set_predict_threads(self, model, n: int) -> None:
        """Make the fitted ``model`` (this family's pipeline) predict on ``n`` threads where ``predict_threads``
        says how; the same predictions either way."""
        if self.predict_threads is not None:
            from .boosting import final_estimator
            final_estimator(model).set_params(**{self.predict_threads: int(n)})

    def expanded(self, config: dict, task: str | None = None) -> dict:
        """Every active parameter with its value, the omitted step defaults included (what a build reads)."""
        return {"family": self.key, **canonical(self.space(), config, task)}


def _positive(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


class Registry:
    """Keyed, ordered entries of one kind (model families, pipeline steps): duplicate keys refused, an unknown
    key's error lists the valid ones, entries registered after ``mark_builtin`` are the user's."""

    def __init__(self, kind: str = "model family", entry_type: type = Family) -> None:
        self.kind = kind
        self.entry_type = entry_type
        self._entries: dict = {}
        self._builtin: set[str] = set()
        self.version = 0  # changes with every (un)registration: spaces derived from the entries are cached by it

    def mark_builtin(self) -> None:
        self._builtin = set(self._entries)

    def user_entries(self) -> list:
        return [e for k, e in self._entries.items() if k not in self._builtin]

    def ensure(self, entries: list) -> None:
        for entry in entries:
            if entry.key not in self._entries:
                self._entries[entry.key] = entry
                self.version += 1

    def register(self, entry):
        if not isinstance(entry, self.entry_type):
            raise TypeError(f"register() takes a {self.entry_type.__name__}; got {type(entry).__name__}")
        if entry.key in self._entries:
            raise ValueError(f"{self.kind} {entry.key!r} is already registered")
        self._entries[entry.key] = entry
        self.version += 1
        return entry

    def unregister(self, key: str) -> None:
        if self._entries.pop(key, None) is not None:
            self.version += 1

    def get(self, key: str):
        try:
            return self._entries[key]
        except KeyError:
            raise InputError(f"unknown {self.kind} {key!r}; valid: {', '.join(self._entries)}") from None

    def keys(self) -> list[str]:
        return list(self._entries)

    def values(self) -> list:
        return list(self._entries.values())

    def __contains__(self, key: str) -> bool:
        return key in self._entries


class FamilyRegistry(Registry):
    """The model families. Worker processes (fork server or spawn) do not see registrations made in the
    fitting process: ``user_families`` hands them the user's families *and* pipeline steps, ``ensure`` takes
    both back (so the search ships one list). An optional family (``register_if_installed``) is registered only
    where its package can be imported; elsewhere looking it up names how to install it."""

    def __init__(self) -> None:
        super().__init__()
        self._not_installed: dict[str, tuple[str, str]] = {}  # family key -> (package, the extra that installs it)

    def register_if_installed(self, family: Family, package: str, extra: str) -> None:
        """Register ``family`` when ``package`` is installed (found, not imported: its module imports the package
        only to fit a model), else remember how to install it (``check_installed``)."""
        import importlib.util
        try:
            found = importlib.util.find_spec(package) is not None
        except (ImportError, ValueError):
            found = False
        if found:
            self.register(family)
        else:
            self._not_installed[family.key] = (package, extra)

    def absent(self, key: str) -> bool:
        """``key`` is an optional family whose package is not installed here."""
        return key in self._not_installed and key not in self._entries

    def check_installed(self, key: str) -> None:
        """Raise ``InputError`` naming how to install ``key``'s package when it is an optional family absent here."""
        if self.absent(key):
            package, extra = self._not_installed[key]
            raise InputError(f"model family {key!r} needs the {package} package, which is not installed: "
                             f"pip install 'automl-meta[{extra}]' (or pip install {package})")

    def get(self, key: str):
        self.check_installed(key)
        return super().get(key)

    def user_families(self) -> list:
        from .steps import STEPS
        return [*self.user_entries(), *STEPS.user_entries()]

    def ensure(self, entries: list) -> None:
        from .steps import STEPS
        super().ensure([e for e in entries if isinstance(e, Family)])
        STEPS.ensure([e for e in entries if not isinstance(e, Family)])

    def for_task(self, task: str, n_rows: int) -> list[Family]:
        return [f for f in self._entries.values()
                if task in f.tasks and (f.max_rows is None or n_rows <= f.max_rows)]


REGISTRY = FamilyRegistry()
