"""A compact profile of a model's training data, saved in its manifest, that new data is compared against.

Per raw input column: how the encoder uses it (``ColumnKind``), its missing share, and its distribution as
bins: numeric, boolean and date columns (dates as days since 1970) and free-text columns (as their words per
value) as at most ``MAX_BINS`` quantile bins of the training rows, categorical columns as the shares of their
``MAX_CATEGORIES`` most frequent categories plus the rest. Plus the meta-feature vector, the fingerprint and the
row count. No raw row is kept: the size is bounded by the column count (at most ~60 numbers or ~50 category names
per column; a 50-column table is a few KB to ~40 KB of JSON).
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .data import word_counts
from .exceptions import ModelLoadError

PROFILE_VERSION = 1
MAX_BINS = 10
MAX_CATEGORIES = 50
_DIGITS = 6  # significant digits kept for shares and edges (JSON size; PSI needs far fewer)
SAMPLE_ROWS = 20_000  # bins are learned on a seeded sample this large (a share's standard error <= 0.4 %)


class ColumnKind(str, enum.Enum):
    NUMERIC = "numeric"
    BOOLEAN = "boolean"
    CATEGORICAL = "categorical"
    DATETIME = "datetime"
    TEXT = "text"  # free text, profiled by its words per value
    DROPPED = "dropped"  # not a feature of the model (ID-like, constant, empty)


_ENCODER_KINDS = {"numeric": ColumnKind.NUMERIC, "boolean": ColumnKind.BOOLEAN, "category": ColumnKind.CATEGORICAL,
                  "datetime": ColumnKind.DATETIME, "text": ColumnKind.TEXT}


@dataclass(frozen=True)
class ColumnProfile:
    """One raw column. Binned kinds: ``edges`` are the inner bin edges, bin i holds values in
    (edges[i-1], edges[i]] (the first and last bins are open); categorical: ``categories`` with ``shares``
    aligned, ``other_share`` for the rest. Shares are of the non-missing rows."""

    name: str
    kind: ColumnKind
    missing_share: float
    edges: tuple[float, ...] = ()
    shares: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()
    other_share: float = 0.0
    note: str | None = None  # why a dropped column is not a feature

    @property
    def binned(self) -> bool:
        return self.kind in (ColumnKind.NUMERIC, ColumnKind.BOOLEAN, ColumnKind.DATETIME, ColumnKind.TEXT)

    def to_dict(self) -> dict:
        out = {"name": self.name, "kind": self.kind.value, "missing_share": self.missing_share}
        if self.binned:
            out.update(edges=list(self.edges), shares=list(self.shares))
        elif self.kind is ColumnKind.CATEGORICAL:
            out.update(categories=list(self.categories), shares=list(self.shares), other_share=self.other_share)
        if self.note:
            out["note"] = self.note
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "ColumnProfile":
        return cls(name=str(d["name"]), kind=ColumnKind(d["kind"]), missing_share=float(d["missing_share"]),
                   edges=tuple(float(e) for e in d.get("edges", ())),
                   shares=tuple(float(s) for s in d.get("shares", ())),
                   categories=tuple(str(c) for c in d.get("categories", ())),
                   other_share=float(d.get("other_share", 0.0)), note=d.get("note"))


@dataclass(frozen=True)
class DataProfile:
    """The training data of a model, as drift detection needs it (see the module docstring)."""

    n_rows: int
    task: str
    fingerprint: str | None
    metafeatures: dict  # name -> value (None: missing), FEATURE_NAMES order
    metafeatures_version: str
    columns: tuple[ColumnProfile, ...]
    version: int = PROFILE_VERSION

    def column(self, name: str) -> ColumnProfile | None:
        return next((c for c in self.columns if c.name == name), None)

    def to_dict(self) -> dict:
        return {"version": self.version, "n_rows": self.n_rows, "task": self.task, "fingerprint": self.fingerprint,
                "metafeatures_version": self.metafeatures_version, "metafeatures": dict(self.metafeatures),
                "columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, d: dict) -> "DataProfile":
        """The profile of a manifest; a damaged or newer one is a ``ModelLoadError``."""
        try:
            version = int(d["version"])
            if version > PROFILE_VERSION:
                raise ModelLoadError(f"the model's data profile has version {version}; this version reads "
                                     f"{PROFILE_VERSION}")
            return cls(n_rows=int(d["n_rows"]), task=str(d["task"]), fingerprint=d.get("fingerprint"),
                       metafeatures={str(k): (None if v is None else float(v))
                                     for k, v in (d.get("metafeatures") or {}).items()},
                       metafeatures_version=str(d.get("metafeatures_version")),
                       columns=tuple(ColumnProfile.from_dict(c) for c in d["columns"]), version=version)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(f"the model's data profile is damaged: {type(exc).__name__}: {exc}") from None


def _round(value: float) -> float:
    return float(f"{value:.{_DIGITS}g}")


def bin_edges(values: np.ndarray) -> tuple[float, ...]:
    """Inner edges of at most ``MAX_BINS`` quantile bins of the finite ``values`` (ties merge bins)."""
    if values.size == 0:
        return ()
    inner = np.quantile(values, np.arange(1, MAX_BINS) / MAX_BINS)
    return tuple(np.unique(inner).tolist())


def bin_shares(values: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    """Share of the finite ``values`` per bin of ``edges`` (len(edges) + 1 bins; zeros when empty)."""
    counts = np.bincount(np.searchsorted(np.asarray(edges, dtype=float), values, side="left"),
                         minlength=len(edges) + 1).astype(float)
    return counts / counts.sum() if values.size else counts


def binned_values(name: str, kind: ColumnKind, encoded: pd.DataFrame) -> np.ndarray:
    """The numbers a binned column is profiled on, from the encoder's output: the value itself, a date's days
    since 1970, or a text's words (NaN for missing)."""
    if kind is ColumnKind.TEXT:
        return word_counts(encoded[name]).to_numpy(dtype=float)
    column = f"{name}__epoch_days" if kind is ColumnKind.DATETIME else name
    return encoded[column].to_numpy(dtype=float)


def category_text(series: pd.Series) -> pd.Series:
    """Categories as the encoder compares them (stripped text); missing stays missing."""
    return series.astype("string").str.strip()


def compute_profile(X: pd.DataFrame, encoder, encoded: pd.DataFrame, y: np.ndarray, task: str, *,
                    metafeatures: dict | None = None, fingerprint: str | None = None) -> DataProfile:
    """The profile of the raw training table ``X`` as ``encoder`` encodes it (``encoded``: its output, cleaned
    target ``y``). ``metafeatures`` / ``fingerprint``: the fit's, when it computed them (else computed here)."""
    import metafeatures as mf_mod
    if metafeatures is None:
        metafeatures = mf_mod.compute(encoded, y, task)
    if fingerprint is None:
        from knowledge_base import fingerprint as kb_fingerprint
        fingerprint = kb_fingerprint(encoded, y)
    used = {p.name: p for p in encoder.plans_}
    n = max(1, len(X))
    sample = np.sort(np.random.default_rng(0).choice(len(X), SAMPLE_ROWS, replace=False)) \
        if len(X) > SAMPLE_ROWS else slice(None)
    columns = []
    for name in encoder.input_columns_:
        plan = used.get(name)
        if plan is None:
            missing = float(X[name].isna().mean()) if name in X.columns else 1.0
            columns.append(ColumnProfile(name, ColumnKind.DROPPED, _round(missing), note=encoder.dropped_.get(name)))
            continue
        kind = _ENCODER_KINDS[plan.kind]
        if kind is ColumnKind.CATEGORICAL:
            codes = encoded[name].cat.codes.to_numpy()
            present = codes[codes >= 0]
            counts = np.bincount(present, minlength=len(plan.categories))
            top = np.argsort(-counts, kind="stable")[:MAX_CATEGORIES]
            top = top[counts[top] > 0]
            total = max(1, present.size)
            shares = counts[top] / total
            columns.append(ColumnProfile(
                name, kind, _round(1 - present.size / n),
                categories=tuple(str(encoded[name].cat.categories[i]) for i in top),
                shares=tuple(_round(s) for s in shares), other_share=_round(max(0.0, 1 - shares.sum()))))
        else:
            values = binned_values(name, kind, encoded)
            missing = float(np.isnan(values).mean()) if len(values) else 1.0
            finite = values[sample]
            finite = finite[np.isfinite(finite)]
            edges = tuple(sorted(set(map(_round, bin_edges(finite)))))  # (shares from the edges as stored)
            columns.append(ColumnProfile(name, kind, _round(missing), edges=edges,
                                         shares=tuple(_round(s) for s in bin_shares(finite, edges))))
    return DataProfile(n_rows=int(len(X)), task=task, fingerprint=fingerprint,
                       metafeatures={k: (None if v is None or not math.isfinite(v) else float(v))
                                     for k, v in metafeatures.items()},
                       metafeatures_version=mf_mod.METAFEATURES_VERSION, columns=tuple(columns))
