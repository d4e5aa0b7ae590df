"""``DeadLetter``: a record that could not be validated or processed, kept with the reason.

Not an event (it has no envelope: the original may be unreadable); it is what
``omium.dlq`` holds, keyed by the original record's key.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from omium.schemas.base import utcnow


class DeadLetter(BaseModel):
    """A poison record and why it was set aside."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    key: str | None = None
    value: str = Field(description="the original value, as UTF-8 text (invalid bytes replaced)")
    reason: str
    processor: str | None = None
    failed_at: datetime = Field(default_factory=utcnow)
