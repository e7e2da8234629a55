"""Datasets to refresh: what a source yields (:class:`Item`), cleaned as a fit cleans them, and subsampled
for the evaluations (the protocol records the subsample, so its scores are never taken for full-data ones)."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .. import data as data_mod
from ..prepare import PreparedTable, prepare
from ..search.validation import subsample_suffix
from .openml_flows import openml_flow_family


@dataclass
class Item:
    """One dataset to process: ``load()`` -> (frame, target, task or None); extras for OpenML."""

    name: str
    load: Callable[[], tuple[pd.DataFrame, str, str | None]]
    source: str  # "folder" | "pmlb" | "manifest" | "openml"
    qualities: Callable[[], dict] | None = None  # OpenML qualities (after load)
    openml_runs: Callable[[str, int, int], tuple[list, dict]] | None = None


def folder_items(folder: str | Path) -> tuple[list[Item], list[tuple[str, str]]]:
    """The datasets a folder holds (PMLB layout or a manifest), and the files that could not be used."""
    from knowledge_base.sources.folder import discover
    sources, problems = discover(folder)
    items = []
    for src in sources:
        def load(src=src):
            return data_mod.load_table(src.path), src.target, src.task
        items.append(Item(src.name, load, src.origin))
    return items, [(p.name, p.reason) for p in problems]


def openml_item(source, tid: int, import_runs: bool, max_runs: int, measures: dict) -> Item:
    """An OpenML task as an item; its qualities and prior runs are read after ``load``."""
    holder: dict = {}

    def load():
        data = source.fetch_task(tid)
        holder["data"] = data
        return data.frame, data.target, data.task

    def qualities():
        data = holder.get("data")
        if data is None:
            return {}
        return {"task_id": data.task_id, "dataset_id": data.dataset_id, "name": data.name,
                "estimation": data.estimation, "evaluation_measure": data.evaluation_measure,
                "qualities": dict(data.qualities)}

    def runs(task: str, n_rows: int, n_features: int):
        data = holder["data"]
        found = source.runs(tid, measures[task], flow_filter=lambda n: openml_flow_family(n) is not None,
                            max_runs=max_runs)
        return found, {"estimation": data.estimation}

    return Item(f"openml-task-{tid}", load, "openml", qualities, runs if import_runs else None)


@dataclass(frozen=True)
class RefreshDataset:
    """A dataset cleaned as a fit cleans it (fingerprinted; meta-features computed only when needed)."""

    name: str
    table: PreparedTable
    notes: tuple[str, ...] = ()


def prepare_dataset(frame: pd.DataFrame, target: str, task: str | None, name: str) -> RefreshDataset:
    """``frame`` through :func:`automl.prepare.prepare`, after dropping the rows of classes with a single
    row (a fit would refuse them; noted). Fingerprinted, not yet described."""
    X, y = data_mod.split_target(frame, target)
    X, y, _ = data_mod.drop_missing_target(X.reset_index(drop=True), y.reset_index(drop=True))
    notes = []
    if task != "regression":
        counts = y.astype(str).value_counts()
        lonely = counts[counts < 2].index
        if task in ("binary", "multiclass") or (task is None and len(counts) <= 50):
            if len(lonely) and len(lonely) < len(counts) - 1:
                keep = ~y.astype(str).isin(lonely).to_numpy()
                notes.append(f"dropped {int((~keep).sum())} row(s) of {len(lonely)} single-row class(es)")
                X, y = X.loc[keep], y.loc[keep]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = prepare(X, y, task, describe=False)
    return RefreshDataset(name, table.fingerprinted(), tuple(notes))


def subsample_rows(X: pd.DataFrame, y: np.ndarray, task: str, max_rows: int, seed: int
                   ) -> tuple[pd.DataFrame, np.ndarray, str]:
    """At most ``max_rows`` rows (stratified for classification, seeded); class codes kept contiguous.

    Returns the rows and a protocol suffix (``""`` when nothing was dropped).
    """
    n = len(y)
    if n <= max_rows:
        return X, y, ""
    rng = np.random.default_rng(seed)
    if task == "regression":
        idx = np.sort(rng.choice(n, size=max_rows, replace=False))
    else:
        idx = _stratified_rows(y, max_rows, seed, rng)
    Xs, ys = X.iloc[idx].reset_index(drop=True), y[idx]
    if task != "regression":
        counts = np.bincount(ys)
        keep = counts[ys] >= 2  # a class left with one row cannot be validated
        Xs, ys = Xs.loc[keep].reset_index(drop=True), ys[keep]
        _, ys = np.unique(ys, return_inverse=True)
        ys = ys.astype(np.int64)
    return Xs, ys, subsample_suffix(len(ys), n, seed)


def _stratified_rows(y: np.ndarray, max_rows: int, seed: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted row indices: a stratified sample of ``max_rows``, plus up to 3 rows of each rare class, so the
    subsample still has every class the validation can split."""
    from sklearn.model_selection import train_test_split
    n = len(y)
    counts = np.bincount(y)
    strat = y if counts[counts > 0].min() >= 2 else None
    try:
        idx, _ = train_test_split(np.arange(n), train_size=max_rows, random_state=seed, stratify=strat)
    except ValueError:
        idx, _ = train_test_split(np.arange(n), train_size=max_rows, random_state=seed)
    have = np.bincount(y[idx], minlength=len(counts))
    extra = []
    for c in np.flatnonzero((have < np.minimum(counts, 3)) & (counts > 0)):
        pool = np.setdiff1d(np.flatnonzero(y == c), idx)
        extra.append(rng.choice(pool, size=min(len(pool), 3 - have[c]), replace=False))
    return np.sort(np.concatenate([idx, *extra]) if extra else idx)
