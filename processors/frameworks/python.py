"""``framework: python``: plain Python steps, in order, a checkpoint after each.

A step is ``def step(state: dict) -> dict | None`` (or ``async def``); see
:mod:`omium.adapters.python`. The run retries a failed step as its spec says, records each
LLM and tool call its code wraps (``llm_call`` / ``tool_call``) with the step's events,
and after every step records ``checkpoint.created`` with the state so far.

Re-execution serves each step its recorded output, or runs the steps named ``--live``
here with their calls answered from the log (:mod:`omium.producers.recorded`); the first
call, output or error that differs from the recording is the divergence.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omium.adapters.python import ResolvedStep, resolve_steps, run_step
from omium.processors.frameworks.base import (
    ROLLBACK,
    Framework,
    Reexecution,
    ReexecutionRequest,
    RunContext,
    StepOutcome,
    StepwiseRun,
    branch_start,
)
from omium.processors.frameworks.observers import Replayed, observing, replaying
from omium.processors.frameworks.oversize import checkpoint_or_error, record_completed_then_fail
from omium.producers.calls import RecordingSink, calls_to
from omium.producers.recorded import Diverged, RecordedCalls, ReplaySink
from omium.schemas import (
    ConfigError,
    ErrorInfo,
    Event,
    InvalidEvent,
    LLMCall,
    StepCompleted,
    StepFailed,
    StepStarted,
    ToolCall,
)
from omium.schemas.errors import StepTimeout
from omium.schemas.workflow import WorkflowSpec


class PythonRun(StepwiseRun):
    """A python workflow's run (see :class:`~omium.processors.frameworks.FrameworkRun`)."""

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        source = ctx.source
        self.steps = resolve_steps(ctx.spec, source.parent, source.name)

    async def attempt(self) -> str:
        """Run the steps from the current index to a terminal status, or to a rollback."""
        ctx, steps = self.ctx, self.steps
        while self.index < len(steps):
            await ctx.between_steps()
            if ctx.control.rollback is not None:
                return ROLLBACK  # asked for, or woken from a pause to roll back
            step = steps[self.index]
            completed = await self._step(step, self.index)
            if completed is None:
                return "failed"
            self.state.update(completed.payload.output)  # type: ignore[attr-defined]
            checkpoint = checkpoint_or_error(ctx, step.name, self.index, self.state)
            if isinstance(checkpoint, ErrorInfo):
                return await record_completed_then_fail(ctx, completed, step.name, checkpoint)
            ctx.defer(completed, checkpoint)
            self.index += 1
            if ctx.control.rollback is not None:
                return ROLLBACK
        return await ctx.completed(self.state)

    async def _step(self, step: ResolvedStep, index: int) -> Event | None:
        """Run one step with its retries.

        Returns its ``step.completed`` (validated, not yet recorded), or None when the step
        failed for good (the failure is recorded).
        """
        ctx = self.ctx
        options = ctx.spec.steps[index]
        retry = 0
        while True:
            ctx.defer(ctx.prepare("step.started", step=step.name, index=index, retry=retry))
            began = time.perf_counter()
            try:
                output = await self._call(step, options.timeout)
                # validated now: output that is not JSON fails the step like an exception
                completed = ctx.prepare(
                    "step.completed",
                    step=step.name,
                    index=index,
                    retry=retry,
                    output=output,
                    duration_ms=(time.perf_counter() - began) * 1000,
                )
                return ctx.sized(completed)
            except InvalidEvent as exc:
                error = ErrorInfo(type="InvalidOutput", message=str(exc))
            except StepTimeout as exc:
                error = ErrorInfo.of(exc)
                thread = exc.thread
                if (
                    isinstance(thread, threading.Thread)
                    and retry + 1 < options.retries.max_attempts
                ):
                    error = await self._outlived(thread, error)
            except Exception as exc:
                error = ErrorInfo.of(exc)
            duration = (time.perf_counter() - began) * 1000
            retry += 1
            if retry < options.retries.max_attempts:
                delay = options.retries.delay(retry)
                await ctx.emit(
                    ctx.prepare(
                        "step.retried",
                        step=step.name,
                        index=index,
                        retry=retry,
                        error=error.model_dump(),
                        delay_s=delay,
                    )
                )
                await asyncio.sleep(delay)
                continue
            await ctx.step_failed(step.name, index, retry - 1, error, duration)
            return None

    async def _outlived(self, thread: threading.Thread, error: ErrorInfo) -> ErrorInfo:
        """Wait for a timed-out sync step's thread to end before its retry starts.

        A thread cannot be stopped: retrying at once would run the step twice at the same
        time. The wait counts against the execution's timeout and ends on a cancel; the
        retry's error says how long it was.
        """
        began = time.perf_counter()
        while thread.is_alive():
            await asyncio.sleep(0.05)
        waited = (time.perf_counter() - began) * 1000
        note = f" (its thread ran on; the retry waited {waited:,.0f} ms for it to end)"
        return error.model_copy(update={"message": error.message + note})

    async def _call(self, step: ResolvedStep, timeout: float | None) -> dict[str, Any]:
        """Run the step's code, its wrapped calls recorded with its events."""

        async def record(event_type: str, payload: dict[str, Any]) -> None:
            await self.ctx.record(event_type, {**payload, "step": step.name})

        # still set if a cancel interrupts it: the cancel says the thread was abandoned
        self.ctx.sync_step = None if step.is_async else step.name
        try:
            async with observing(step.name, record):
                with calls_to(RecordingSink(record)):
                    output = await run_step(step, self.state, timeout)
        except Exception:
            self.ctx.sync_step = None
            raise
        self.ctx.sync_step = None
        return output


# -- re-execution ---------------------------------------------------------------------


class _Recorded:
    """One step of the attempt as the log has it (its last try)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.output: dict[str, Any] | None = None
        self.error: str | None = None
        self.calls: list[Event] = []


def _recorded_steps(events: list[Event]) -> dict[int, _Recorded]:
    """Index -> the step as recorded (the last try's calls and outcome)."""
    steps: dict[int, _Recorded] = {}
    current: _Recorded | None = None
    for event in events:
        if isinstance(event, StepStarted):
            current = steps[event.payload.index] = _Recorded(event.payload.step)
        elif isinstance(event, LLMCall | ToolCall) and current is not None:
            current.calls.append(event)
        elif isinstance(event, StepCompleted) and event.payload.index in steps:
            steps[event.payload.index].output = dict(event.payload.output)
        elif isinstance(event, StepFailed) and event.payload.index in steps:
            error = event.payload.error
            steps[event.payload.index].error = f"{error.type}: {error.message}"
    return steps


async def reexecute(request: ReexecutionRequest) -> Reexecution:
    """Re-execute one attempt of a python workflow (see the module docs)."""
    spec, live = request.spec, request.live
    names = [s.name for s in spec.steps]
    wanted = [*live - {"*"}, *([request.until_step] if request.until_step else [])]
    for name in wanted:
        if name not in names:
            raise ConfigError(
                f"the workflow has no step {name!r}", hint=f"steps: {', '.join(names)}"
            )
    steps = resolve_steps(spec, request.source.parent, request.source.name)
    state, start = branch_start(request)
    recorded = _recorded_steps(request.events_of_attempt())
    report = Reexecution(request.view.execution_id, request.attempt, [], state)
    for index in range(start, len(steps)):
        step, had = steps[index], recorded.get(index)
        if had is None:
            break  # the recorded attempt ended before this step
        if had.name != step.name:
            report.divergence = Diverged(f"step {index}", had.name, step.name)
            break
        if step.name in live or "*" in live:
            outcome = await _run_live(step, had, report, spec.steps[index].timeout)
        else:
            outcome = StepOutcome(step.name, "served", "failed" if had.error else "completed")
            report.state.update(had.output or {})
        report.steps.append(outcome)
        if outcome.result != "completed" or step.name == request.until_step:
            break
    return report


async def _run_live(
    step: ResolvedStep, had: _Recorded, report: Reexecution, timeout: float | None
) -> StepOutcome:
    # libraries the step calls (crewai) answer their own recorded calls; the rest are
    # omium's wrapped calls, answered through the replay sink
    async with replaying(step.name, had.calls) as libraries:
        calls = RecordedCalls.from_events(libraries.rest, scope=f"step {step.name}")

        def outcome(result: str, divergence: Diverged | None = None) -> StepOutcome:
            report.divergence = divergence or report.divergence
            return StepOutcome(step.name, "live", result, calls.answered + libraries.answered)

        return await _run_answered(step, had, report, timeout, calls, libraries, outcome)


async def _run_answered(
    step: ResolvedStep,
    had: _Recorded,
    report: Reexecution,
    timeout: float | None,
    calls: RecordedCalls,
    libraries: Replayed,
    outcome: Callable[..., StepOutcome],
) -> StepOutcome:
    try:
        with calls_to(ReplaySink(calls)):
            output = await run_step(step, report.state, timeout)
    except Diverged as diverged:
        return outcome("diverged", diverged)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        if error != had.error:
            where = f"step {step.name}: outcome"
            return outcome("diverged", Diverged(where, had.error or had.output, error))
        return outcome("failed")  # failed as recorded
    if had.error is not None or output != had.output:
        where = f"step {step.name}: output"
        return outcome("diverged", Diverged(where, had.error or had.output, output))
    try:
        calls.check_all_used()
        libraries.check_all_used()
    except Diverged as diverged:
        return outcome("diverged", diverged)
    report.state.update(output)
    return outcome("completed")


def check(spec: WorkflowSpec, folder: Path, filename: str) -> None:
    """Import every step's function (see :func:`~omium.adapters.python.resolve_steps`)."""
    resolve_steps(spec, folder, filename)


FRAMEWORK = Framework("python", check, PythonRun, reexecute)
