"""What a trial costs in memory, and which trials may run at once within the fit's memory limit.

The limit (``memory_limit``, as AutoGluon's) covers every process of the fit. From it the search sets aside the
memory-mapped table (counted once: the workers share its pages) and each process's own memory; the trials running at
once share the rest, each counted at its estimate (``MemoryPlan.trial_bytes``). A trial that would not fit beside the
running ones waits for one of them to end; one whose estimate alone exceeds the rest is not run (as AutoGluon skips
a model it estimates beyond its limit): the scheduler treats it as one that does not fit in the time left (a new
configuration is screened on fewer rows; a promotion or a final refit is left out).

The estimate is the family's (``Family.memory_estimate``) over the rows a trial fits on and scores and the columns
its preprocessing makes (a dense family one-hot encodes categories and adds missing indicators; a construction
step makes its own: ``Step.columns``). Where a worker
measured more than its family's estimate (``peak_bytes``, the trial's peak above its start), the family's later
estimates at that fidelity grow by that ratio; never smaller (a deterministic search uses the estimate alone).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

import numpy as np

from ..exceptions import InputError

if TYPE_CHECKING:
    import pandas as pd

# the processes' own memory during a search (10^6-row table at 60 s, PSS less the mapped table's share): the
# driver's libraries, its trials' predictions and the store (about 400 MiB), the fork server, each worker at rest
DRIVER_BYTES = 400 << 20
FORK_SERVER_BYTES = 80 << 20
WORKER_BYTES = 150 << 20
UNLIMITED = 1 << 62  # the limit of a search without one (on a cluster, without ``memory_limit``)
MAX_CALIBRATION = 8.0  # a family's estimates grow at most this much from what its trials measured
_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}  # binary units
_SIZE = re.compile(r"^([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*(?:([kmgt])(i?b)?|(b))?$")


def parse_memory_limit(value, option: str = "memory_limit") -> int | None:
    """Bytes from ``value``: None (the default), a positive number of GiB, or text such as ``"1.5GB"``, ``"800MiB"``,
    ``"512M"`` or ``"2000000000B"`` (binary units). Below 1 MiB or anything else is an ``InputError`` naming
    ``option``."""
    if value is None:
        return None
    match = None if isinstance(value, bool) else _SIZE.match(str(value).strip().lower())
    amount = float("nan")
    if match is not None:
        number, unit, _, plain_bytes = match.groups()
        amount = float(number) * (_UNITS[unit] if unit else 1 if plain_bytes else _UNITS["g"])
    if not (np.isfinite(amount) and amount >= 1 << 20):
        raise InputError(f"{option} must be a memory size of at least 1 MiB, such as 4GB or 800MB; got {value!r}")
    return int(amount)


def machine_memory() -> int:
    """The machine's memory in bytes (8 GiB assumed where it cannot be read)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 << 30


@dataclass(frozen=True)
class TableWidths:
    """The columns a trial's preprocessing makes of the cleaned table: ``columns`` (what the tree families read) and,
    per one-hot ``max_categories``, what the dense families' default encoding makes (``dense``)."""

    columns: int
    numeric: int  # number columns, each with a missing indicator when it has missing values (``with_missing``)
    with_missing: int
    categories: tuple[int, ...]  # each category column's number of categories

    @classmethod
    def of(cls, X: pd.DataFrame) -> "TableWidths":
        import pandas as pd  # (here: the trial runner, which imports this module, loads without pandas)
        numeric, with_missing, categories = 0, 0, []
        for name in X.columns:
            column = X[name]
            if isinstance(column.dtype, pd.CategoricalDtype):
                categories.append(len(column.cat.categories) + 1)  # (+1: missing, a category of its own)
            elif pd.api.types.is_numeric_dtype(column.dtype):
                numeric += 1
                with_missing += int(bool(np.isnan(np.asarray(column, dtype=float)).any()))
        return cls(len(X.columns), numeric, with_missing, tuple(categories))

    def dense(self, max_categories: int) -> int:
        return self.numeric + self.with_missing + sum(min(c, max_categories + 1) for c in self.categories)


class MemoryPlan:
    """Estimates of trials' and refits' working memory, and whether one more may start beside the running ones."""

    def __init__(self, families, widths: TableWidths, *, train_rows: float, valid_rows: float, all_rows: float,
                 limit: int, fixed: int, deterministic: bool) -> None:
        self.families = {f.key: f for f in families}
        self.widths, self.train_rows, self.valid_rows, self.all_rows = widths, train_rows, valid_rows, all_rows
        self.limit, self.budget = int(limit), int(limit) - int(fixed)  # what the running trials may share
        self.deterministic = deterministic
        self.calibration: dict[tuple[str, float], float] = {}  # (family, fidelity) -> measured / estimated, >= 1
        self.largest_refused = 0.0  # the largest estimate ``fits`` refused (0: none)
        self._columns_of: dict[tuple, int] = {}  # a configuration's items -> the columns its model reads

    def _columns(self, config: dict) -> int:
        """The columns the model of ``config`` reads: the cleaned table's, one-hot encoded for a dense family, then
        as its construction step makes them (``Step.columns``: splines multiply them, a kernel map replaces them)."""
        from ..models.steps import NONE, STEPS  # (here: parsing a limit loads no model library)
        key = tuple(sorted(config.items()))
        if key not in self._columns_of:
            full = self.families[config["family"]].expanded(config)
            columns = self.widths.columns
            if full.get("categorical_encoding") == "onehot":
                columns = self.widths.dense(int(full["onehot__max_categories"]))
            step = STEPS.get(full["construction"]) if full.get("construction", NONE) != NONE else None
            if step is not None and step.columns is not None:
                columns = int(step.columns(columns, step.values(full)))
            self._columns_of[key] = max(1, columns)
        return self._columns_of[key]

    def _raw(self, config: dict, rows: float) -> float:
        """The family's estimate for ``config`` on ``rows`` rows, before what trials measured (0: unknown family)."""
        family = self.families.get(config["family"])
        return 0.0 if family is None else family.memory_estimate(int(rows), self._columns(config))

    def _trial_rows(self, fidelity: float) -> float:
        """A trial fits a share ``fidelity`` of a fold's training rows and scores its validation rows."""
        return self.train_rows * fidelity + self.valid_rows

    def _ratio(self, config: dict, fidelity: float) -> float:
        return self.calibration.get((config["family"], round(fidelity, 6)), 1.0)

    def trial_bytes(self, config: dict, fidelity: float) -> float:
        """A trial's working memory (``_trial_rows``), raised as its family's trials at that fidelity measured."""
        return self._raw(config, self._trial_rows(fidelity)) * self._ratio(config, fidelity)

    def refit_bytes(self, config: dict) -> float:
        """A refit's working memory: it fits every row (raised as its family's full-fidelity trials measured)."""
        return self._raw(config, self.all_rows) * self._ratio(config, 1.0)

    def observe(self, config: dict, fidelity: float, peak_bytes: int | None) -> None:
        """A finished trial's measured peak: its family's estimates at that fidelity grow to cover it (at that
        fidelity only: a fixed cost measured on few rows says little about many). Not in a deterministic search,
        whose choices may not depend on measurements."""
        if self.deterministic or config["family"] not in self.families or not peak_bytes:
            return
        raw = self._raw(config, self._trial_rows(fidelity))
        ratio = min(MAX_CALIBRATION, peak_bytes / raw) if raw > 0 else 1.0
        self.calibration[(config["family"], round(fidelity, 6))] = max(self._ratio(config, fidelity), ratio)

    def fits(self, needed: float) -> bool:
        """Whether a job needing ``needed`` bytes fits in the limit alone (one that does not is not run)."""
        if needed <= self.budget:
            return True
        self.largest_refused = max(self.largest_refused, needed)
        return False

    def refusal(self) -> str | None:
        """What the limit kept from running, for the user (None: nothing)."""
        if not self.largest_refused:
            return None
        return (f"memory limit {self.limit / 2**20:,.0f} MiB: trials or refits estimated to need up to "
                f"{self.largest_refused / 2**20:,.0f} MiB beside the table and the processes "
                f"({(self.limit - self.budget) / 2**20:,.0f} MiB) were not run; a larger memory_limit runs them")

    def admits(self, needed: float, running: Iterable[float]) -> bool:
        """Whether a job needing ``needed`` bytes may start beside jobs needing ``running``: always when none runs
        (whether it fits alone is ``fits``' answer, asked when it was proposed)."""
        running = list(running)
        return not running or sum(running) + needed <= self.budget


def table_bytes(X: pd.DataFrame) -> int:
    """The cleaned table's arrays in bytes (category columns: their codes), as the workers map them."""
    return int(X.memory_usage(index=False, deep=False).sum())


def fixed_bytes(table_bytes: int, n_workers: int) -> int:
    """What the fit's processes hold before any trial: the mapped table once, the driver and every worker."""
    return int(table_bytes) + DRIVER_BYTES + FORK_SERVER_BYTES + int(n_workers) * WORKER_BYTES


class PeakMeter:
    """A worker's peak memory over one job (Linux; elsewhere ``peak_bytes`` is None): its anonymous memory at the
    peak above the start. The peak resident size is reset at the start (``/proc/self/clear_refs``); pages of the
    mapped table first read during the job are resident at its end, so they are taken out (they are shared)."""

    def __enter__(self) -> "PeakMeter":
        self.peak_bytes: int | None = None
        self._start = _status("RssAnon").get("RssAnon")
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            self._start = None
        return self

    def __exit__(self, *exc) -> None:
        if self._start is None:
            return
        fields = _status("VmHWM", "RssFile", "RssShmem")
        if len(fields) == 3:
            self.peak_bytes = max(0, fields["VmHWM"] - fields["RssFile"] - fields["RssShmem"] - self._start)


def _status(*fields: str) -> dict[str, int]:
    """The ``fields`` of ``/proc/self/status`` in bytes, read in one pass (those that cannot be read are absent)."""
    out: dict[str, int] = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                name, _, value = line.partition(":")
                if name in fields:
                    out[name] = int(value.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return out


__all__ = ["MemoryPlan", "TableWidths", "PeakMeter", "parse_memory_limit", "machine_memory", "fixed_bytes",
           "table_bytes", "UNLIMITED"]
