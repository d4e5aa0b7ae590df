"""Alert facts on ``omium.alerts``, keyed by the rule: ``alert.{raised,resolved,delivery_failed}``.

An alert's ``alert_id`` is derived from the rule, the execution (or the workflow or tenant
it watches) and the condition, never drawn at random: the same condition seen again (a
redelivered event, a restarted evaluator) yields the same id, and readers and webhook
receivers dedupe on it. A condition that clears (a stuck run moves again) is resolved, and
if it recurs it is a new condition with a new id.

The envelope's ``execution_id`` is the execution the alert is about, or ``workflow:<name>``
/ ``tenant:<id>`` for rules that watch many executions; ``attempt`` is the run's branch.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import Field, JsonValue

from omium.schemas.base import Event, Payload, Upcaster
from omium.schemas.topics import ALERTS

Severity = Literal["info", "warning", "critical"]


class AlertRaisedPayload(Payload):
    """The payload of :class:`AlertRaised`."""

    alert_id: str = Field(min_length=1, description="deterministic: rule, subject, condition")
    rule: str = Field(min_length=1)
    kind: str = Field("", description="the rule's kind (loop, stuck, cost_budget …)")
    severity: Severity = "warning"
    message: str
    triggered_by: list[UUID] = Field(
        default_factory=list, description="event_id of the events that made the condition true"
    )
    details: dict[str, JsonValue] = Field(default_factory=dict)


def _alert_raised_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 had no ``alert_id`` nor ``kind``: the id is derived from the rule and message."""
    upgraded = dict(payload)
    upgraded.setdefault("alert_id", f"{payload.get('rule', '')}/v1/{payload.get('message', '')}")
    upgraded.setdefault("kind", "")
    return upgraded


class AlertRaised(Event):
    """A condition a rule watches for became true (raised once per condition)."""

    MIGRATIONS: ClassVar[tuple[Upcaster, ...]] = (_alert_raised_v1_to_v2,)
    TOPIC: ClassVar[str] = ALERTS.name

    type: Literal["alert.raised"] = "alert.raised"
    version: Literal[2] = 2
    payload: AlertRaisedPayload

    @property
    def key(self) -> str:
        """Alerts are keyed by rule, so one rule's alerts stay in order."""
        return self.payload.rule


class AlertResolvedPayload(Payload):
    """The payload of :class:`AlertResolved`."""

    alert_id: str = Field(min_length=1, description="the alert.raised this ends")
    rule: str = Field(min_length=1)
    kind: str = ""
    message: str
    triggered_by: list[UUID] = Field(default_factory=list)


class AlertResolved(Event):
    """The condition of a raised alert no longer holds (e.g. a stuck run moved)."""

    TOPIC: ClassVar[str] = ALERTS.name

    type: Literal["alert.resolved"] = "alert.resolved"
    version: Literal[1] = 1
    payload: AlertResolvedPayload

    @property
    def key(self) -> str:
        """Keyed by rule, like the alert it resolves."""
        return self.payload.rule


class AlertDeliveryFailedPayload(Payload):
    """The payload of :class:`AlertDeliveryFailed`."""

    alert_id: str = Field(min_length=1)
    rule: str = Field(min_length=1)
    sink: str = Field(description="which sink, e.g. 'webhook https://hooks.example/omium'")
    attempts: int = Field(ge=1)
    error: str


class AlertDeliveryFailed(Event):
    """A sink could not deliver an alert after its retries (the alert stays on the log)."""

    TOPIC: ClassVar[str] = ALERTS.name

    type: Literal["alert.delivery_failed"] = "alert.delivery_failed"
    version: Literal[1] = 1
    payload: AlertDeliveryFailedPayload

    @property
    def key(self) -> str:
        """Keyed by rule, beside the alert it could not deliver."""
        return self.payload.rule
