"""Command line: ``automl fit``, ``automl predict``, ``automl kb ...`` and the rest.

The entry point (``automl = "cli:main"``): the group, its options and the registration of the commands, which
live in ``automl.commands`` (one module per command family). Only the command line prints. Errors of the
project's family become one line ``error: ...`` on stderr with exit code 2 for bad input and 1 otherwise;
``--debug`` shows the traceback; Ctrl-C exits 130 (``automl.commands._errors``).
"""
from __future__ import annotations

import sys

try:  # Ctrl-C while the command line's own modules load ends like Ctrl-C later on
    import time

    import click

    from automl.commands._errors import ErrorHandlingGroup, configure_logging, restore_logging
    from automl.commands.drift import drift
    from automl.commands.fit import fit
    from automl.commands.kb import kb
    from automl.commands.predict import evaluate, predict
    from automl.commands.report import report
    from automl.commands.retune import retune
except KeyboardInterrupt:  # (automl.commands._errors.interrupted_exit, which may not have loaded yet)
    sys.stderr.write("error: interrupted\n")
    sys.stderr.flush()
    raise SystemExit(130) from None


@click.group(cls=ErrorHandlingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.version_option(package_name="automl-meta", prog_name="automl")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Meta-learning AutoML: fit a model within a time budget, predict with it, grow the knowledge base."""
    ctx.ensure_object(dict)
    ctx.obj["start"] = time.monotonic()  # the time budget covers the whole command, imports included
    ctx.obj["debug"] = debug
    configure_logging(False, debug)
    ctx.call_on_close(restore_logging)


for _command in (fit, predict, evaluate, report, drift, retune, kb):
    main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    main()
