"""``framework: crewai`` with ``crew:`` naming a CrewAI Flow: each method run is a step.

The flow runs on a thread (:class:`~omium.adapters.crewai.flow_run.FlowRun`). Each method
execution is a step named after the method (a method that runs twice, in a loop, is two
steps); after it the runner records ``step.completed`` and a checkpoint whose state is the
flow's state plus, under :data:`METHODS`, every method run so far with its output::

    {"id": "<execution id>", "numbers": [6, 7], "product": 42,
     "__methods__": [["collect", "collected"], ["route", "big"], ["compute", "42"]]}

The flow's ``state.id`` is the execution id. As for crews and python steps:

- pause / resume act between methods; cancel stops the flow;
- after a crash the flow continues after the attempt's last checkpoint: it runs again
  from its start, each recorded method served its output without running, so routers
  and listeners pick the same path; the first method past them runs with the state as
  it was (``--set numbers='[1, 2]'`` edits it on a rollback);
- crews inside a method record their ``llm.call`` / ``tool.call`` as the method's.

:func:`reexecute_flow` runs the recorded attempt again here, every crew's LLM and every
tool answered from the log, and compares each method's state and output.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, cast

from pydantic import JsonValue

from omium.adapters.crewai import crew_calls
from omium.adapters.crewai.build import FlowFactory
from omium.adapters.crewai.flow_run import FlowRun, MethodDone, MethodStarted
from omium.processors.frameworks.base import (
    ROLLBACK,
    Reexecution,
    ReexecutionRequest,
    RunContext,
    StepOutcome,
    StepwiseRun,
    branch_start,
    refuse_live_choice,
)
from omium.processors.frameworks.oversize import (
    checkpoint_or_error,
    output_too_large,
    record_completed_then_fail,
)
from omium.producers.recorded import Diverged
from omium.schemas import ErrorInfo, LLMCall, StepCompleted, ToolCall
from omium.schemas.errors import CrewTaskFailed

#: the state key holding ``[method, output]`` of every method run so far
METHODS = "__methods__"

Item = MethodStarted | MethodDone


def split_flow_state(
    state: dict[str, Any], execution_id: str
) -> tuple[dict[str, Any], list[tuple[str, JsonValue]]]:
    """The flow's own state (``id`` set) and the methods already run, from a run's state."""
    trail = [(str(name), output) for name, output in state.get(METHODS) or []]
    inputs = {k: v for k, v in state.items() if k != METHODS}
    inputs.setdefault("id", execution_id)
    return inputs, trail


def step_state(done: MethodDone, trail: list[tuple[str, JsonValue]]) -> dict[str, JsonValue]:
    """The run's state after ``done``: the flow's state and the methods run (its own last)."""
    methods: list[JsonValue] = [[name, output] for name, output in trail]
    return {**done.state, METHODS: methods}


class FlowWorkflowRun(StepwiseRun):
    """A flow workflow's run (see :class:`~omium.processors.frameworks.FrameworkRun`)."""

    def __init__(self, ctx: RunContext, factory: FlowFactory) -> None:
        super().__init__(ctx)
        self.factory = factory

    async def attempt(self) -> str:
        """Run the flow's methods from the current state; a terminal status or ROLLBACK."""
        ctx = self.ctx
        await ctx.between_steps()
        if ctx.control.rollback is not None:
            return ROLLBACK
        inputs, trail = split_flow_state(self.state, ctx.execution_id)
        run = FlowRun(self.factory, inputs, record=ctx.record, prior=trail)
        items = cast(AsyncGenerator[Item, None], run.methods())
        try:
            async for item in items:
                if isinstance(item, MethodStarted):
                    step = ctx.prepare("step.started", step=item.name, index=item.index, retry=0)
                    ctx.defer(step)
                    continue
                trail.append((item.name, item.output))
                self.state = step_state(item, trail)
                completed = ctx.prepare(
                    "step.completed",
                    step=item.name,
                    index=item.index,
                    retry=0,
                    output=self.state,
                    duration_ms=item.duration_ms,
                )
                too_big = output_too_large(ctx, completed)
                if too_big is not None:
                    return await ctx.step_failed(item.name, item.index, 0, too_big, 0.0)
                checkpoint = checkpoint_or_error(ctx, item.name, item.index, self.state)
                if isinstance(checkpoint, ErrorInfo):
                    return await record_completed_then_fail(ctx, completed, item.name, checkpoint)
                await ctx.emit(completed, checkpoint)
                self.index = item.index + 1
                await ctx.between_steps()
                if ctx.control.rollback is not None:
                    return ROLLBACK
        except CrewTaskFailed as failed:
            error = ErrorInfo.of(failed.__cause__ or failed)
            return await ctx.step_failed(failed.name, failed.index, 0, error, 0.0)
        finally:
            await items.aclose()
        final = {k: v for k, v in self.state.items() if k != METHODS}
        return await ctx.completed({**final, "result": run.result})


async def reexecute_flow(request: ReexecutionRequest, factory: FlowFactory) -> Reexecution:
    """Re-execute one attempt of a flow run (see the module docs)."""
    names = sorted(type(factory()).flow_definition().methods)
    refuse_live_choice(request, names, "flow")
    state, _ = branch_start(request)
    inputs, trail = split_flow_state(state, request.view.execution_id)
    mine = request.events_of_attempt()
    recorded = {e.payload.index: e.payload for e in mine if isinstance(e, StepCompleted)}
    calls = crew_calls(
        (e.type, e.payload.model_dump(mode="json"))
        for e in mine
        if isinstance(e, LLMCall | ToolCall)
    )
    report = Reexecution(request.view.execution_id, request.attempt, [], state)

    async def ignore(event_type: str, payload: dict[str, Any]) -> None:
        return None

    run = FlowRun(factory, inputs, record=ignore, prior=trail, replay=calls)
    items = cast(AsyncGenerator[Item, None], run.methods())
    before = 0  # calls.answered counts the whole flow; a row shows its own method's

    def outcome(name: str, result: str) -> StepOutcome:
        nonlocal before
        answered, before = calls.answered - before, calls.answered
        return StepOutcome(name, "live", result, answered)

    try:
        async for item in items:
            if isinstance(item, MethodStarted):
                continue
            trail.append((item.name, item.output))
            now, had = step_state(item, trail), recorded.get(item.index)
            if had is None or had.step != item.name or had.output != now:
                report.steps.append(outcome(item.name, "diverged"))
                was = None if had is None else {"step": had.step, "state": had.output}
                report.divergence = Diverged(
                    f"method {item.name}: state", was, {"step": item.name, "state": now}
                )
                break
            report.steps.append(outcome(item.name, "completed"))
            report.state = now
            if item.name == request.until_step or item.index + 1 not in recorded:
                break
    except Diverged as diverged:
        report.divergence = diverged
    except CrewTaskFailed as failed:
        cause = failed.__cause__
        if isinstance(cause, Diverged):
            report.divergence = cause
        else:
            report.divergence = Diverged(f"method {failed.name}: raised", None, str(failed))
    finally:
        await items.aclose()
    return report
