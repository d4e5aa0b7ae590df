"""The SDK agent code calls: a ``Recorder`` that stamps and appends events, and ``emit``.

A recorder belongs to one execution attempt. It stamps ``tenant_id``, ``execution_id``,
``attempt``, the next ``seq`` and (unless told otherwise) ``causation_id`` = the previous
event it recorded, then appends durably. Appends of one recorder are serialized, so ``seq``
order is log order.

    async with recording(log, "exec-42") as rec:
        await emit("step.started", step="fetch", index=0)
        await rec.emit("step.completed", step="fetch", index=0, output={"rows": 3})
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple
from uuid import UUID

from omium.producers.port import EventLog, Position
from omium.schemas import CheckpointCreated, ErrorInfo, Event, StepStarted, from_dict
from omium.schemas.checkpoints import step_checkpoint_id


class Appended(NamedTuple):
    """An event as recorded, and where it landed."""

    event: Event
    position: Position


class Recorder:
    """Stamps and appends the events of one execution attempt."""

    def __init__(
        self,
        log: EventLog,
        execution_id: str,
        *,
        attempt: int = 1,
        last_seq: int = 0,
        tenant_id: str = "default",
    ) -> None:
        self.log = log
        self.execution_id = execution_id
        self.attempt = attempt
        self.tenant_id = tenant_id
        self.seq = last_seq  # the last seq handed out
        self.last: Appended | None = None
        self._previous: Event | None = None
        self._lock = asyncio.Lock()
        self.steps = 0  # steps recorded by @step, for their index
        self.state: dict[str, Any] = {}  # what @step functions returned so far

    @classmethod
    async def resume(
        cls, log: EventLog, execution_id: str, *, attempt: int = 1, tenant_id: str = "default"
    ) -> Recorder:
        """A recorder that continues the attempt already in the log.

        It takes up after the last ``seq``, chains its next event to the last one, and
        ``@step`` numbering and state continue from the last step and checkpoint.
        """
        recorder = cls(log, execution_id, attempt=attempt, tenant_id=tenant_id)
        for record in await log.read_execution(execution_id):
            event = record.event()
            if event.attempt != attempt or event.seq <= recorder.seq:
                continue
            recorder.seq = event.seq
            recorder._previous = event
            if isinstance(event, StepStarted):
                recorder.steps = max(recorder.steps, event.payload.index + 1)
            elif isinstance(event, CheckpointCreated):
                recorder.state = dict(event.payload.state)
        return recorder

    async def emit(
        self,
        event_type: str,
        *,
        caused_by: Event | UUID | None = None,
        **payload: Any,
    ) -> Appended:
        """Record a ``event_type`` event whose payload is ``payload``.

        Raises:
            InvalidEvent: the type is unknown or the payload does not fit its schema.
            EventTooLarge: the event encodes to more than the log's limit.
            LogUnavailable: the log did not take it in time (nothing was recorded).
        """
        event = self.prepare(event_type, caused_by=caused_by, **payload)
        return (await self.emit_many([event]))[0]

    def prepare(
        self, event_type: str, *, caused_by: Event | UUID | None = None, **payload: Any
    ) -> Event:
        """Build and validate the next event now; record it later with :meth:`emit_many`.

        It takes the next ``seq`` and, unless ``caused_by`` says otherwise, names the event
        prepared before it as its cause. Record prepared events in the order prepared; one
        never recorded leaves a gap in ``seq`` (still monotonic).

        Raises:
            InvalidEvent: the type is unknown or the payload does not fit its schema.
        """
        cause = caused_by if caused_by is not None else self._previous
        event = from_dict(
            {
                "type": event_type,
                "tenant_id": self.tenant_id,
                "execution_id": self.execution_id,
                "attempt": self.attempt,
                "seq": self.seq + 1,
                "causation_id": cause.event_id if isinstance(cause, Event) else cause,
                "payload": payload,
            }
        )
        self.seq += 1
        self._previous = event
        return event

    async def emit_many(self, events: Sequence[Event]) -> list[Appended]:
        """Record prepared events in one append (one transaction, one batch), in order.

        All or nothing: if one is too large for the log, none is recorded.
        """
        if not events:
            return []
        async with self._lock:
            positions = await self.log.append_batch(events)
            appended = [Appended(e, p) for e, p in zip(events, positions, strict=True)]
            self.last = appended[-1]
            return appended


_current: ContextVar[Recorder | None] = ContextVar("omium_recorder", default=None)


@asynccontextmanager
async def recording(
    log: EventLog,
    execution_id: str,
    *,
    attempt: int = 1,
    tenant_id: str = "default",
    resume: bool = True,
) -> AsyncIterator[Recorder]:
    """Make a recorder current for the code inside (``emit`` finds it)."""
    recorder = (
        await Recorder.resume(log, execution_id, attempt=attempt, tenant_id=tenant_id)
        if resume
        else Recorder(log, execution_id, attempt=attempt, tenant_id=tenant_id)
    )
    token = _current.set(recorder)
    try:
        yield recorder
    finally:
        _current.reset(token)


def current_recorder() -> Recorder:
    """The recorder of the enclosing :func:`recording` block."""
    recorder = _current.get()
    if recorder is None:
        raise RuntimeError(
            "omium.producers.emit() was called outside a recording; "
            "wrap the code in `async with omium.producers.recording(log, execution_id):`"
        )
    return recorder


async def emit(
    event_type: str, *, caused_by: Event | UUID | None = None, **payload: Any
) -> Appended:
    """Record an event on the current recording (see :class:`Recorder.emit`)."""
    return await current_recorder().emit(event_type, caused_by=caused_by, **payload)


def step(function: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """Record a function of your own program as a step of the current recording.

    Inside ``async with recording(log, execution_id):`` each call records ``step.started``,
    then ``step.completed`` with what it returned (a dict is merged into the recording's
    state; anything else is stored under ``"result"``) and ``checkpoint.created`` with the
    state so far — or ``step.failed`` with the exception, which is re-raised. Outside a
    recording the function just runs. A sync function runs on a worker thread, so the
    decorated function is always awaited::

        @step
        def fetch(url: str) -> dict: ...

        async with recording(log, "exec-1"):
            await fetch("https://…")
    """
    is_async = inspect.iscoroutinefunction(function)
    name = getattr(function, "__name__", "step")

    @functools.wraps(function)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        recorder = _current.get()
        call = (
            function(*args, **kwargs) if is_async else asyncio.to_thread(function, *args, **kwargs)
        )
        if recorder is None:
            return await call
        index = recorder.steps
        recorder.steps += 1
        await recorder.emit("step.started", step=name, index=index)
        began = time.perf_counter()
        try:
            result = await call
        except Exception as exc:
            await recorder.emit(
                "step.failed",
                step=name,
                index=index,
                error=ErrorInfo.of(exc).model_dump(),
                duration_ms=(time.perf_counter() - began) * 1000,
            )
            raise
        output = result if isinstance(result, dict) else {"result": result}
        recorder.state.update(output)
        await recorder.emit_many(
            [
                recorder.prepare(
                    "step.completed",
                    step=name,
                    index=index,
                    output=output,
                    duration_ms=(time.perf_counter() - began) * 1000,
                ),
                recorder.prepare(
                    "checkpoint.created",
                    step=name,
                    index=index,
                    checkpoint_id=step_checkpoint_id(recorder.attempt, index, name),
                    state=recorder.state,
                ),
            ]
        )
        return result

    return wrapper
