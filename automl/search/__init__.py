"""The search: roles (sampler, scheduler, runner, history) composed by the optimiser.

Names are imported on first use (PEP 562), so ``automl.search.runner`` loads without the model libraries.
"""
_EXPORTS = {"optimize": "optimizer", "SearchProblem": "optimizer", "SearchResult": "optimizer",
            "STRATEGIES": "optimizer", "Trial": "history", "History": "history", "OK": "history",
            "FAILED": "history", "TIMEOUT": "history"}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'automl.search' has no attribute {name!r}")
    from importlib import import_module
    return getattr(import_module(f".{module}", __name__), name)


__all__ = ["optimize", "SearchProblem", "SearchResult", "Trial", "History", "STRATEGIES", "OK", "FAILED",
           "TIMEOUT"]
