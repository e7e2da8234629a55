"""How every command ends: errors of the project's family become one line ``error: ...`` on stderr with their
``exit_code`` (2 for bad input, 1 otherwise), Ctrl-C exit 130, ``--debug`` shows the traceback; library
warnings become ``warning: ...`` lines on stderr for the command's duration."""
from __future__ import annotations

import logging
import sys
import traceback

import click

EXIT_INTERRUPTED = 130


def interrupted_exit() -> SystemExit:
    """Ctrl-C before a model exists: the one line and exit code 130 (nothing saved)."""
    sys.stderr.write("error: interrupted\n")
    sys.stderr.flush()
    return SystemExit(EXIT_INTERRUPTED)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class ErrorHandlingGroup(click.Group):
    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Every way the command ends goes through here: click's usage errors, Ctrl-C during parsing or
        start-up and the command's own exit code become one line ``error: ...`` and the exit code."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:  # bare ``automl`` or ``automl kb``: a request for help
            click.echo(exc.ctx.get_help())
            sys.exit(0)
        except click.ClickException as exc:
            message = _one_line(exc.format_message()).rstrip(".")
            if message[:2].istitle():  # click's "Missing argument ..." reads as the rest of our messages
                message = message[0].lower() + message[1:]
            ctx = getattr(exc, "ctx", None)
            if isinstance(exc, click.UsageError) and ctx is not None:
                message += f"; see '{ctx.command_path} --help'"
            click.echo(f"error: {message}", err=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.Abort, KeyboardInterrupt):
            raise interrupted_exit() from None
        sys.exit(code if isinstance(code, int) else 0)

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except KeyboardInterrupt:  # click would turn it into Abort after printing an empty line
            raise interrupted_exit() from None

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except Exception as exc:  # the single place where errors become exit codes
            debug = (ctx.obj or {}).get("debug", False)
            if debug:
                traceback.print_exc()
            code = getattr(exc, "exit_code", None)
            if _is_project_error(exc) and isinstance(code, int):
                message = str(exc).strip().replace("\n", " ")
                click.echo(f"error: {message}", err=True)
                ctx.exit(code)
            click.echo(f"error: unexpected {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
                       f" (run with --debug for the traceback)", err=True)
            ctx.exit(1)


def _is_project_error(exc: Exception) -> bool:
    from automl.exceptions import AutoMLError
    if isinstance(exc, AutoMLError):
        return True
    try:
        from knowledge_base import KnowledgeBaseError
    except ImportError:  # pragma: no cover - the package is part of this distribution
        return False
    return isinstance(exc, KnowledgeBaseError)


class _StderrFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


_SAVED_LOGGING: list = []


def configure_logging(quiet: bool, debug: bool) -> None:
    """Library warnings become ``warning: ...`` lines on stderr for this command (undone when it ends)."""
    logger = logging.getLogger("automl")
    restore_logging()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_StderrFormatter())
    _SAVED_LOGGING[:] = [handler, logger.level, logger.propagate]
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else (logging.ERROR if quiet else logging.WARNING))
    logger.propagate = False


def restore_logging() -> None:
    if _SAVED_LOGGING:
        handler, level, propagate = _SAVED_LOGGING
        logger = logging.getLogger("automl")
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
        _SAVED_LOGGING.clear()
