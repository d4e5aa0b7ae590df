"""What libraries do inside a python step: recorded with the step, re-executed from the log.

A python step may call a framework itself (a CrewAI crew or Flow kicked off in the
step's code). Such a framework's bridge offers

- ``IN_STEP(step, record)``, an async context manager the python run enters around the
  step, recording the library's calls as the step's (see
  :mod:`omium.adapters.crewai.in_step`);
- ``REPLAY_IN_STEP`` (a :class:`StepReplay`), used when ``omium replay --reexecute --live
  STEP`` runs the step again: it claims the recorded calls that are the library's and
  answers the library's calls from them while the step re-runs.

They are registered by the library's top-level module name and used only when the
workflow's code imported that library: a python workflow that never imports crewai never
loads omium's crewai bridge.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from omium.producers.recorded import RecordedCalls
from omium.schemas import Event

Record = Callable[[str, dict[str, Any]], Awaitable[None]]
InStep = Callable[[str, Record], AbstractAsyncContextManager[None]]


class StepReplay(Protocol):
    """A library's part of a python step re-executed live."""

    def claims(self, event: Event) -> bool:
        """Whether ``event`` (an ``llm.call`` / ``tool.call`` of the step) is the library's."""
        ...

    def answering(
        self, step: str, events: list[Event]
    ) -> AbstractAsyncContextManager[RecordedCalls]:
        """Answer the library's calls from ``events`` (the ones it claimed) meanwhile."""
        ...


#: library (top-level module) -> the module whose ``IN_STEP`` observes it in a step
BUILTIN = {"crewai": "omium.adapters.crewai.in_step"}

_registered: dict[str, InStep] = {}
_replays: dict[str, StepReplay] = {}


def register(library: str, in_step: InStep, replay: StepReplay | None = None) -> None:
    """Enter ``in_step`` around each python step once ``library`` is imported.

    ``replay``: how the library's calls are answered when such a step is re-executed.
    """
    _registered[library] = in_step
    if replay is not None:
        _replays[library] = replay


def _imported() -> list[str]:
    """The libraries imported so far (built-in bridges loaded on first use)."""
    found = []
    for library in sorted({*BUILTIN, *_registered}):
        if library not in sys.modules:
            continue
        if library not in _registered:
            bridge = importlib.import_module(BUILTIN[library])
            register(library, bridge.IN_STEP, getattr(bridge, "REPLAY_IN_STEP", None))
        found.append(library)
    return found


def observers() -> list[InStep]:
    """The observers of the libraries imported so far (built-in ones loaded on first use)."""
    return [_registered[library] for library in _imported()]


@asynccontextmanager
async def observing(step: str, record: Record) -> AsyncIterator[None]:
    """Enter every observer of :func:`observers` around one step."""
    async with AsyncExitStack() as stack:
        for in_step in observers():
            await stack.enter_async_context(in_step(step, record))
        yield


@dataclass
class Replayed:
    """What the libraries answer while a step re-runs, and what is left to the step."""

    #: the step's recorded calls no library claimed (omium's own wrapped calls)
    rest: list[Event]
    calls: list[RecordedCalls] = field(default_factory=list)

    @property
    def answered(self) -> int:
        """Calls the libraries answered so far."""
        return sum(c.answered for c in self.calls)

    def check_all_used(self) -> None:
        """Raise ``Diverged`` naming a library's recorded call that was not made."""
        for calls in self.calls:
            calls.check_all_used()


@asynccontextmanager
async def replaying(step: str, events: list[Event]) -> AsyncIterator[Replayed]:
    """While re-running ``step``: each imported library answers its recorded calls.

    Every library with a :class:`StepReplay` answers, even with nothing recorded: a call
    the recording does not have diverges, rather than reaching a provider.
    """
    replayed = Replayed(list(events))
    async with AsyncExitStack() as stack:
        for library in _imported():
            replay = _replays.get(library)
            if replay is None:
                continue
            mine = [e for e in replayed.rest if replay.claims(e)]
            replayed.rest = [e for e in replayed.rest if not replay.claims(e)]
            calls = await stack.enter_async_context(replay.answering(step, mine))
            replayed.calls.append(calls)
        yield replayed
