"""The static portfolio, rebuilt from the store's candidate evaluations at the end of a refresh job."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..search.messages import Status
from ..search.validation import evaluated_rows
from .candidates import CANDIDATE_ORIGIN
from .options import RefreshOptions, RefreshSummary, one_line

log = logging.getLogger("automl.refresh")
ALL_ROWS = 2**62  # an evaluation without a subsample suffix was made on every row of its dataset: the most


def candidate_losses(tables: dict[str, pd.DataFrame], space_version: str) -> tuple[pd.DataFrame, dict[str, dict]]:
    """Full-fidelity candidate evaluations under our protocol: fingerprint, task, config_id, loss (failed: NaN);
    of a dataset evaluated at several sizes (real-size refreshes), those on its most rows only: a fit of that
    data sees all of them (a family its size rules out, such as the SVM past 3,000 rows, then counts as missing)."""
    ev = tables["evaluations"]
    cols = ["fingerprint", "task", "config_id", "loss", "metric"]
    if len(ev) == 0:
        return pd.DataFrame(columns=cols), {}
    ev = ev[(ev["origin"] == CANDIDATE_ORIGIN) & (ev["fidelity"] >= 1.0) &
            (ev["space_version"].astype(str) == str(space_version))].copy()
    rows = ev["protocol"].map(lambda p: evaluated_rows(p, ALL_ROWS))
    ev = ev[rows == rows.groupby(ev["fingerprint"]).transform("max")].copy()
    ev.loc[ev["status"] != Status.OK, "loss"] = np.nan
    configs = {cid: (json.loads(c) if isinstance(c, str) else dict(c)) for cid, c in zip(ev["config_id"], ev["config"])}
    return ev[cols], configs


def rebuild_portfolio(store=None, *, size: int = 16, out: str | Path | None = None) -> Path | None:
    """Greedy portfolio from the store's candidate evaluations of the families registered here (a fit here can
    run each pick), written next to the store (or to ``out``)."""
    import knowledge_base as kb
    from knowledge_base.portfolio import build_portfolios, portfolio_document, portfolio_path, save_portfolio

    from ..space import SPACE_VERSION
    from ..warm_start import registered_families
    store = store if isinstance(store, kb.KnowledgeBase) else kb.open_store(store)
    # only the candidate evaluations are read (not every search trial of every fit)
    evaluations = store.evaluations(origin=CANDIDATE_ORIGIN)
    evaluations = evaluations[evaluations["family"].isin(registered_families())]
    frame, configs = candidate_losses({"evaluations": evaluations}, SPACE_VERSION)
    if frame.empty:
        log.info("no candidate evaluations yet: no portfolio built")
        return None
    built = build_portfolios(frame, configs, size=size)
    path = Path(out) if out is not None else portfolio_path(store.path)
    doc = portfolio_document(built, space_version=str(SPACE_VERSION), size=size,
                             source=f"greedy over candidate evaluations of {built['n_datasets']} dataset(s)")
    save_portfolio(doc, path)
    log.info("portfolio rebuilt from %s dataset(s): %s", built["n_datasets"], path)
    return path


def wrap_up(store, options: RefreshOptions, summary: RefreshSummary) -> None:
    """End of a job: rebuild the portfolio when datasets changed (or it is missing), then the store's check."""
    from knowledge_base.portfolio import portfolio_path
    changed = any(o.status in ("added", "updated") for o in summary.outcomes)
    if options.rebuild_portfolio and (changed or not portfolio_path(store.path).exists()):
        try:
            path = rebuild_portfolio(store, size=options.portfolio_size)
            summary.portfolio = str(path) if path else None
        except Exception as exc:
            log.warning("portfolio not rebuilt: %s", one_line(exc))
    if options.check:
        try:
            problems = store.check()
            summary.check = {"problems": list(problems)}
            for p in problems:
                log.warning("knowledge-base check: %s", p)
        except Exception as exc:
            summary.check = {"error": one_line(exc)}
