"""crewai inside a python step: its model and tool calls recorded with the step, quietly.

A python step may kick off a crew or a Flow itself (``Crew.kickoff``, ``kickoff_for_each``,
``Flow.kickoff``). While the step runs, :func:`crewai_in_step` gives it a
:class:`~omium.adapters.crewai.listener.RunScope` of its own (the listener routes every
crewai event emitted in the step's context there: crewai runs its handlers in a copy of
the emitting thread's context, and a sync step's thread inherits the step's), hooks that
report each tool call as a crew run does, and crewai's own switch that keeps its console
panels (``Flow Method Running`` …) out of ``omium run``'s output. When the step ends its
events become ``llm.call`` / ``tool.call`` payloads, handed to ``record`` in emission order.

Unlike a ``framework: crewai`` run, the crew's tasks are not steps here, and
re-execution does not answer these calls from the log (the step's code runs as it is).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from crewai.hooks.dispatch import InterceptionPoint, scoped_hooks
from crewai_core.printer import set_suppress_console_output, should_suppress_console_output

from omium.adapters.crewai.listener import (
    OmiumToolCallEvent,
    RunScope,
    current_scope,
    ensure_listener,
    flush,
    report_tool_call,
)
from omium.adapters.crewai.payloads import PayloadBuilder, as_text, jsonable

Record = Callable[[str, dict[str, Any]], Awaitable[None]]


class _Calls:
    """Hooks: note that crewai called a model or a tool; report each tool call on the bus.

    The hooks run on the calling thread, at once: a step in which they never ran has
    nothing to record, and its end waits for nothing (not even the bus).
    """

    def __init__(self) -> None:
        self._began: dict[int, float] = {}
        self.called = False

    def hooks(self) -> dict[InterceptionPoint, list[Callable[[Any], Any]]]:
        return {
            InterceptionPoint.PRE_MODEL_CALL: [self._model],
            InterceptionPoint.PRE_TOOL_CALL: [self._pre],
            InterceptionPoint.POST_TOOL_CALL: [self._post],
        }

    def _model(self, ctx: Any) -> None:
        self.called = True

    def _pre(self, ctx: Any) -> None:
        self.called = True
        self._began[id(ctx.tool_input)] = time.perf_counter()

    def _post(self, ctx: Any) -> None:
        began = self._began.pop(id(ctx.tool_input), time.perf_counter())
        result = jsonable(getattr(ctx, "raw_tool_result", ctx.tool_result))
        seen = ctx.tool_result
        report_tool_call(
            ctx.agent or self,
            OmiumToolCallEvent(
                tool=ctx.tool_name,
                agent=getattr(ctx.agent, "role", None),
                arguments=jsonable(ctx.tool_input),
                result=result,
                latency_ms=(time.perf_counter() - began) * 1000,
                shown_to_agent=None if seen is None or str(seen) == as_text(result) else str(seen),
            ),
        )


@asynccontextmanager
async def crewai_in_step(step: str, record: Record) -> AsyncIterator[None]:
    """Record what crewai does inside the ``with`` block as step ``step``'s calls.

    Enter it in the task that runs the step (a sync step's thread, started inside,
    inherits it). ``record`` gets each payload with ``step`` set.
    """
    ensure_listener()
    scope, builder, calls = RunScope(), PayloadBuilder((), ()), _Calls()
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
                for kept in scope.take():
                    for kind, payload in builder.feed(kept):
                        await record(kind, {**payload, "step": step})
        finally:
            scope.close()


#: what :mod:`omium.processors.frameworks.observers` enters around each python step
IN_STEP = crewai_in_step
