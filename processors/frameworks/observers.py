"""What libraries do inside a python step, recorded with the step's events.

A python step may call a framework itself (a CrewAI crew or Flow kicked off in the
step's code). Such a framework's bridge offers ``IN_STEP(step, record)``, an async
context manager the python run enters around the step (see
:mod:`omium.adapters.crewai.in_step`). They are registered by the library's top-level
module name and used only when the workflow's code imported that library: a python
workflow that never imports crewai never loads omium's crewai bridge.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

Record = Callable[[str, dict[str, Any]], Awaitable[None]]
InStep = Callable[[str, Record], AbstractAsyncContextManager[None]]

#: library (top-level module) -> the module whose ``IN_STEP`` observes it in a step
BUILTIN = {"crewai": "omium.adapters.crewai.in_step"}

_registered: dict[str, InStep] = {}


def register(library: str, in_step: InStep) -> None:
    """Enter ``in_step`` around each python step once ``library`` is imported."""
    _registered[library] = in_step


def observers() -> list[InStep]:
    """The observers of the libraries imported so far (built-in ones loaded on first use)."""
    found = []
    for library in sorted({*BUILTIN, *_registered}):
        if library not in sys.modules:
            continue
        if library not in _registered:
            _registered[library] = importlib.import_module(BUILTIN[library]).IN_STEP
        found.append(_registered[library])
    return found


@asynccontextmanager
async def observing(step: str, record: Record) -> AsyncIterator[None]:
    """Enter every observer of :func:`observers` around one step."""
    async with AsyncExitStack() as stack:
        for in_step in observers():
            await stack.enter_async_context(in_step(step, record))
        yield
