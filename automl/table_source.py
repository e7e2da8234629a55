"""Where a fitted table came from, as the caller that read it knows it (``automl fit``, ``automl retune``), and
the holder in which such a caller hands the table over (``HandedOver``).

A fit records it in ``fit_info_["options"]`` beside the estimator's parameters, so the manifest, the
knowledge-base run, ``automl fit --resume`` and ``automl retune`` can read the table again the same way.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableSource:
    """The columns and files a table was read with; None where the caller did not use one."""

    target: str | None = None  # the column predicted
    weight_column: str | None = None  # the column ``sample_weight`` was taken from
    groups_column: str | None = None  # the column ``groups`` was taken from
    valid_file: str | None = None  # the file ``X_val`` / ``y_val`` were read from

    def as_options(self) -> dict[str, str | None]:
        """The fit options' keys for these (``target``, ``weight_column``, ``groups``, ``valid``), as the
        manifest stores them and ``automl fit --resume`` reads them."""
        return {"target": self.target, "weight_column": self.weight_column, "groups": self.groups_column,
                "valid": self.valid_file}


class HandedOver:
    """A feature table handed to ``AutoML.fit`` by a caller that keeps no other reference to it (``automl fit``,
    which read it from a file). The fit takes it out once (``take``) and keeps it only until the search owns the
    encoded rows, so the raw table does not stay in memory while the search runs."""

    __slots__ = ("_frame",)

    def __init__(self, frame) -> None:
        self._frame = frame

    def take(self):
        """The table; the holder is empty afterwards (a second take is a programming error: ValueError)."""
        frame, self._frame = self._frame, None
        if frame is None:
            raise ValueError("the handed-over table was taken already")
        return frame


__all__ = ["HandedOver", "TableSource"]
