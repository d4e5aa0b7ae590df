"""``checkpoint.created``: the state of a run after a step.

The checkpoint's log position is the position of this event itself; the projection
records it when it folds the record (an event cannot carry its own offset).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, JsonValue

from omium.schemas.base import Event, Payload


class CheckpointCreatedPayload(Payload):
    """The payload of :class:`CheckpointCreated`."""

    checkpoint_id: str = Field(min_length=1)
    step: str | None = None
    index: int | None = Field(None, ge=0)
    state: dict[str, JsonValue] = Field(default_factory=dict)
    parent_id: str | None = None


class CheckpointCreated(Event):
    """A restorable snapshot of the run's state."""

    type: Literal["checkpoint.created"] = "checkpoint.created"
    version: Literal[1] = 1
    payload: CheckpointCreatedPayload
