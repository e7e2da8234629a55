"""Library versions recorded with every saved model and every knowledge-base run."""
from __future__ import annotations

import platform
from importlib import metadata

__version__ = "0.1.0"
MODEL_FORMAT_VERSION = "1.0"  # major.minor: a different major cannot be loaded

_TRACKED = ("scikit-learn", "lightgbm", "pandas", "numpy", "scipy", "duckdb", "catboost", "xgboost")


def library_versions() -> dict[str, str]:
    out = {"automl": __version__, "python": platform.python_version()}
    for name in _TRACKED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out
