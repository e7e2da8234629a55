"""Robust scaling of meta-feature vectors and the distance between datasets.

Fitted on the knowledge-base population: per feature, centre = median and scale = IQR / 1.349
(the standard deviation for normal data; falls back to the standard deviation, then 1). Scaled
values are clipped to [-5, 5] so one extreme feature cannot dominate. Missing rule: a NaN after
scaling becomes 0, the population median, so a missing value neither pulls datasets together
nor pushes them apart more than a typical value would.
"""
from __future__ import annotations

import numpy as np

CLIP = 5.0


class RobustScaler:
    def __init__(self, names, centre, scale, weights=None) -> None:
        self.names = list(names)
        self.centre = np.asarray(centre, dtype=float)
        self.scale = np.asarray(scale, dtype=float)
        self.weights = np.ones(len(self.names)) if weights is None else np.asarray(weights, dtype=float)

    @classmethod
    def fit(cls, names, matrix, weights=None) -> "RobustScaler":
        m = np.asarray(matrix, dtype=float)
        if m.ndim != 2 or m.shape[0] == 0:
            return cls(names, np.zeros(len(names)), np.ones(len(names)), weights)
        with np.errstate(all="ignore"):
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                centre = np.nanmedian(m, axis=0)
                q75, q25 = np.nanpercentile(m, 75, axis=0), np.nanpercentile(m, 25, axis=0)
                scale = (q75 - q25) / 1.349
                sd = np.nanstd(m, axis=0)
        scale = np.where(np.isfinite(scale) & (scale > 1e-12), scale, np.where(np.isfinite(sd) & (sd > 1e-12), sd, 1.0))
        centre = np.where(np.isfinite(centre), centre, 0.0)
        return cls(names, centre, scale, weights)

    def transform(self, matrix) -> np.ndarray:
        m = np.atleast_2d(np.asarray(matrix, dtype=float))
        z = np.clip((m - self.centre) / self.scale, -CLIP, CLIP)
        return np.where(np.isnan(z), 0.0, z) * np.sqrt(self.weights / self.weights.mean())

    def vector(self, values: dict) -> np.ndarray:
        return self.transform([[values.get(n, np.nan) for n in self.names]])[0]

    def to_json(self) -> dict:
        return {"names": self.names, "centre": self.centre.tolist(), "scale": self.scale.tolist(),
                "weights": self.weights.tolist()}

    @classmethod
    def from_json(cls, d: dict) -> "RobustScaler":
        return cls(d["names"], d["centre"], d["scale"], d.get("weights"))


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two scaled vectors, divided by sqrt(dimension)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.sqrt(np.sum((a - b) ** 2) / max(1, a.size)))
