"""The ``automl`` command line's commands, one module per family; ``cli.py`` at the root is the thin group
that registers them (and stays the entry point).

Only these modules print. Module level imports are click and the standard library only: the model libraries
load inside a command, after ``fit`` has started the trial workers' fork server (``automl.search.runner``).
"""
