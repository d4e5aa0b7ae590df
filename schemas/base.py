"""The envelope every event and command shares, and small value types.

An event is one frozen pydantic model: the envelope fields below plus a typed ``payload``.
Each concrete type narrows ``type`` to a ``Literal`` (the discriminator) and ``version`` to
its current version; older versions are upcast by the type's ``MIGRATIONS`` before
validation (see :mod:`omium.schemas.registry`).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

from omium.schemas.topics import COMMANDS, EVENTS

#: An upcaster turns the payload of version ``i + 1`` into the payload of version ``i + 2``.
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

#: NaN and infinity are refused: JSON has neither (pydantic would write them as ``null``, so a
#: step's ``nan`` would come back as ``None`` and a float field would no longer decode)
_FROZEN = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def utcnow() -> datetime:
    """Now, timezone-aware in UTC (the envelope's ``ts`` default)."""
    return datetime.now(UTC)


class Payload(BaseModel):
    """Base of every typed payload: frozen, unknown fields refused."""

    model_config = _FROZEN


class ReasonPayload(Payload):
    """A free-text reason (pause, resume, cancel: commands and facts; a deleted thread)."""

    reason: str | None = None


class ErrorInfo(BaseModel):
    """An exception as data: enough to show, search and compare, never re-raised."""

    model_config = _FROZEN

    type: str
    message: str
    traceback: str | None = None

    #: the traceback's last characters are kept (the frames nearest the error)
    TRACEBACK_CHARS: ClassVar[int] = 8000

    @classmethod
    def of(cls, exc: BaseException) -> ErrorInfo:
        """``exc`` as data: its class name, message and (the end of) its traceback."""
        text = "".join(traceback.format_exception(exc))
        return cls(
            type=type(exc).__name__, message=str(exc), traceback=text[-cls.TRACEBACK_CHARS :]
        )


class Event(BaseModel):
    """The envelope: identity, ordering and routing of one immutable fact or command.

    Attributes:
        event_id: set once by the producer; consumers dedupe on it.
        type: the discriminator, e.g. ``"step.completed"``.
        version: schema version of ``payload`` for this type.
        tenant_id: whose data this is; first in every analytics sort key.
        execution_id: the run this belongs to; also the log key (one partition per run).
        attempt: the branch of the run; a rollback opens attempt ``n + 1``.
        seq: monotonic within ``execution_id`` + ``attempt`` (0 for commands).
        ts: when the producer created it (UTC).
        causation_id: the ``event_id`` that caused this one, if any.
        payload: typed by ``type``.
    """

    model_config = _FROZEN

    #: Upcasters, oldest first; the current version is ``len(MIGRATIONS) + 1``.
    MIGRATIONS: ClassVar[tuple[Upcaster, ...]] = ()
    #: The topic this kind of record is written to.
    TOPIC: ClassVar[str] = EVENTS.name

    event_id: UUID = Field(default_factory=uuid4)
    type: str
    version: int = 1
    tenant_id: str = Field("default", min_length=1, max_length=128)
    execution_id: str = Field(min_length=1, max_length=256)
    attempt: int = Field(1, ge=1)
    seq: int = Field(0, ge=0)
    ts: datetime = Field(default_factory=utcnow)
    causation_id: UUID | None = None
    payload: Payload

    @property
    def key(self) -> str:
        """The log key: records with the same key land on the same partition, in order."""
        return self.execution_id


class Command(Event):
    """Base of commands: what a user asked for, on ``omium.commands``."""

    TOPIC: ClassVar[str] = COMMANDS.name
