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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple
from uuid import UUID

from omium.producers.port import EventLog, Position
from omium.schemas import Event, from_dict


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
        self.seq = last_seq
        self.last: Appended | None = None
        self._lock = asyncio.Lock()

    @classmethod
    async def resume(
        cls, log: EventLog, execution_id: str, *, attempt: int = 1, tenant_id: str = "default"
    ) -> Recorder:
        """A recorder that continues after the last ``seq`` already in the log."""
        last = 0
        for record in await log.read_execution(execution_id):
            event = record.event()
            if event.attempt == attempt:
                last = max(last, event.seq)
        return cls(log, execution_id, attempt=attempt, last_seq=last, tenant_id=tenant_id)

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
        async with self._lock:
            cause = caused_by if caused_by is not None else (self.last and self.last.event)
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
            position = await self.log.append(event)
            self.seq += 1
            self.last = Appended(event, position)
            return self.last


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
