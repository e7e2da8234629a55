"""A static portfolio built greedily from the knowledge base (auto-sklearn 2.0, Feurer et al. 2022).

Given the losses of many configurations on many past datasets, pick configurations one at a time,
each time the one that most lowers the mean over datasets of the best normalised regret among the
configurations picked so far. The result is the set that *together* does best across all past
datasets; the search tries it first when no past dataset is near enough.

The portfolio is plain JSON data (``portfolio.json``)::

    {"format": "automl-portfolio", "format_version": 1,
     "space_version": "1", "built_at": "2025-...Z", "size": 16,
     "portfolios": {"binary": [config, ...], "multiclass": [...], "regression": [...], "any": [...]},
     "trace": {"binary": [{"config_id": "...", "family": "...", "mean_regret": 0.21}, ...], ...},
     "n_datasets": {"binary": 78, ...}, "source": "knowledge base at ..."}

A configuration is the usual plain dict ``{"family": ..., ...}``; the lists are ordered (best
first). :func:`load_portfolio` returns one list for a task, or ``[]`` when the file is missing,
damaged or built for another search-space version (the caller then uses its hand-written one).
The refresh job writes the file next to the store (``<store>.portfolio.json``); the bundled seed
ships one as ``knowledge_base/seed/portfolio.json``.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from .canonical import config_id

log = logging.getLogger("automl.refresh")

FORMAT = "automl-portfolio"
FORMAT_VERSION = 1
DEFAULT_SIZE = 16
SEED_PORTFOLIO = Path(__file__).resolve().parent / "seed" / "portfolio.json"
TASK_KEYS = ("binary", "multiclass", "regression", "any")


@dataclass(frozen=True)
class GreedyStep:
    column: int
    mean_regret: float  # mean over datasets of the best regret among the columns chosen so far


def normalised_regret(losses: np.ndarray) -> np.ndarray:
    """Per row (dataset): 0 for the best configuration, 1 for the worst; missing / failed -> 1.

    A row whose finite losses are all equal gets 0 where evaluated.
    """
    losses = np.asarray(losses, dtype=float)
    finite = np.isfinite(losses)
    out = np.ones_like(losses)
    for i in range(losses.shape[0]):
        row = losses[i, finite[i]]
        if row.size == 0:
            continue
        lo, hi = row.min(), row.max()
        span = hi - lo
        out[i, finite[i]] = 0.0 if span <= 0 else (row - lo) / span
    return out


def greedy_portfolio(losses: np.ndarray, size: int = DEFAULT_SIZE, *, normalise: bool = True,
                     stop_when_flat: bool = True) -> list[GreedyStep]:
    """Greedy selection of up to ``size`` columns of ``losses`` (datasets x configurations, NaN = unknown).

    Each step adds the column that minimises the mean over rows of ``min`` over the chosen columns
    (ties: the lower column index). With ``stop_when_flat`` the selection stops once no column
    improves the mean (the first column is always chosen).
    """
    losses = np.asarray(losses, dtype=float)
    if losses.ndim != 2 or losses.shape[1] == 0 or losses.shape[0] == 0:
        return []
    regret = normalised_regret(losses) if normalise else np.where(np.isfinite(losses), losses, np.inf)
    n_rows, n_cols = regret.shape
    best = np.full(n_rows, np.inf)
    chosen: list[GreedyStep] = []
    used = np.zeros(n_cols, dtype=bool)
    for _ in range(min(size, n_cols)):
        candidate = np.minimum(best[:, None], regret)  # rows x cols
        cand_mean = np.where(np.isfinite(candidate), candidate, 1e12).mean(axis=0)
        cand_mean[used] = np.inf
        j = int(np.argmin(cand_mean))
        current = np.where(np.isfinite(best), best, 1e12).mean() if chosen else np.inf
        if stop_when_flat and chosen and not cand_mean[j] < current - 1e-12:
            break
        used[j] = True
        best = candidate[:, j]
        chosen.append(GreedyStep(j, float(cand_mean[j])))
    return chosen


def loss_matrix(evaluations: pd.DataFrame) -> tuple[np.ndarray, list[str], list[str]]:
    """Pivot evaluations (columns ``fingerprint``, ``config_id``, ``loss``) into datasets x configs.

    Repeated evaluations of one configuration on one dataset keep the mean loss.
    """
    if evaluations.empty:
        return np.zeros((0, 0)), [], []
    table = evaluations.pivot_table(index="fingerprint", columns="config_id", values="loss", aggfunc="mean")
    return table.to_numpy(dtype=float), [str(i) for i in table.index], [str(c) for c in table.columns]


def build_portfolios(evaluations: pd.DataFrame, configs: dict[str, dict], *, size: int = DEFAULT_SIZE,
                     min_coverage: float = 0.5) -> dict:
    """Portfolios per task (and ``any``) from full-fidelity evaluations.

    ``evaluations``: one row per evaluation with ``fingerprint``, ``task``, ``config_id``, ``loss`` (lower
    is better; failed -> NaN), all with one metric per task and one protocol. ``configs``: config_id ->
    configuration. Configurations evaluated on fewer than ``min_coverage`` of a task's datasets are left
    out (their missing scores would count as worst anyway).
    """
    portfolios: dict[str, list[dict]] = {}
    trace: dict[str, list[dict]] = {}
    counts: dict[str, int] = {}
    regrets = []
    for task in ("binary", "multiclass", "regression"):
        part = evaluations[evaluations["task"] == task]
        losses, rows, cols = loss_matrix(part)
        if not rows:
            continue
        coverage = np.isfinite(losses).mean(axis=0)
        keep = coverage >= min_coverage
        losses, cols = losses[:, keep], [c for c, k in zip(cols, keep) if k]
        steps = greedy_portfolio(losses, size)
        portfolios[task] = [configs[cols[s.column]] for s in steps]
        trace[task] = [{"config_id": cols[s.column], "family": configs[cols[s.column]].get("family"),
                        "mean_regret": round(s.mean_regret, 6)} for s in steps]
        counts[task] = len(rows)
        regrets.append(pd.DataFrame(normalised_regret(losses), index=rows, columns=cols))
    if regrets:
        # "any": regrets are comparable across tasks once normalised per dataset
        joint = pd.concat(regrets, axis=0)
        values = joint.to_numpy(dtype=float)
        values = np.where(np.isnan(values), 1.0, values)
        steps = greedy_portfolio(values, size, normalise=False)
        cols = list(joint.columns)
        portfolios["any"] = [configs[cols[s.column]] for s in steps]
        trace["any"] = [{"config_id": cols[s.column], "family": configs[cols[s.column]].get("family"),
                         "mean_regret": round(s.mean_regret, 6)} for s in steps]
        counts["any"] = len(joint)
    return {"portfolios": portfolios, "trace": trace, "n_datasets": counts}


def portfolio_document(built: dict, *, space_version: str, size: int, source: str = "") -> dict:
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "space_version": str(space_version),
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "size": int(size),
            "source": source, **built}


def portfolio_path(store_path: str | Path) -> Path:
    """Where the refresh job writes the portfolio built from the store at ``store_path``."""
    p = Path(store_path)
    return p.with_name(p.name + ".portfolio.json")


def save_portfolio(document: dict, path: str | Path) -> Path:
    """Write atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=1, sort_keys=True, allow_nan=False)
    fd, tmp = tempfile.mkstemp(prefix=".portfolio-", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_portfolio(task: str, space_version: str, path: str | Path | None = None,
                   store_path: str | Path | None = None) -> list[dict]:
    """The ordered portfolio for ``task`` (falls back to ``any``); ``[]`` when none applies.

    Looks at ``path`` if given, else next to ``store_path`` (the store's own rebuilt portfolio),
    else the bundled ``knowledge_base/seed/portfolio.json``. Files for another ``space_version``
    are ignored with a debug log, never an error.
    """
    candidates = [Path(path)] if path is not None else []
    if path is None and store_path is not None:
        candidates.append(portfolio_path(store_path))
    if path is None:
        candidates.append(SEED_PORTFOLIO)
    for candidate in candidates:
        try:
            doc = json.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            log.debug("%s is not a portfolio file", candidate)
            continue
        if str(doc.get("space_version")) != str(space_version):
            log.debug("portfolio %s is for space version %s, not %s", candidate, doc.get("space_version"),
                      space_version)
            continue
        lists = doc.get("portfolios") or {}
        configs = lists.get(task) or lists.get("any") or []
        return [dict(c) for c in configs if isinstance(c, dict) and "family" in c]
    return []


def check_ids(configs: list[dict]) -> list[str]:
    """Config ids of a portfolio, in order (for logs and tests)."""
    return [config_id(c) for c in configs]
