"""Options, arguments and option values shared by several commands: lists of valid values shown in ``--help``,
``--time-budget``, comma-separated names, ``--kb``, ``--quiet``, MODEL_DIR and DATA, and ``--data`` / ``--target``
evaluation data."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import click

KB_OPTION = click.option("--kb", "kb_path", type=click.Path(path_type=Path), default=None,
                         help="Knowledge base file (default: $AUTOML_KB or the per-user store).")
QUIET_OPTION = click.option("--quiet", "-q", is_flag=True, help="No warnings.")


class ValuesHelpOption(click.Option):
    """An option whose help lists the valid values, read from their owner only when help is shown: the model
    registry and the metrics import scikit-learn and LightGBM (about 1 s), which only ``--help`` should pay."""

    def __init__(self, *args, values: Callable[[], Iterable[str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._values = values
        self._template = self.help or ""

    def get_help_record(self, ctx: click.Context):
        self.help = self._template.format(values=", ".join(self._values()))
        return super().get_help_record(ctx)


def family_and_step_names() -> list[str]:
    from automl.models import REGISTRY
    from automl.models.steps import STEPS
    return [*REGISTRY.keys(), *STEPS.keys()]


def metric_names() -> list[str]:
    from automl.metrics import METRICS
    return list(METRICS)


def task_names() -> tuple[str, ...]:
    from automl.metrics import TASKS
    return TASKS


def strategy_names() -> tuple[str, ...]:
    from automl.estimator import STRATEGIES
    return STRATEGIES


def parse_budget(value: float) -> float:
    return positive_seconds(value, "--time-budget")


def positive_seconds(value: float, option: str) -> float:
    """``value`` of ``option`` when it is a positive, finite number of seconds, else an ``InputError``."""
    from automl.exceptions import InputError
    if not (value > 0) or value != value or value == float("inf"):
        raise InputError(f"{option} must be a positive number of seconds; got {value!r}")
    return float(value)


def split_names(values: Iterable[str]) -> list[str]:
    """Names from a repeatable, comma-separated option, in the order given, each once."""
    names: list[str] = []
    for value in values:
        for name in (part.strip() for part in value.split(",")):
            if name and name not in names:
                names.append(name)
    return names


def evaluation_data(data_path, target):
    """(X, y) from --data/--target, or (None, None); the two options go together."""
    from automl.exceptions import InputError
    if (data_path is None) != (target is None):
        raise InputError("--data and --target go together: give both, or neither")
    if data_path is None:
        return None, None
    from automl.data import load_table, split_target
    return split_target(load_table(data_path), target)


def model_dir_and_data(command):
    """The two arguments of the commands that apply a saved model to a table: MODEL_DIR and DATA."""
    command = click.argument("data", type=click.Path(path_type=Path))(command)
    return click.argument("model_dir", type=click.Path(path_type=Path))(command)
