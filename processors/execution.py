"""Running one execution: steps in order, a checkpoint after each, retries and timeouts.

The runner first folds the execution's own events, so the same code starts a new run and
resumes one after a crash: it continues after the last checkpoint of the current attempt
(a step that was running when the worker died runs again — at-least-once; steps get an
idempotency key for their side effects). Every fact it records names the command that
caused it (``causation_id``), which is how a redelivered command is recognised.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from omium.adapters.python import ResolvedStep, resolve_steps, run_step
from omium.producers import EventLog, Recorder
from omium.projections import ExecutionView, fold
from omium.schemas import ErrorInfo, InvalidEvent, Run
from omium.schemas.workflow import WorkflowSpec


@dataclass
class Control:
    """What commands ask of a running execution; the runner acts between steps."""

    running: asyncio.Event = field(default_factory=asyncio.Event)
    pause_cause: UUID | None = None
    resume_cause: UUID | None = None
    cancel_cause: UUID | None = None
    cancel_reason: str | None = None

    def __post_init__(self) -> None:
        self.running.set()

    def pause(self, cause: UUID) -> None:
        """Stop before the next step."""
        self.pause_cause = cause
        self.running.clear()

    def resume(self, cause: UUID) -> None:
        """Continue a paused execution."""
        self.resume_cause = cause
        self.running.set()


async def load_view(log: EventLog, execution_id: str) -> ExecutionView:
    """Fold an execution's events (from its own index on the embedded log)."""
    records = await log.read_execution(execution_id)
    return fold(
        (r.event() for r in records),
        ExecutionView(execution_id=execution_id),
        ((r.position.topic, r.position.partition, r.position.offset) for r in records),
    )


def _error(exc: BaseException) -> ErrorInfo:
    text = "".join(traceback.format_exception(exc))
    return ErrorInfo(type=type(exc).__name__, message=str(exc), traceback=text[-8000:])


class ExecutionRunner:
    """Runs (or resumes) the execution a ``run`` command asked for."""

    def __init__(
        self, log: EventLog, command: Run, control: Control, *, worker: str = "worker"
    ) -> None:
        self.log = log
        self.command = command
        self.control = control
        self.worker = worker
        self.execution_id = command.execution_id

    async def run(
        self, view: ExecutionView | None = None, slots: asyncio.Semaphore | None = None
    ) -> str:
        """Run to a terminal status and return it (``cancelled`` included).

        ``view`` is the execution as folded by the caller (read here when omitted); ``slots``
        bounds how many executions run at once (waiting for one counts as running).
        """
        view = view or await load_view(self.log, self.execution_id)
        if view.finished:
            return view.status
        spec = WorkflowSpec.model_validate(self.command.payload.spec or {})
        rec = Recorder(
            self.log,
            self.execution_id,
            attempt=view.attempt,
            last_seq=view.last_seq.get(view.attempt, 0),
            tenant_id=self.command.tenant_id,
        )
        if view.status == "unknown":
            await rec.emit(
                "execution.submitted",
                caused_by=self.command.event_id,
                workflow=spec.name,
                inputs=self._inputs(spec),
                source=self.command.payload.source,
            )
        try:
            async with slots or contextlib.nullcontext():
                return await self._run(rec, spec, view)
        except asyncio.CancelledError:
            if self.control.cancel_cause is None:
                raise  # the worker is stopping or lost the partition: another one resumes
            await rec.emit(
                "execution.cancelled",
                caused_by=self.control.cancel_cause,
                reason=self.control.cancel_reason or "cancelled by a user",
            )
            return "cancelled"

    async def _run(self, rec: Recorder, spec: WorkflowSpec, view: ExecutionView) -> str:
        try:
            steps = self._resolve(spec)
        except Exception as exc:  # valid where it was submitted, not importable here
            await rec.emit("execution.failed", error=_error(exc).model_dump())
            return "failed"
        await rec.emit("execution.started", workflow=spec.name, worker=self.worker)
        if view.status == "paused":
            self.control.running.clear()
        checkpoint = view.last_checkpoint()
        state = dict(checkpoint.state) if checkpoint else self._inputs(spec)
        start = (checkpoint.index + 1) if checkpoint and checkpoint.index is not None else 0
        try:
            async with asyncio.timeout(spec.timeout):
                for index in range(start, len(steps)):
                    await self._between_steps(rec)
                    outcome = await self._step(rec, spec, steps[index], index, state)
                    if outcome is None:
                        return "failed"
                    state.update(outcome)
                    name = steps[index].name
                    await rec.emit(
                        "checkpoint.created",
                        step=name,
                        index=index,
                        checkpoint_id=f"a{view.attempt}-{index}-{name}",
                        state=state,
                    )
        except TimeoutError:
            await rec.emit("execution.timed_out", timeout_s=spec.timeout or 0)
            return "timed_out"
        await rec.emit("execution.completed", output=state)
        return "completed"

    def _inputs(self, spec: WorkflowSpec) -> dict[str, Any]:
        return {**spec.inputs, **self.command.payload.inputs}

    def _resolve(self, spec: WorkflowSpec) -> list[ResolvedStep]:
        source = Path(self.command.payload.source or ".")
        return resolve_steps(spec, source.parent, source.name)

    async def _between_steps(self, rec: Recorder) -> None:
        control = self.control
        if control.running.is_set():
            return
        await rec.emit("execution.paused", caused_by=control.pause_cause, reason="paused by a user")
        await control.running.wait()
        await rec.emit(
            "execution.resumed", caused_by=control.resume_cause, reason="resumed by a user"
        )

    async def _step(
        self,
        rec: Recorder,
        spec: WorkflowSpec,
        step: ResolvedStep,
        index: int,
        state: dict[str, Any],
    ) -> dict[str, Any] | None:
        """Run one step with its retries; its updates, or None when it failed for good."""
        options = spec.steps[index]
        retry = 0
        while True:
            await rec.emit("step.started", step=step.name, index=index, retry=retry)
            began = time.perf_counter()
            try:
                output = await run_step(step, state, options.timeout)
                await rec.emit(
                    "step.completed",
                    step=step.name,
                    index=index,
                    retry=retry,
                    output=output,
                    duration_ms=(time.perf_counter() - began) * 1000,
                )
                return output
            except InvalidEvent as exc:  # the step returned something that is not JSON
                error = ErrorInfo(type="InvalidOutput", message=str(exc))
            except Exception as exc:
                error = _error(exc)
            duration = (time.perf_counter() - began) * 1000
            retry += 1
            if retry < options.retries.max_attempts:
                delay = options.retries.delay(retry)
                await rec.emit(
                    "step.retried",
                    step=step.name,
                    index=index,
                    retry=retry,
                    error=error.model_dump(),
                    delay_s=delay,
                )
                await asyncio.sleep(delay)
                continue
            await rec.emit(
                "step.failed",
                step=step.name,
                index=index,
                retry=retry - 1,
                error=error.model_dump(),
                duration_ms=duration,
            )
            await rec.emit("execution.failed", step=step.name, error=error.model_dump())
            return None
