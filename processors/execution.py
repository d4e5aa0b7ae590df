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
import importlib
import time
import traceback
from pathlib import Path
from typing import Any

from omium.adapters.python import ResolvedStep, resolve_steps, run_step
from omium.processors.control import Control, load_view, restore
from omium.producers import EventLog, Recorder
from omium.producers.calls import RecordingSink, calls_to
from omium.projections import ExecutionView
from omium.schemas import ErrorInfo, Event, InvalidEvent, LogError, Run, encode
from omium.schemas.workflow import WorkflowSpec

#: the module that runs each framework's workflows (each needs its extra installed)
_FRAMEWORK_RUNS = {
    "langgraph": "omium.processors.graph_run",
    "crewai": "omium.processors.crew_run",
}

#: Seconds a recorded fact may wait to share a write with the ones after it (group commit).
FLUSH_AFTER = 0.02


def _failed(write: asyncio.Future[None]) -> bool:
    return write.done() and not write.cancelled() and write.exception() is not None


def _error(exc: BaseException) -> ErrorInfo:
    text = "".join(traceback.format_exception(exc))
    return ErrorInfo(type=type(exc).__name__, message=str(exc), traceback=text[-8000:])


class ExecutionRunner:
    """Runs (or resumes) the execution a ``run`` command asked for.

    Group commit: ``step.started``, ``step.completed`` and ``checkpoint.created`` wait up
    to :data:`FLUSH_AFTER` to be appended together with what follows, so a run of quick
    steps costs one write per batch rather than three per step. Anything that waits — a
    pause, a retry delay, the end of the run — appends first, and a step that runs longer
    than the window finds its ``step.started`` already recorded. A crash loses at most the
    last window of records; those steps run again on recovery (at-least-once, as for a step
    the crash interrupted).
    """

    def __init__(
        self, log: EventLog, command: Run, control: Control, *, worker: str = "worker"
    ) -> None:
        self.log = log
        self.command = command
        self.control = control
        self.worker = worker
        self.execution_id = command.execution_id
        self._deferred: list[Event] = []
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None
        self._last_write: asyncio.Task[None] | None = None
        self._running_step: ResolvedStep | None = None
        self._rec: Recorder | None = None  # the current attempt's, set by run()
        #: the checkpoint id and edits of the last rollback performed (frameworks restore it)
        self.rolled_back_to: tuple[str, dict[str, Any]] | None = None

    async def run(
        self, view: ExecutionView | None = None, slots: asyncio.Semaphore | None = None
    ) -> str:
        """Run to a terminal status and return it (``cancelled`` included).

        ``view`` is the execution as folded by the caller (read here when omitted); ``slots``
        bounds how many executions run at once (waiting for one counts as running).
        """
        self.control.started = True
        view = view or await load_view(self.log, self.execution_id)
        if view.finished and self.control.rollback is None:
            return view.status
        spec = WorkflowSpec.model_validate(self.command.payload.spec or {})
        rec = Recorder(
            self.log,
            self.execution_id,
            attempt=view.attempt,
            last_seq=view.last_seq.get(view.attempt, 0),
            tenant_id=self.command.tenant_id,
        )
        self._rec = rec
        try:
            if view.status == "unknown":
                await rec.emit(
                    "execution.submitted",
                    caused_by=self.command.event_id,
                    workflow=spec.name,
                    inputs=self._inputs(spec),
                    source=self.command.payload.source,
                )
            async with slots or contextlib.nullcontext():
                self._check_cancelled()
                return await self._run(rec, spec, view)
        except asyncio.CancelledError:
            if self.control.cancel_cause is None:
                self._drop_deferred()
                raise  # the worker is stopping or lost the partition: another one resumes
            rec = self._rec or rec  # a rollback may have opened a new attempt
            cancelled = rec.prepare(
                "execution.cancelled",
                caused_by=self.control.cancel_cause,
                reason=self._cancel_reason(),
            )
            # a second cancel must not cut the write of the terminal fact
            await asyncio.shield(self._emit(rec, cancelled))
            return "cancelled"
        except LogError:
            self._drop_deferred()
            raise  # nothing can be recorded: the run stays unfinished for recovery
        except Exception as exc:  # a bug, or an event the log refused: end the run visibly
            rec = self._rec or rec
            failed = rec.prepare("execution.failed", error=_error(exc).model_dump())
            try:
                await self._emit(rec, failed)
            except InvalidEvent:
                self._deferred = []  # the deferred batch was the problem; record the failure
                await self._emit(rec, failed)
            return "failed"

    def _cancel_reason(self) -> str:
        reason = self.control.cancel_reason or "cancelled by a user"
        step = self._running_step
        if step is not None and not step.is_async:
            # a thread cannot be stopped: say that its work may still finish on its own
            reason += f" (sync step {step.name!r} was abandoned on its thread)"
        return reason

    def _sized(self, event: Event) -> Event:
        """Refuse now, not at the deferred write, an event the log would refuse as too big."""
        encode(event, max_bytes=self.log.max_event_bytes)
        return event

    def _check_cancelled(self) -> None:
        """Act on a cancel that arrived before the runner could be interrupted."""
        if self.control.cancel_cause is not None:
            raise asyncio.CancelledError

    def _defer(self, rec: Recorder, *events: Event) -> None:
        """Record ``events`` with the next write, or within :data:`FLUSH_AFTER` at the latest."""
        self._raise_failed_flush()
        self._deferred += events
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_AFTER, self._flush, rec)

    def _flush(self, rec: Recorder) -> None:
        self._timer = None
        if not self._deferred:
            return
        if self._flushing is not None and self._flushing.done() and _failed(self._flushing):
            return  # the run's next write raises it
        batch, self._deferred = self._deferred, []
        self._flushing = self._chain(rec, batch, surface=True)

    def _chain(self, rec: Recorder, batch: list[Event], *, surface: bool) -> asyncio.Task[None]:
        """Append ``batch`` once the write before it is done: the log keeps seq order.

        Writes are chained because several may be asked for at once (a graph's
        checkpointer records while step events flush); each batch was prepared, and so
        numbered, after the one before it. ``surface``: raise the error of the write
        before it (a background flush's: nobody has seen it yet).
        """
        previous = self._last_write

        async def write() -> None:
            if previous is not None:
                await asyncio.wait([previous])
                if surface and _failed(previous):
                    raise previous.exception()  # type: ignore[misc]
            if batch:
                await rec.emit_many(batch)

        self._last_write = asyncio.ensure_future(write())
        return self._last_write

    def _raise_failed_flush(self) -> None:
        flushing = self._flushing
        if flushing is not None and flushing.done() and _failed(flushing):
            self._flushing = None
            raise flushing.exception()  # type: ignore[misc]

    async def _emit(self, rec: Recorder, *items: Event) -> None:
        """Append the deferred events, then ``items``, in one write (after any in flight)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._deferred = [*self._deferred, *items], []
        unseen = self._flushing is not None and self._flushing is self._last_write
        self._flushing = None
        if batch or unseen:
            await self._chain(rec, batch, surface=unseen)

    def _drop_deferred(self) -> None:
        """Abandoning the run: write nothing more (the next owner resumes from the log)."""
        if self._timer is not None:
            self._timer.cancel()
        for write in (self._flushing, self._last_write):
            if write is not None:
                write.cancel()
        self._deferred = []

    async def _run(self, rec: Recorder, spec: WorkflowSpec, view: ExecutionView) -> str:
        if spec.framework != "python":
            # an extra, imported on a thread: crewai takes seconds to import, and a loop
            # blocked that long misses heartbeats and looks dead to its consumer group
            await asyncio.to_thread(importlib.import_module, _FRAMEWORK_RUNS[spec.framework])
        if spec.framework == "langgraph":
            from omium.processors.graph_run import run_graph

            return await run_graph(self, rec, spec, view)
        if spec.framework == "crewai":
            from omium.processors.crew_run import run_crew

            return await run_crew(self, rec, spec, view)
        try:
            steps = self._resolve(spec)
        except Exception as exc:  # valid where it was submitted, not importable here
            await rec.emit("execution.failed", error=_error(exc).model_dump())
            return "failed"
        state, index = restore(view, self._inputs(spec))
        if self.control.rollback is None:
            self._defer(
                rec, rec.prepare("execution.started", workflow=spec.name, worker=self.worker)
            )
        while True:
            status = await self._attempt(rec, spec, steps, state, index)
            if self.control.rollback is None:
                return status
            # asked for while the attempt was ending: roll back the finished run
            rec, state, index = await self._roll_back(rec, spec, state, index)

    async def _attempt(
        self,
        rec: Recorder,
        spec: WorkflowSpec,
        steps: list[ResolvedStep],
        state: dict[str, Any],
        index: int,
    ) -> str:
        """Run the steps from ``index`` to a terminal status (rollbacks continue the loop)."""
        try:
            async with asyncio.timeout(spec.timeout):
                while True:
                    if self.control.rollback is not None:
                        rec, state, index = await self._roll_back(rec, spec, state, index)
                    if index >= len(steps):
                        break
                    await self._between_steps(rec)
                    if self.control.rollback is not None:
                        continue  # woken from a pause to roll back
                    completed = await self._step(rec, spec, steps[index], index, state)
                    if completed is None:
                        return "failed"
                    state.update(completed.payload.output)  # type: ignore[attr-defined]
                    name = steps[index].name
                    snapshot = rec.prepare(
                        "checkpoint.created",
                        step=name,
                        index=index,
                        checkpoint_id=f"a{rec.attempt}-{index}-{name}",
                        state=state,
                    )
                    self._defer(rec, completed, self._sized(snapshot))
                    index += 1
        except TimeoutError:
            return await self._timed_out(spec)
        await self._emit(rec, rec.prepare("execution.completed", output=state))
        return "completed"

    async def _roll_back(
        self, rec: Recorder, spec: WorkflowSpec, state: dict[str, Any], index: int
    ) -> tuple[Recorder, dict[str, Any], int]:
        """Open a new attempt from the requested checkpoint; returns where to go on.

        A running execution is paused first. A checkpoint that does not exist (or cannot
        be continued from) leaves the run where it was, and says so.
        """
        command, self.control.rollback = self.control.rollback, None
        assert command is not None
        target = command.payload.checkpoint_id
        view = await load_view(self.log, self.execution_id)
        if not view.finished and view.status != "paused":
            await self._emit(
                rec, rec.prepare("execution.paused", reason=f"rolling back to {target}")
            )
        else:
            await self._emit(rec)
        view = await load_view(self.log, self.execution_id)
        checkpoint = view.checkpoint(target)
        if checkpoint is None or checkpoint.index is None or checkpoint.state is None:
            await self._emit(
                rec,
                rec.prepare(
                    "execution.resumed",
                    caused_by=command.event_id,
                    reason=f"rollback refused: no step checkpoint {target!r}",
                ),
            )
            return rec, state, index
        attempt = view.next_attempt
        branch = Recorder(
            self.log, self.execution_id, attempt=attempt, tenant_id=self.command.tenant_id
        )
        overrides = dict(command.payload.overrides)
        restored = {**checkpoint.state, **overrides}
        await self._emit(
            branch,
            branch.prepare(
                "execution.rolled_back",
                caused_by=command.event_id,
                from_attempt=checkpoint.attempt,
                checkpoint_id=target,
                branch_seq=checkpoint.seq,
                overrides=overrides,
                state=restored,
            ),
            branch.prepare("execution.started", workflow=spec.name, worker=self.worker),
        )
        self._rec = branch
        self.rolled_back_to = (target, overrides)
        return branch, restored, checkpoint.index + 1

    async def _timed_out(self, spec: WorkflowSpec) -> str:
        """Record that the run exceeded its timeout (in its current attempt)."""
        rec = self._rec
        assert rec is not None
        await self._emit(rec, rec.prepare("execution.timed_out", timeout_s=spec.timeout or 0))
        return "timed_out"

    def _call_sink(self, rec: Recorder, step: str) -> RecordingSink:
        """LLM and tool calls made by a step join its events, in order."""

        async def record(event_type: str, payload: dict[str, Any]) -> None:
            self._defer(rec, self._sized(rec.prepare(event_type, step=step, **payload)))

        return RecordingSink(record)

    def _inputs(self, spec: WorkflowSpec) -> dict[str, Any]:
        return {**spec.inputs, **self.command.payload.inputs}

    def _resolve(self, spec: WorkflowSpec) -> list[ResolvedStep]:
        source = Path(self.command.payload.source or ".")
        return resolve_steps(spec, source.parent, source.name)

    async def _between_steps(self, rec: Recorder) -> None:
        self._check_cancelled()  # a cancel that landed as the last step finished
        control = self.control
        if control.running.is_set():
            return
        await self._emit(
            rec,
            rec.prepare(
                "execution.paused", caused_by=control.pause_cause, reason="paused by a user"
            ),
        )
        await control.running.wait()
        if control.rollback is not None:
            return  # the rollback records how the run goes on
        self._defer(
            rec,
            rec.prepare(
                "execution.resumed", caused_by=control.resume_cause, reason="resumed by a user"
            ),
        )

    async def _step(
        self,
        rec: Recorder,
        spec: WorkflowSpec,
        step: ResolvedStep,
        index: int,
        state: dict[str, Any],
    ) -> Event | None:
        """Run one step with its retries.

        Returns its ``step.completed`` (validated, not yet recorded), or None when the step
        failed for good (the failure is recorded).
        """
        options = spec.steps[index]
        retry = 0
        while True:
            self._defer(rec, rec.prepare("step.started", step=step.name, index=index, retry=retry))
            began = time.perf_counter()
            try:
                self._running_step = step  # still set if a cancel interrupts it
                try:
                    with calls_to(self._call_sink(rec, step.name)):
                        output = await run_step(step, state, options.timeout)
                except Exception:
                    self._running_step = None
                    raise
                self._running_step = None
                # validated now: output that is not JSON fails the step like an exception
                completed = rec.prepare(
                    "step.completed",
                    step=step.name,
                    index=index,
                    retry=retry,
                    output=output,
                    duration_ms=(time.perf_counter() - began) * 1000,
                )
                return self._sized(completed)
            except InvalidEvent as exc:
                error = ErrorInfo(type="InvalidOutput", message=str(exc))
            except Exception as exc:
                error = _error(exc)
            duration = (time.perf_counter() - began) * 1000
            retry += 1
            if retry < options.retries.max_attempts:
                delay = options.retries.delay(retry)
                await self._emit(
                    rec,
                    rec.prepare(
                        "step.retried",
                        step=step.name,
                        index=index,
                        retry=retry,
                        error=error.model_dump(),
                        delay_s=delay,
                    ),
                )
                await asyncio.sleep(delay)
                continue
            await self._emit(
                rec,
                rec.prepare(
                    "step.failed",
                    step=step.name,
                    index=index,
                    retry=retry - 1,
                    error=error.model_dump(),
                    duration_ms=duration,
                ),
                rec.prepare("execution.failed", step=step.name, error=error.model_dump()),
            )
            return None
