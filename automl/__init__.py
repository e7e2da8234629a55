"""Meta-learning AutoML: a better model in the same seconds, because it remembers similar data."""
from .estimator import AutoML, AutoMLClassifier, AutoMLRegressor
from .exceptions import AutoMLError, InputError, ModelLoadError
from .versions import __version__

__all__ = ["AutoML", "AutoMLClassifier", "AutoMLRegressor", "AutoMLError", "InputError", "ModelLoadError",
           "__version__"]
