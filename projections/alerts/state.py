"""The alert evaluator's state and what it outputs. Pure data: no IO, no clock.

:class:`AlertState` is everything the rules remember between events: per execution what
they need (status, last event, cost, repeated calls, the current handoff exchange, pending
human input, open alerts), windows of recent points for the rules over many executions,
and the recent step durations for the rolling p95. It round-trips through JSON
(:meth:`AlertState.dump` / :meth:`AlertState.load`) so a runner stores it in one row beside
the log offsets it reached.

:class:`Alert` is one output: an alert raised or resolved, with a deterministic id; its
:meth:`Alert.event` is the ``alert.raised`` / ``alert.resolved`` record, whose ``event_id``
is derived from the id too, so the same condition always becomes byte-identical events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from omium.schemas import AlertRaised, AlertResolved, Event
from omium.schemas.alerts import Severity

#: namespace of the derived ``event_id`` of alert events
ALERT_NAMESPACE = UUID("5b0e7f4e-3f7c-4a53-9d1e-8b6a3c0f2a71")

#: ids of triggering events kept per repeated call (the alert names the first ones)
KEPT_IDS = 10

Status = Literal["queued", "running", "paused", "waiting", "finished"]


class _Mutable(BaseModel):
    # The evaluator updates its state in place, one event at a time: copying every
    # execution's state per event would cost more than the rules themselves.
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class Wait(_Mutable):
    """A human input request not answered yet."""

    since: datetime
    event_id: UUID
    seq: int = 0


class Handoffs(_Mutable):
    """The exchange of control going on between two agents in one attempt."""

    pair: tuple[str, str]
    last_to: str
    count: int = 1
    episode: int = 1
    event_ids: list[UUID] = Field(default_factory=list)


class RunState(_Mutable):
    """What the rules remember of one execution."""

    tenant: str = "default"
    workflow: str | None = None
    attempt: int = 1
    status: Status = "queued"
    last_ts: datetime | None = None
    last_seq: int = 0
    last_event: UUID | None = None
    #: attempt -> the highest seq applied (a redelivered event changes nothing)
    applied: dict[int, int] = Field(default_factory=dict)
    cost_usd: float = 0.0
    calls: dict[str, int] = Field(default_factory=dict)
    call_ids: dict[str, list[UUID]] = Field(default_factory=dict)
    handoffs: Handoffs | None = None
    waiting: dict[str, Wait] = Field(default_factory=dict)
    #: "<rule>" or "<rule>:<request>" -> the id of an alert raised and not resolved yet
    open: dict[str, str] = Field(default_factory=dict)


class Point(_Mutable):
    """One point of a window: when, how much, which event."""

    ts: datetime
    value: float
    event_id: UUID


class Window(_Mutable):
    """Recent points of one rule over one scope (a workflow, a tenant), and its open alert.

    ``points`` are in the order they came (events' order, which is time order per partition);
    ``total`` is their sum, kept as they come and go so no rule sums the window per event.
    """

    points: list[Point] = Field(default_factory=list)
    total: float = 0.0

    def add(self, ts: datetime, value: float, event_id: UUID) -> None:
        """One more point."""
        self.points.append(Point(ts=ts, value=value, event_id=event_id))
        self.total += value

    def slide(self, start: datetime) -> None:
        """Drop the points at or before ``start`` from the front (the oldest come first)."""
        drop = 0
        for point in self.points:
            if point.ts > start:
                break  # a later point that came earlier (another partition) waits its turn
            drop += 1
        if drop:
            self.total -= sum(p.value for p in self.points[:drop])
            del self.points[:drop]
            if not self.points:
                self.total = 0.0  # no float drift survives an empty window

    open: str | None = None


class AlertState(_Mutable):
    """Everything the rules remember; see the module docs."""

    runs: dict[str, RunState] = Field(default_factory=dict)
    windows: dict[str, Window] = Field(default_factory=dict)
    #: "<tenant>|<workflow>|<step>" -> the last step durations in ms, oldest first
    durations: dict[str, list[float]] = Field(default_factory=dict)

    def dump(self) -> bytes:
        """The state as JSON bytes."""
        return self.model_dump_json().encode()

    @classmethod
    def load(cls, data: bytes | str | None) -> AlertState:
        """A state from :meth:`dump`'s bytes (a fresh one for None)."""
        return cls() if data is None else cls.model_validate_json(data)


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert raised or resolved by a rule.

    Attributes:
        action: ``raised`` or ``resolved``.
        alert_id: derived from rule, subject and condition (the dedupe key).
        rule: the rule's name; kind: its kind; severity: its severity.
        tenant_id, execution_id, attempt: what it is about (``execution_id`` is
            ``workflow:<name>`` or ``tenant:<id>`` for rules over many executions).
        message: one line for people.
        triggered_by: the events that made the condition true (or clear it).
        ts: when, in the log's time (the triggering event's, or the timer's ``now``).
        details: numbers behind the message.
    """

    action: Literal["raised", "resolved"]
    alert_id: str
    rule: str
    kind: str
    severity: Severity
    tenant_id: str
    execution_id: str
    attempt: int
    message: str
    triggered_by: tuple[UUID, ...]
    ts: datetime
    details: dict[str, JsonValue] = field(default_factory=dict)

    def event(self) -> Event:
        """The ``alert.raised`` / ``alert.resolved`` event, its ``event_id`` derived."""
        common = {
            "event_id": uuid5(ALERT_NAMESPACE, f"{self.action}:{self.alert_id}"),
            "tenant_id": self.tenant_id,
            "execution_id": self.execution_id,
            "attempt": self.attempt,
            "ts": self.ts,
        }
        if self.action == "raised":
            return AlertRaised.model_validate(
                {
                    **common,
                    "payload": {
                        "alert_id": self.alert_id,
                        "rule": self.rule,
                        "kind": self.kind,
                        "severity": self.severity,
                        "message": self.message,
                        "triggered_by": list(self.triggered_by),
                        "details": self.details,
                    },
                }
            )
        return AlertResolved.model_validate(
            {
                **common,
                "payload": {
                    "alert_id": self.alert_id,
                    "rule": self.rule,
                    "kind": self.kind,
                    "message": self.message,
                    "triggered_by": list(self.triggered_by),
                },
            }
        )
