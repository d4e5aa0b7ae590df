"""``alert.raised``: a rule fired, on ``omium.alerts`` keyed by the rule."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, JsonValue

from omium.schemas.base import Event, Payload
from omium.schemas.topics import ALERTS


class AlertRaisedPayload(Payload):
    """The payload of :class:`AlertRaised`."""

    rule: str = Field(min_length=1)
    severity: Literal["info", "warning", "critical"] = "warning"
    message: str
    details: dict[str, JsonValue] = Field(default_factory=dict)


class AlertRaised(Event):
    """A condition a rule watches for happened (raised once per condition)."""

    TOPIC: ClassVar[str] = ALERTS.name

    type: Literal["alert.raised"] = "alert.raised"
    version: Literal[1] = 1
    payload: AlertRaisedPayload

    @property
    def key(self) -> str:
        """Alerts are keyed by rule, so one rule's alerts stay in order."""
        return self.payload.rule
