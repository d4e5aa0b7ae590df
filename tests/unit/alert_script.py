"""Scripted events for the alert engine's tests: one execution at a time, time explicit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from omium.schemas import Event, from_dict

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class Script:
    """Events of one execution attempt with consecutive seqs, at times the test chooses."""

    def __init__(
        self, execution_id: str, *, workflow: str = "flow", tenant: str = "default"
    ) -> None:
        self.execution_id = execution_id
        self.workflow = workflow
        self.tenant = tenant
        self.seq = 0
        self.attempt = 1
        self.at = T0

    def event(self, kind: str, after: float = 1.0, **payload: Any) -> Event:
        """The next event, ``after`` seconds after the previous one."""
        self.seq += 1
        self.at += timedelta(seconds=after)
        return from_dict(
            {
                "type": kind,
                "tenant_id": self.tenant,
                "execution_id": self.execution_id,
                "attempt": self.attempt,
                "seq": self.seq,
                "ts": self.at,
                "payload": payload,
            }
        )

    def start(self, after: float = 1.0) -> list[Event]:
        return [
            self.event("execution.submitted", after, workflow=self.workflow),
            self.event("execution.started", 0.01, workflow=self.workflow),
        ]

    def tool(self, name: str = "search", after: float = 1.0, **arguments: Any) -> Event:
        return self.event("tool.call", after, tool=name, arguments=arguments)

    def llm(self, cost: float, after: float = 1.0, **request: Any) -> Event:
        return self.event("llm.call", after, model="gpt-x", cost_usd=cost, request=request)

    def step(self, name: str, seconds: float, index: int = 0) -> Event:
        return self.event(
            "step.completed", seconds, step=name, index=index, duration_ms=seconds * 1000
        )

    def handoff(self, src: str, dst: str, after: float = 1.0) -> Event:
        return self.event("agent.handoff", after, from_agent=src, to_agent=dst)

    def fail(self, after: float = 1.0) -> Event:
        return self.event(
            "execution.failed", after, error={"type": "ValueError", "message": "boom"}
        )

    def complete(self, after: float = 1.0) -> Event:
        return self.event("execution.completed", after)
