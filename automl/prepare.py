"""Clean -> encode -> describe: the one path from a raw table to what the search and the knowledge base see.

A fit, ``automl kb similar``, the knowledge-base report and the refresh jobs all call :func:`prepare`, so
the meta-features and fingerprint a query uses are exactly those a fit writes back for the same table.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import data as data_mod
from . import leakage as leakage_mod
from . import rare_classes as rare_mod
from .leakage import LeakageFinding
from .rare_classes import RareClasses


@dataclass(frozen=True)
class PreparedTable:
    """A cleaned table as the search sees it (``docs/architecture.md``, "Cleaned data").

    ``metafeatures`` and ``fingerprint`` are None until :meth:`described` (or ``prepare(describe=True)``).
    """

    X: pd.DataFrame  # cleaned features, RangeIndex; leaking and dropped columns left out
    y: np.ndarray  # class codes 0..K-1 or floats
    task: str
    classes: np.ndarray | None  # the search's classes in code order (classification)
    encoder: data_mod.TableEncoder  # fitted on ``raw``; applies the same plan at predict time
    raw: pd.DataFrame  # the kept rows' features as given (RangeIndex)
    n_rows_dropped: int  # rows dropped because their target was missing
    sample_weight: np.ndarray | None = None  # aligned with the kept rows
    groups: pd.Series | None = None  # aligned with the kept rows (RangeIndex), its name kept
    model_classes: np.ndarray | None = None  # every class the fitted model answers for (also those set aside)
    rare: RareClasses | None = None  # what was done with classes too small to validate
    leakage: tuple[LeakageFinding, ...] = ()  # columns that alone predict the target
    metafeatures: dict[str, float] | None = None
    fingerprint: str | None = None

    @property
    def target(self) -> data_mod.Target:
        return data_mod.Target(self.y, self.task, self.classes)

    def fingerprinted(self) -> "PreparedTable":
        """This table with its content fingerprint (the knowledge base's key for it)."""
        if self.fingerprint is not None:
            return self
        import knowledge_base
        return dataclasses.replace(self, fingerprint=knowledge_base.fingerprint(self.X, self.y))

    def without_rows(self) -> "PreparedTable":
        """This table with its feature rows released (``X`` and ``raw`` as zero-row frames of the same columns and
        dtypes; target, weights and classes kept): what a fit keeps once the search owns the rows, so that no copy
        of the table stays in the driver while the search runs."""
        return dataclasses.replace(self, X=_no_rows(self.X), raw=_no_rows(self.raw))

    def described(self) -> "PreparedTable":
        """This table with its content fingerprint and meta-features (each computed once)."""
        table = self.fingerprinted()
        if table.metafeatures is not None:
            return table
        import metafeatures
        return dataclasses.replace(table, metafeatures=metafeatures.compute(table.X, table.y, table.task))


def _no_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """A zero-row frame with ``frame``'s columns and dtypes that shares no buffer with it (a zero-row slice would
    keep the whole column blocks alive)."""
    return pd.DataFrame({i: pd.Series([], dtype=dtype) for i, dtype in enumerate(frame.dtypes)}).set_axis(
        frame.columns, axis=1)


def prepare(X: pd.DataFrame, y: pd.Series, task: str | None = None, *, sample_weight: np.ndarray | None = None,
            groups: pd.Series | None = None, rare_classes: str = "drop", kind=None, drop_columns=None,
            keep_columns=None, seed: int = 0, describe: bool = True) -> PreparedTable:
    """The table as a fit with these options sees it (the defaults are the fit's): rows without a target
    dropped (with their weights and groups), the target encoded (``task`` inferred when None), classes too
    small for the validation scheme ``kind`` handled by ``rare_classes``, the ``TableEncoder`` fitted, the
    ``drop_columns`` and the columns leaking the target (unless in ``keep_columns``) left out; with
    ``describe``, its meta-features and fingerprint.

    Raises ``InputError`` for a table a fit refuses (too few rows, one class, no usable column, unknown names).
    """
    X = X.reset_index(drop=True)
    y = y.reset_index(drop=True)
    drop, keep = leakage_mod.column_options(drop_columns, keep_columns, X.columns)
    extra = {"__automl_weight__": sample_weight, "__automl_group__": None if groups is None else groups.to_numpy()}
    extra = {k: v for k, v in extra.items() if v is not None}
    X, y, n_dropped = data_mod.drop_missing_target(X.assign(**extra) if extra else X, y)
    if sample_weight is not None:
        sample_weight = X.pop("__automl_weight__").to_numpy(dtype=float)
    if groups is not None:
        groups = X.pop("__automl_group__").reset_index(drop=True).rename(groups.name)
    X = X.reset_index(drop=True)
    data_mod.check_rows(len(y))
    target = data_mod.encode_target(y, task)
    X, target, (sample_weight, groups), rare, model_classes = rare_mod.handle(X, target, rare_classes,
                                                                              (sample_weight, groups), kind=kind)
    encoder = data_mod.TableEncoder().fit(X)
    Xc = encoder.transform(X)
    Xc.index = pd.RangeIndex(len(Xc))
    Xc, findings = leakage_mod.screen_columns(encoder, Xc, target.y, target.task, drop=drop, keep=keep, seed=seed)
    table = PreparedTable(Xc, target.y, target.task, target.classes, encoder, X, n_dropped, sample_weight, groups,
                          model_classes, rare, tuple(findings))
    return table.described() if describe else table


__all__ = ["PreparedTable", "prepare"]
