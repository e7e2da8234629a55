"""``TableEncoder``: learns the column plans of a raw feature table on the training rows and applies exactly the
same plans at predict time: column order does not matter, extra columns are ignored, missing ones are an error
naming them, unseen categories become missing."""
from __future__ import annotations

import logging

import pandas as pd

from ..exceptions import InputError
from .column_plan import MAX_CATEGORIES, ColumnPlan, plan_column
from .column_values import encode_column, plain_numbers

log = logging.getLogger("automl")


class TableEncoder:
    """Learns how to turn a raw feature table into the cleaned table; applies it at predict time."""

    def __init__(self, max_categories: int = MAX_CATEGORIES) -> None:
        self.max_categories = max_categories

    # -- fit
    def fit(self, X: pd.DataFrame) -> "TableEncoder":
        names = [str(c) for c in X.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise InputError(f"duplicate column names: {', '.join(map(repr, dupes))}; rename them")
        self.input_columns_ = names
        self.input_dtypes_ = {str(c): str(X[c].dtype) for c in X.columns}
        self.plans_: list[ColumnPlan] = []
        self.dropped_: dict[str, str] = {}
        n = len(X)
        for col in X.columns:
            name = str(col)
            plan, reason = plan_column(name, X[col], n, self.max_categories)
            if plan is None:
                self.dropped_[name] = reason
            else:
                self.plans_.append(plan)
        for name, reason in self.dropped_.items():
            log.warning("dropped column %r: %s", name, reason)
        if not self.plans_:
            raise InputError("no usable feature left: every column is constant, empty or an ID "
                             f"({'; '.join(f'{k}: {v}' for k, v in list(self.dropped_.items())[:5])})")
        return self

    # -- transform
    def transform(self, X: pd.DataFrame, *, report_unparsed: bool = False) -> pd.DataFrame:
        """The cleaned table. Text that does not parse in a number column becomes missing; with
        ``report_unparsed`` (predict time) one warning counts such values per column (values that were
        missing already, blank or an NA marker such as ``NA``, are not counted)."""
        present = self._input_columns(X)
        out: dict = {}
        unparsed: dict[str, int] = {}
        numbers = plain_numbers(self.plans_, X, present)
        for plan in self.plans_:
            if plan.name in numbers:
                out[plan.name] = numbers[plan.name]
                continue
            encoded = encode_column(plan, X[present[plan.name]].reset_index(drop=True))
            out.update(encoded.columns)
            if encoded.unparsed:
                unparsed[plan.name] = encoded.unparsed
        if report_unparsed and unparsed:
            detail = ", ".join(f"{n} value(s) in column {name!r}" for name, n in unparsed.items())
            log.warning("%s are not numbers and were treated as missing", detail)
        # not consolidated into one block: that would copy every column once more (the table twice in memory at
        # once); a float column that needed no cleaning stays a view of the input's (copy on write keeps it safe)
        frame = pd.DataFrame(out, copy=False)
        frame.index = X.index
        return frame

    def _input_columns(self, X: pd.DataFrame) -> dict:
        """Column name (as text) -> ``X``'s column label; a column the plans need that ``X`` lacks is bad input,
        columns the encoder was not fitted on are ignored with a warning."""
        if not isinstance(X, pd.DataFrame):
            raise InputError("features must be a table (pandas DataFrame)")
        present = {str(c): c for c in X.columns}
        missing = [p.name for p in self.plans_ if p.name not in present]
        if missing:
            raise InputError(f"data is missing column(s) the model needs: {', '.join(map(repr, missing))}")
        extra = [c for c in present if c not in self.input_columns_]
        if extra:
            log.warning("ignoring %d column(s) the model was not trained on: %s", len(extra),
                        ", ".join(map(repr, extra[:10])))
        return present

    def fit_transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return self.fit(X).transform(X)

    def drop(self, reasons: dict[str, str]) -> None:
        """Stop using the input columns in ``reasons`` (name -> why, recorded in the schema); at predict time
        they are neither needed nor reported as extra."""
        if not reasons:
            return
        self.plans_ = [p for p in self.plans_ if p.name not in reasons]
        self.dropped_.update(reasons)
        if not self.plans_:
            raise InputError("no usable feature left after dropping " + ", ".join(map(repr, reasons)))

    @property
    def sources(self) -> dict[str, str]:
        """Cleaned column -> the input column it comes from."""
        return {out: p.name for p in self.plans_ for out in p.outputs}

    def column_kinds(self) -> dict[str, str]:
        """Every input column's kind as this encoder sees it (numeric, boolean, category, datetime, text; ``dropped``
        for one it leaves out: constant, empty, ID-like), in input order: what a table's lineage is made of."""
        kinds = {plan.name: plan.kind for plan in self.plans_}
        return {name: kinds.get(name, "dropped") for name in self.input_columns_}

    @property
    def schema(self) -> dict:
        """The input schema saved with a model: columns, dtypes, how each is used, what was dropped."""
        return {
            "columns": self.input_columns_,
            "dtypes": self.input_dtypes_,
            "used": {p.name: p.kind for p in self.plans_},
            "dropped": dict(self.dropped_),
        }
