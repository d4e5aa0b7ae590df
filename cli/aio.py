"""Running async work from a command: one event loop, Ctrl-C as exit code 130."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

import typer

# the commands exit with it when a run (or a check) did not succeed
from omium.schemas.errors import EXIT_FAILED as EXIT_FAILED

T = TypeVar("T")

#: options shared by the commands
UrlOpt = Annotated[str | None, typer.Option(help="Log URL (default: OMIUM_LOG_URL).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]

#: exit code after Ctrl-C (1 and 2 are defined with the error tree: omium.schemas.errors)
EXIT_INTERRUPTED = 130


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)``; an interrupt exits with 130 instead of click's "Aborted!"."""
    try:
        return asyncio.run(coro)
    except KeyboardInterrupt:
        print("omium: interrupted", file=sys.stderr)
        raise typer.Exit(EXIT_INTERRUPTED) from None
