"""Robust scaling of meta-feature vectors and the distance between datasets.

Fit on the knowledge-base population (one row per dataset, columns in ``FEATURE_NAMES`` order, usually
one task at a time): per feature, ``centre`` = median and ``scale`` = IQR / 1.349 (the standard deviation
for normal data); when the IQR is 0 the standard deviation is used, when that is 0 too, 1. Scaled values
are clipped to [-CLIP, CLIP] so one extreme feature cannot dominate a distance.

Missing rule: a value that is NaN (missing meta-feature, or a feature the population never had) becomes
0 after scaling, i.e. the population median. A missing value therefore neither pulls two datasets together
nor pushes them apart more than a typical value would, and a feature missing for everyone adds nothing.

Weights: optional non-negative per-feature weights (mapping name -> weight, or a sequence in ``names``
order; unnamed features weigh 1), normalised to mean 1. They are folded into ``transform`` as
``sqrt(w)``, so the plain Euclidean distance between transformed vectors is the weighted distance.

``distance(a, b)`` is the root-mean-square difference (Euclidean / sqrt(dimension)), so its size does not
depend on the number of meta-features: 0 = identical, about 1.4 = two typical independent datasets.

The fitted scaler is plain data: ``to_json()`` returns a JSON-serialisable dict, ``from_json`` reads it.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np

CLIP = 5.0
IQR_TO_SD = 1.349


def _weights(names: Sequence[str], weights) -> np.ndarray:
    if weights is None:
        w = np.ones(len(names))
    elif isinstance(weights, Mapping):
        w = np.array([float(weights.get(n, 1.0)) for n in names])
    else:
        w = np.asarray(weights, dtype=float).ravel()
        if w.shape != (len(names),):
            raise ValueError(f"The 'weights' parameter must have {len(names)} values. Got {w.size} instead.")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or not np.any(w > 0):
        raise ValueError("The 'weights' parameter must be finite, non-negative and not all 0.")
    return w


class RobustScaler:
    """Per-feature robust scaling; ``fit`` on a population, ``transform`` any vectors."""

    def __init__(self, names: Sequence[str], centre, scale, weights=None, clip: float = CLIP) -> None:
        self.names = [str(n) for n in names]
        self.centre = np.asarray(centre, dtype=float).ravel()
        self.scale = np.asarray(scale, dtype=float).ravel()
        self.weights = _weights(self.names, weights)
        self.clip = float(clip)
        if self.centre.shape != (len(self.names),) or self.scale.shape != (len(self.names),):
            raise ValueError("centre and scale need one value per name")

    @classmethod
    def fit(cls, names: Sequence[str], matrix, weights=None, clip: float = CLIP) -> RobustScaler:
        """Fit on ``matrix`` (datasets x len(names), NaN allowed)."""
        names = list(names)
        m = np.asarray(matrix, dtype=float)
        if m.ndim != 2 or m.shape[0] == 0:
            return cls(names, np.zeros(len(names)), np.ones(len(names)), weights, clip)
        if m.shape[1] != len(names):
            raise ValueError(f"The population matrix must have {len(names)} columns. Got {m.shape[1]} instead.")
        m = np.where(np.isfinite(m), m, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            centre = np.nanmedian(m, axis=0)
            q25, q75 = np.nanpercentile(m, [25, 75], axis=0)
            sd = np.nanstd(m, axis=0)
        scale = (q75 - q25) / IQR_TO_SD
        tiny = 1e-12 * (np.abs(np.nan_to_num(centre)) + 1.0)
        scale = np.where(np.isfinite(scale) & (scale > tiny), scale,
                         np.where(np.isfinite(sd) & (sd > tiny), sd, 1.0))
        centre = np.where(np.isfinite(centre), centre, 0.0)
        return cls(names, centre, scale, weights, clip)

    def transform(self, matrix) -> np.ndarray:
        """Scaled, clipped, weighted rows; NaN -> 0 (the population median)."""
        m = np.atleast_2d(np.asarray(matrix, dtype=float))
        with np.errstate(invalid="ignore"):
            z = np.clip((m - self.centre) / self.scale, -self.clip, self.clip)
        z = np.where(np.isnan(z), 0.0, z)
        return z * np.sqrt(self.weights / self.weights.mean())

    def vector(self, values: Mapping[str, float]) -> np.ndarray:
        """One dataset's meta-feature dict as a scaled vector (absent names are missing)."""
        row = [values.get(n, np.nan) for n in self.names]
        return self.transform([[np.nan if v is None else v for v in row]])[0]

    def with_weights(self, weights) -> RobustScaler:
        return RobustScaler(self.names, self.centre, self.scale, weights, self.clip)

    def to_json(self) -> dict:
        return {"kind": "robust", "names": list(self.names), "centre": [float(v) for v in self.centre],
                "scale": [float(v) for v in self.scale], "weights": [float(v) for v in self.weights],
                "clip": self.clip}

    @classmethod
    def from_json(cls, data: Mapping) -> RobustScaler:
        return cls(data["names"], data["centre"], data["scale"], data.get("weights"), data.get("clip", CLIP))


def distance(a, b, weights=None) -> float:
    """Root-mean-square difference of two vectors (already scaled); NaN counts as 0 (the median).

    ``weights`` (optional, one per dimension, non-negative) gives ``sqrt(sum w d^2 / sum w)``.
    """
    a = np.nan_to_num(np.asarray(a, dtype=float).ravel(), nan=0.0)
    b = np.nan_to_num(np.asarray(b, dtype=float).ravel(), nan=0.0)
    if a.shape != b.shape:
        raise ValueError(f"vectors differ in length: {a.size} and {b.size}")
    if a.size == 0:
        return 0.0
    d2 = (a - b) ** 2
    if weights is None:
        return float(np.sqrt(d2.mean()))
    w = np.asarray(weights, dtype=float).ravel()
    if w.shape != a.shape or np.any(w < 0) or not np.any(w > 0):
        raise ValueError("The 'weights' parameter must have one non-negative value per dimension, not all 0.")
    return float(np.sqrt((w * d2).sum() / w.sum()))


def distances(matrix, query) -> np.ndarray:
    """``distance(row, query)`` for every row of a scaled matrix (vectorised)."""
    m = np.nan_to_num(np.atleast_2d(np.asarray(matrix, dtype=float)), nan=0.0)
    q = np.nan_to_num(np.asarray(query, dtype=float).ravel(), nan=0.0)
    if m.shape[1] == 0:
        return np.zeros(m.shape[0])
    return np.sqrt(((m - q) ** 2).mean(axis=1))


def nearest(matrix, query, k: int = 1) -> np.ndarray:
    """Row indices of the ``k`` nearest rows of a scaled matrix to ``query`` (ties: lower index first)."""
    return np.argsort(distances(matrix, query), kind="stable")[:k]
