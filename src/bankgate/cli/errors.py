"""How the command line reports failure: one clear line, a non-zero exit, never a traceback."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from bankgate.errors import BankgateError, ConfigError, DomainError, FormatError, NotFound

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "one_line_errors"]

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
P = ParamSpec("P")
R = TypeVar("R")
log = logging.getLogger("bankgate.cli")


def one_line_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn expected errors into one line on stderr and exit 2 (bad input) or 1 (failure)."""
    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (DomainError, FormatError, ConfigError, NotFound) as exc:
            _say(f"error: {exc}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except BankgateError as exc:
            _say(f"error: {exc}")
            raise typer.Exit(EXIT_FAILED) from None
        except KeyboardInterrupt:
            _say("interrupted; nothing half-done was committed")
            raise typer.Exit(130) from None
        except BrokenPipeError:
            sys.stderr.close()
            raise typer.Exit(EXIT_FAILED) from None
        except OSError as exc:
            _say(f"error: {exc.filename or ''}: {exc.strerror or exc}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except Exception as exc:  # the outermost edge: a bug; log it, say one line
            log.debug("unexpected failure", exc_info=True)
            _say(f"internal error: {type(exc).__name__}: {exc} (run with -v for details)")
            raise typer.Exit(EXIT_FAILED) from None

    return wrapper


def _say(message: str) -> None:
    try:
        print(message.replace("\n", " "), file=sys.stderr)
    except (BrokenPipeError, ValueError):
        pass
