"""Meta-learning AutoML: a better model in the same seconds, because it remembers similar data.

The estimators are imported on first use (PEP 562), so ``import automl.search.runner`` is cheap: the
command line starts the trial workers' fork server (which imports the model libraries) before it imports
them itself, and the two imports run side by side.
"""
from .exceptions import AutoMLError, InputError, ModelLoadError
from .versions import __version__

_ESTIMATORS = ("AutoML", "AutoMLClassifier", "AutoMLRegressor")


def __getattr__(name: str):
    if name in _ESTIMATORS:
        from . import estimator
        return getattr(estimator, name)
    raise AttributeError(f"module 'automl' has no attribute {name!r}")


__all__ = ["AutoML", "AutoMLClassifier", "AutoMLRegressor", "AutoMLError", "InputError", "ModelLoadError",
           "__version__"]
