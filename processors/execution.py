"""Running one execution: whatever its framework, to a terminal status, recording as it goes.

The runner first folds the execution's own events, so the same code starts a new run and
resumes one after a crash: it continues after the last checkpoint of the current attempt
(a step that was running when the worker died runs again — at-least-once; steps get an
idempotency key for their side effects). Every fact it records names the command that
caused it (``causation_id``), which is how a redelivered command is recognised.

The runner owns what every framework shares — the group commit, pause / resume / cancel at
step boundaries, the execution timeout, rollbacks — and drives the framework's own run
through :mod:`omium.processors.frameworks` (it is the
:class:`~omium.processors.frameworks.RunContext` those runs see).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from omium.processors.control import Control, load_view
from omium.processors.frameworks import Branch, load_framework
from omium.processors.versions import workflow_version
from omium.producers import EventLog, Recorder
from omium.projections import CheckpointView, ExecutionView
from omium.schemas import ErrorInfo, Event, InvalidEvent, LogError, Run, VersionMismatch, encode
from omium.schemas.checkpoints import step_checkpoint_id
from omium.schemas.workflow import WorkflowSpec

#: Seconds a recorded fact may wait to share a write with the ones after it (group commit).
FLUSH_AFTER = 0.02


#: how far a run that takes over an execution (after a crash, a hand-over, a failed write)
#: jumps its events' ``seq`` past the last one recorded: more than any run has in flight.
#: A late write of the earlier run (sent before its worker froze or lost the partition,
#: delivered after) then carries lower numbers than the new run's, and every fold drops it
#: as already applied (``projections.views.already_applied``): a fencing token in the log.
SEQ_JUMP = 1000


def _failed(write: asyncio.Future[None]) -> bool:
    return write.done() and not write.cancelled() and write.exception() is not None


def _seen(write: asyncio.Future[None]) -> None:
    """Mark a write's error as retrieved: the run raises it itself (or was abandoned)."""
    if not write.cancelled():
        write.exception()


class ExecutionRunner:
    """Runs (or resumes) the execution a ``run`` command asked for.

    Group commit: ``step.started``, ``step.completed`` and ``checkpoint.created`` wait up
    to :data:`FLUSH_AFTER` to be appended together with what follows, so a run of quick
    steps costs one write per batch rather than three per step. Anything that waits — a
    pause, a retry delay, the end of the run — appends first, and a step that runs longer
    than the window finds its ``step.started`` already recorded.

    The bound: a timer writes the batch once the window is out, and every step boundary
    and recorded call writes it if its oldest event has waited out the window (the timer
    cannot fire while a step keeps the event loop busy). So a crash loses at most the step
    running then and the steps completed within the window before it started (and a write
    in flight). Those steps run again on recovery (at-least-once, as for a step the crash
    interrupted). With ``durability: step`` the window is 0: every boundary writes, so a
    step's completion and checkpoint are durable before the next step starts.
    """

    def __init__(
        self, log: EventLog, command: Run, control: Control, *, worker: str = "worker"
    ) -> None:
        self.log = log
        self.command = command
        self.control = control
        self.worker = worker
        self.execution_id = command.execution_id
        #: the sync step running on a thread now, if any (a cancel cannot stop a thread)
        self.sync_step: str | None = None
        self._deferred: list[Event] = []
        #: when the oldest deferred event was deferred (monotonic seconds)
        self._oldest = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None
        self._last_write: asyncio.Task[None] | None = None
        #: when the oldest event not yet acknowledged by the log was prepared (monotonic s)
        self._unacked_since = 0.0
        self._rec: Recorder | None = None  # the current attempt's, set by run()
        self._deadline: asyncio.Timeout | None = None  # the current attempt's timeout
        #: the offset of the execution's first event, once known (reads start there)
        self.first_offset: int | None = None
        #: the worker's slot this run holds while it runs (given back while it is idle)
        self._slot: asyncio.Semaphore | None = None

    # -- what a framework's run sees (RunContext) ---------------------------------------

    @functools.cached_property
    def spec(self) -> WorkflowSpec:
        """The workflow as submitted."""
        return WorkflowSpec.model_validate(self.command.payload.spec or {})

    @functools.cached_property
    def _window(self) -> float:
        """How long a deferred event may wait at a step boundary (0: ``durability: step``)."""
        return 0.0 if self.spec.durability == "step" else FLUSH_AFTER

    @property
    def source(self) -> Path:
        """The workflow file as submitted."""
        return Path(self.command.payload.source or ".")

    @property
    def inputs(self) -> dict[str, Any]:
        """The spec's inputs with the submitter's on top."""
        return {**self.spec.inputs, **self.command.payload.inputs}

    @property
    def attempt(self) -> int:
        """The current attempt."""
        return self._recorder().attempt

    def prepare(self, event_type: str, **payload: Any) -> Event:
        """An event of the current attempt, validated and numbered, not yet recorded."""
        return self._recorder().prepare(event_type, **payload)

    def sized(self, event: Event) -> Event:
        """Refuse now, not at the deferred write, an event the log would refuse as too big."""
        encode(event, max_bytes=self.log.max_event_bytes)
        return event

    def defer(self, *events: Event) -> None:
        """Record ``events`` with the next write, or within :data:`FLUSH_AFTER` at the latest."""
        self._raise_failed_flush()
        if not self._deferred:
            self._oldest = time.monotonic()
        self._deferred += events
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_AFTER, self._flush)

    async def emit(self, *events: Event) -> None:
        """Append the deferred events, then ``events``, in one write (after any in flight)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        since = self._oldest if self._deferred else time.monotonic()
        batch, self._deferred = [*self._deferred, *events], []
        unseen = self._flushing is not None and self._flushing is self._last_write
        self._flushing = None
        if batch or unseen:
            await self._chain(batch, surface=unseen, since=since)

    async def record(self, event_type: str, payload: dict[str, Any]) -> None:
        """Prepare, size and defer one event (the ``record`` callback adapters take)."""
        self.defer(self.sized(self.prepare(event_type, **payload)))
        await self._flush_overdue()

    async def _flush_overdue(self) -> None:
        """Write the deferred events now if the oldest has waited out the window.

        The timer cannot fire while steps never give the event loop a turn (async steps
        that do not await, CPU-bound ones): checked at every step boundary and recorded
        call, this is what bounds what a crash can lose.
        """
        if self._deferred and time.monotonic() - self._oldest >= self._window:
            if not self.control.frozen():  # else written once the worker is confirmed
                await self.emit()

    async def _hold_back(self) -> None:
        """Back-pressure: no next step while a write older than the window is unacknowledged.

        A stalled log then stops the run at this boundary instead of letting it run ahead
        of what is recorded, so a stall repeats no more than a crash would (the bound in
        the class docstring). A write that failed meanwhile is raised here.
        """
        write = self._last_write
        if write is None:
            return
        if not write.done():
            if time.monotonic() - self._unacked_since < self._window:
                return
            await asyncio.wait([write])
        if _failed(write):
            # raised here, whoever made the write: a timer's flush queued behind it has
            # not run yet, so _raise_failed_flush would not see the failure in time
            raise write.exception()  # type: ignore[misc]
        self._raise_failed_flush()

    def checkpoint(self, step: str, index: int, state: dict[str, Any]) -> Event:
        """The ``checkpoint.created`` after step ``index`` (sized, not yet recorded)."""
        checkpoint_id = step_checkpoint_id(self.attempt, index, step)
        return self.sized(
            self.prepare(
                "checkpoint.created",
                step=step,
                index=index,
                checkpoint_id=checkpoint_id,
                state=state,
            )
        )

    async def between_steps(self) -> None:
        """A step boundary: act on a cancel or a hand-over, wait out a pause (recorded)."""
        if self.control.frozen():
            # the worker stood still and may have lost this run to another worker: nothing
            # is written and no step starts before the group confirms it (Freezes); handed
            # over meanwhile, the run stops here with its deferred results dropped
            async with self.idle():
                await self.control.log_ready.wait()
        await self._flush_overdue()
        await self._hold_back()
        if not self.control.log_ready.is_set():  # the worker saw the log fail: wait for it
            async with self.idle():
                await self.control.log_ready.wait()
        self._check_cancelled()  # a cancel that landed as the last step finished
        control = self.control
        if control.handing_over:
            await self.emit()  # all it did is recorded: the next owner goes on from here
            raise asyncio.CancelledError
        if control.running.is_set():
            return
        await self.emit(
            self.prepare(
                "execution.paused", caused_by=control.pause_cause, reason="paused by a user"
            )
        )
        async with self.idle():
            await control.running.wait()
        if control.rollback is not None:
            return  # the rollback records how the run goes on
        self.defer(
            self.prepare(
                "execution.resumed", caused_by=control.resume_cause, reason="resumed by a user"
            )
        )

    @contextlib.asynccontextmanager
    async def idle(self) -> AsyncIterator[None]:
        """A wait for a person (a pause, an answer): it does not count against the timeout.

        Nothing is in flight meanwhile, so a worker handing the run over stops it at once.
        Nor does it hold one of the worker's slots: runs waiting for people would otherwise
        stop every other run of the worker once there are as many as its concurrency. It
        takes a slot again, in turn with the runs waiting for one, before it goes on.
        """
        deadline, loop = self._deadline, asyncio.get_running_loop()
        when = deadline.when() if deadline is not None and not deadline.expired() else None
        began = loop.time()
        if deadline is not None and when is not None:
            deadline.reschedule(None)
        self.control.parked += 1
        slots, self._slot = self._slot, None
        if slots is not None:
            slots.release()
        try:
            yield
            if slots is not None:
                await slots.acquire()  # cancelled meanwhile: it holds none (run() knows)
                self._slot = slots
        finally:
            self.control.parked -= 1
            if deadline is not None and when is not None:
                deadline.reschedule(when + (loop.time() - began))

    async def completed(self, output: dict[str, Any]) -> str:
        """Record ``execution.completed``; returns ``"completed"``."""
        await self.emit(self.prepare("execution.completed", output=output))
        return "completed"

    async def step_failed(
        self, step: str, index: int, retry: int, error: ErrorInfo, duration_ms: float
    ) -> str:
        """Record that ``step`` failed for good, and so the execution; returns ``"failed"``."""
        details = error.model_dump()
        await self.emit(
            self.prepare(
                "step.failed",
                step=step,
                index=index,
                retry=retry,
                error=details,
                duration_ms=duration_ms,
            ),
            self.prepare("execution.failed", step=step, error=details),
        )
        return "failed"

    # -- the run ------------------------------------------------------------------------

    async def run(
        self, view: ExecutionView | None = None, slots: asyncio.Semaphore | None = None
    ) -> str:
        """Run to a terminal status and return it (``cancelled`` included).

        ``view`` is the execution as folded by the caller (read here when omitted); ``slots``
        bounds how many executions run at once (waiting for one counts as running).
        """
        self.control.started = True
        view = view or await load_view(self.log, self.execution_id)
        if view.first_position is not None:
            self.first_offset = view.first_position[2]
        spec = self.spec
        if view.finished and self.control.rollback is None:
            return view.status
        last_seq = view.last_seq.get(view.attempt, 0)
        self._rec = Recorder(
            self.log,
            self.execution_id,
            attempt=view.attempt,
            # continuing what another run wrote: jump ahead (see SEQ_JUMP)
            last_seq=last_seq + SEQ_JUMP if last_seq else 0,
            tenant_id=self.command.tenant_id,
        )
        try:
            if view.status == "unknown":
                submitted = self.prepare(
                    "execution.submitted",
                    caused_by=self.command.event_id,
                    workflow=spec.name,
                    inputs=self.inputs,
                    source=self.command.payload.source,
                    parent=self.command.payload.parent,
                )
                if slots is None or not slots.locked():
                    self.defer(self.sized(submitted))  # it starts now: written with its steps
                else:
                    await self.emit(submitted)  # queued: visible as such meanwhile
            if slots is not None:
                await slots.acquire()
                self._slot = slots
            try:
                self._check_cancelled()
                return await self._run(view)
            finally:
                if self._slot is not None:  # none while it waits for a person (idle)
                    self._slot.release()
                    self._slot = None
        except asyncio.CancelledError:
            if self.control.cancel_cause is None:
                self._drop_deferred()
                raise  # the worker is stopping or lost the partition: another one resumes
            cancelled = self.prepare(
                "execution.cancelled",
                caused_by=self.control.cancel_cause,
                reason=self._cancel_reason(),
            )
            # a second cancel must not cut the write of the terminal fact
            await asyncio.shield(self.emit(cancelled))
            return "cancelled"
        except LogError:
            self._drop_deferred()
            # no run of this worker starts a step until the worker has seen the log answer
            # again: cleared here, before the slot this run held wakes a queued run (the
            # worker's loop would notice the failure only after that run's first step)
            self.control.log_ready.clear()
            raise  # nothing can be recorded: the run stays unfinished for recovery
        except Exception as exc:  # a bug, or an event the log refused: end the run visibly
            failed = self.prepare("execution.failed", error=ErrorInfo.of(exc).model_dump())
            try:
                await self.emit(failed)
            except InvalidEvent:
                self._deferred = []  # the deferred batch was the problem; record the failure
                await self.emit(failed)
            return "failed"

    def _check_version(self) -> None:
        """Refuse to run other files than the registered version the run asks for."""
        wanted = self.command.payload.workflow_version
        if wanted is None:
            return
        here, _ = workflow_version(self.spec, self.source)
        if here != wanted:
            raise VersionMismatch(
                f"workflow {self.spec.name!r} version {wanted} was submitted, but the files "
                f"at {self.source} on this worker are version {here}",
                hint="deploy that version here, or submit the version registered from here",
            )

    async def _run(self, view: ExecutionView) -> str:
        framework = await load_framework(self.spec.framework)
        # a finished execution runs here only to roll back: its ended attempt is not
        # continued (a restore point of it may not even restore: that attempt failed)
        ended = view.finished
        try:
            self._check_version()
            run = framework.load(self)
        except Exception as exc:  # valid where it was submitted, not importable here
            if ended and await self._roll_back() is None:
                return view.status  # refused: the attempt that ended stays as it was
            # the failure belongs to the rollback's new attempt, which it ends
            await self.emit(self.prepare("execution.failed", error=ErrorInfo.of(exc).model_dump()))
            return "failed"
        if self.control.rollback is None:
            self.defer(
                self.prepare("execution.started", workflow=self.spec.name, worker=self.worker)
            )
        if not ended:
            await run.start(view)
        while True:
            if self.control.rollback is None:
                try:
                    async with asyncio.timeout(self.spec.timeout) as self._deadline:
                        status = await run.attempt()
                except TimeoutError:
                    status = await self._timed_out()
                finally:
                    self._deadline = None
                if self.control.rollback is None:
                    return status
            # asked for during the attempt, or as it ended: continue from the checkpoint
            branch = await self._roll_back()
            if branch is None and ended:
                return view.status  # refused: the attempt that ended stays as it was
            ended = False
            await run.branched(branch)

    async def _roll_back(self) -> Branch | None:
        """Open a new attempt from the requested checkpoint; None when it was refused.

        A running execution is paused first. A checkpoint that does not exist (or cannot
        be continued from) leaves the run where it was, and says so.
        """
        command, self.control.rollback = self.control.rollback, None
        assert command is not None
        target = command.payload.checkpoint_id
        start = self.first_offset or 0
        view = await load_view(self.log, self.execution_id, start=start)
        if not view.finished and view.status != "paused":
            await self.emit(self.prepare("execution.paused", reason=f"rolling back to {target}"))
        else:
            await self.emit()
        view = await load_view(self.log, self.execution_id, start=self.first_offset or start)
        checkpoint = view.checkpoint(target)
        refused = _refused(view, checkpoint, target)
        if checkpoint is None or checkpoint.index is None or checkpoint.state is None or refused:
            await self.emit(
                self.prepare(
                    "execution.resumed",
                    caused_by=command.event_id,
                    reason=f"rollback refused: {refused or f'no step checkpoint {target!r}'}",
                )
            )
            return None
        self._rec = Recorder(
            self.log, self.execution_id, attempt=view.next_attempt, tenant_id=self.command.tenant_id
        )
        overrides = dict(command.payload.overrides)
        restored = {**checkpoint.state, **overrides}
        await self.emit(
            self.prepare(
                "execution.rolled_back",
                caused_by=command.event_id,
                from_attempt=checkpoint.attempt,
                checkpoint_id=target,
                branch_seq=checkpoint.seq,
                overrides=overrides,
                state=restored,
                as_node=command.payload.as_node,
            ),
            self.prepare("execution.started", workflow=self.spec.name, worker=self.worker),
        )
        return Branch(target, overrides, restored, checkpoint.index + 1, command.payload.as_node)

    async def _timed_out(self) -> str:
        """Record that the run exceeded its timeout (in its current attempt)."""
        await self.emit(self.prepare("execution.timed_out", timeout_s=self.spec.timeout or 0))
        return "timed_out"

    def _cancel_reason(self) -> str:
        reason = self.control.cancel_reason or "cancelled by a user"
        if self.sync_step is not None:
            # a thread cannot be stopped: say that its work may still finish on its own
            reason += f" (sync step {self.sync_step!r} was abandoned on its thread)"
        return reason

    def _check_cancelled(self) -> None:
        """Act on a cancel that arrived before the runner could be interrupted."""
        if self.control.cancel_cause is not None:
            raise asyncio.CancelledError

    def _recorder(self) -> Recorder:
        assert self._rec is not None, "the runner records only while it runs"
        return self._rec

    # -- the group commit ---------------------------------------------------------------

    def _flush(self) -> None:
        self._timer = None
        if not self._deferred or self.control.frozen():
            return  # frozen: the next step boundary writes them, once that is safe
        if self._flushing is not None and self._flushing.done() and _failed(self._flushing):
            return  # the run's next write raises it
        batch, self._deferred = self._deferred, []
        self._flushing = self._chain(batch, surface=True, since=self._oldest)

    def _chain(self, batch: list[Event], *, surface: bool, since: float) -> asyncio.Task[None]:
        """Append ``batch`` once the write before it is done: the log keeps seq order.

        Writes are chained because several may be asked for at once (a graph's
        checkpointer records while step events flush); each batch was prepared, and so
        numbered, after the one before it. ``surface``: raise the error of the write
        before it (a background flush's: nobody has seen it yet).
        """
        previous, rec = self._last_write, self._recorder()
        if previous is None or previous.done():
            self._unacked_since = since  # else an older write is still unacknowledged

        async def write() -> None:
            if previous is not None:
                await asyncio.wait([previous])
                if surface and _failed(previous):
                    raise previous.exception()  # type: ignore[misc]
            if batch:
                appended = await rec.emit_many(batch)
                if self.first_offset is None:
                    self.first_offset = appended[0].position.offset

        self._last_write = asyncio.ensure_future(write())
        self._last_write.add_done_callback(_seen)
        return self._last_write

    def _raise_failed_flush(self) -> None:
        flushing = self._flushing
        if flushing is not None and flushing.done() and _failed(flushing):
            self._flushing = None
            raise flushing.exception()  # type: ignore[misc]

    def _drop_deferred(self) -> None:
        """Abandoning the run: write nothing more (the next owner resumes from the log)."""
        if self._timer is not None:
            self._timer.cancel()
        for write in (self._flushing, self._last_write):
            if write is not None:
                write.cancel()
        self._deferred = []


def _refused(view: ExecutionView, checkpoint: CheckpointView | None, target: str) -> str | None:
    """Why a rollback to a subgraph's checkpoint is refused (``omium rollback`` says so first)."""
    if checkpoint is None or not checkpoint.ns:
        return None
    root = view.containing_root(checkpoint)
    within = f" (within root checkpoint {root.checkpoint_id})" if root else ""
    return f"{target} is a checkpoint of subgraph {checkpoint.path}{within}"
