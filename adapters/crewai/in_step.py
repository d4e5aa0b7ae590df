"""crewai inside a python step: its model and tool calls recorded with the step, quietly.

A python step may kick off a crew or a Flow itself (``Crew.kickoff``, ``kickoff_for_each``,
``Flow.kickoff``). While the step runs, :func:`crewai_in_step` gives it a
:class:`~omium.adapters.crewai.listener.RunScope` of its own (the listener routes every
crewai event emitted in the step's context there: crewai runs its handlers in a copy of
the emitting thread's context, and a sync step's thread inherits the step's), hooks that
report each tool call as a crew run does, and crewai's own switch that keeps its console
panels (``Flow Method Running`` …) out of ``omium run``'s output. When the step ends its
events become ``llm.call`` / ``tool.call`` payloads, handed to ``record`` in emission order.

Unlike a ``framework: crewai`` run, the crew's tasks are not steps here. When such a step
is re-executed live (``omium replay --reexecute --live STEP``), :data:`REPLAY_IN_STEP`
answers crewai's calls from the step's recorded ones: every crew that kicks off in the
step gets LLMs answering from the recording, and each tool call is answered with what
the agent saw (:class:`~omium.adapters.crewai.calls.CallHooks`); a call the recording
does not have raises :class:`~omium.producers.recorded.Diverged`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from crewai.hooks.dispatch import scoped_hooks
from crewai_core.printer import set_suppress_console_output, should_suppress_console_output

from omium.adapters.crewai.calls import CallHooks
from omium.adapters.crewai.listener import (
    RunScope,
    current_scope,
    ensure_listener,
    flush,
)
from omium.adapters.crewai.payloads import PayloadBuilder
from omium.adapters.crewai.payloads import Record as Kept
from omium.producers.recorded import RecordedCalls
from omium.schemas import Event, LLMCall, ToolCall

Record = Callable[[str, dict[str, Any]], Awaitable[None]]


@asynccontextmanager
async def crewai_in_step(step: str, record: Record) -> AsyncIterator[None]:
    """Record what crewai does inside the ``with`` block as step ``step``'s calls.

    Enter it in the task that runs the step (a sync step's thread, started inside,
    inherits it). ``record`` gets each payload with ``step`` set.
    """
    ensure_listener()
    scope, builder = RunScope(), PayloadBuilder((), ())
    taken: list[Kept] = []

    def take() -> None:  # on crewai's thread, before each call and kickoff: see CallHooks
        flush()
        taken.extend(scope.take())

    calls = CallHooks(before=take)
    token = current_scope.set(scope)
    quiet = should_suppress_console_output()
    set_suppress_console_output(True)
    try:
        with scoped_hooks(calls.hooks()):
            yield
    finally:
        set_suppress_console_output(quiet)
        current_scope.reset(token)
        try:
            if calls.called:
                await asyncio.to_thread(flush)  # the bus's handlers run on its own threads
                for kept in [*taken, *scope.take()]:
                    for kind, payload in builder.feed(kept):
                        await record(kind, {**payload, "step": step})
        finally:
            scope.close()


#: what :mod:`omium.processors.frameworks.observers` enters around each python step
IN_STEP = crewai_in_step


class CrewaiStepReplay:
    """crewai's part of a python step re-executed live (see the module docs)."""

    def claims(self, event: Event) -> bool:
        """Whether ``event`` is a call crewai made (an agent made it: ``agent`` is its role)."""
        return isinstance(event, LLMCall | ToolCall) and event.payload.agent is not None

    @asynccontextmanager
    async def answering(self, step: str, events: list[Event]) -> AsyncIterator[RecordedCalls]:
        """Answer crewai's calls from ``events`` inside the ``with`` block, quietly."""
        calls = RecordedCalls(
            ((e.type, e.payload.model_dump(mode="json")) for e in events),
            by="agent",
            scope=f"step {step}",
        )
        ensure_listener()
        quiet = should_suppress_console_output()
        set_suppress_console_output(True)
        try:
            with scoped_hooks(CallHooks(calls).hooks()):
                yield calls
        finally:
            set_suppress_console_output(quiet)


#: what :mod:`omium.processors.frameworks.observers` uses to re-execute a python step live
REPLAY_IN_STEP = CrewaiStepReplay()
