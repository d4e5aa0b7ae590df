"""What each rule kind does with one event, or with the time passing. Pure.

Each ``on_<kind>`` gets the rule, the evaluator's state, the execution's state (already
updated with the event's status) and the event, and returns the alerts it raises or
resolves. :mod:`.engine` calls the ones whose rules match the event's tenant and workflow;
the timers (:func:`stuck_due`, :func:`waiting_due`; windows: :mod:`.windows`) are called by
:func:`~omium.projections.alerts.engine.tick` with an explicit ``now``.

Alert ids name the rule, the subject and the condition, so one condition gives one id
however often it is evaluated: a loop is ``rule/execution/attempt/tool:<name>:<args hash>``,
a stuck run ``rule/execution/attempt/stuck@<seq of its last event>`` (it moves: the next
stall is another condition).
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime
from uuid import UUID

import orjson

from omium.projections.alerts.state import KEPT_IDS, Alert, AlertState, RunState
from omium.schemas import (
    AgentHandoff,
    Event,
    LLMCall,
    StepCompleted,
    StepFailed,
    ToolCall,
)
from omium.schemas.alert_rules import (
    CostBudgetRule,
    HandoffPingPongRule,
    LoopRule,
    StepLatencyRule,
    StuckRule,
    WaitingTooLongRule,
)
from omium.schemas.alert_rules import Rule as AnyRule

#: the least number of earlier durations a rolling p95 is computed from
MIN_SAMPLES = 5


def alert(
    rule: AnyRule,
    action: str,
    alert_id: str,
    run: RunState | None,
    event: Event | None,
    *,
    subject: str,
    message: str,
    ts: datetime,
    ids: list[UUID] | tuple[UUID, ...] = (),
    **details: float | int | str,
) -> Alert:
    """An :class:`Alert` of ``rule`` about ``subject`` (an execution, workflow or tenant)."""
    tenant = run.tenant if run is not None else (event.tenant_id if event else "default")
    return Alert(
        action="raised" if action == "raised" else "resolved",
        alert_id=alert_id,
        rule=rule.name,
        kind=rule.kind,
        severity=rule.severity,
        tenant_id=tenant,
        execution_id=subject,
        attempt=event.attempt if event is not None else (run.attempt if run else 1),
        message=message,
        triggered_by=tuple(ids) or ((event.event_id,) if event is not None else ()),
        ts=ts,
        details=dict(details),
    )


def on_step_latency(
    rule: StepLatencyRule, state: AlertState, run: RunState, event: StepCompleted | StepFailed
) -> list[Alert]:
    """A step slower than the threshold, or than ``factor`` × its rolling p95."""
    step, took = event.payload.step, event.payload.duration_ms / 1000
    if rule.step is not None and rule.step != step:
        return []
    if rule.threshold is not None:
        limit, why = rule.threshold, f"its {rule.threshold:g} s threshold"
    else:
        assert rule.factor is not None  # the rule's validator asks for one of the two
        earlier = state.durations.get(duration_key(run, step), [])[-rule.runs :]
        if len(earlier) < MIN_SAMPLES:
            return []
        p95 = percentile(earlier, 0.95) / 1000
        limit, why = rule.factor * p95, f"{rule.factor:g} × its p95 of {p95:.3f} s"
    if took <= limit:
        return []
    eid = event.execution_id
    return [
        alert(
            rule,
            "raised",
            f"{rule.name}/{eid}/{event.attempt}/step:{step}@{event.seq}",
            run,
            event,
            subject=eid,
            message=f"step {step!r} of {eid} took {took:.3f} s, over {why}",
            ts=event.ts,
            seconds=took,
            limit=limit,
        )
    ]


def on_cost(rule: CostBudgetRule, run: RunState, event: LLMCall, before: float) -> list[Alert]:
    """The execution's cost crossed the budget with this call (once: the crossing)."""
    if not before <= rule.budget_usd < run.cost_usd:
        return []
    eid = event.execution_id
    return [
        alert(
            rule,
            "raised",
            f"{rule.name}/{eid}/budget",
            run,
            event,
            subject=eid,
            message=f"{eid} spent ${run.cost_usd:.4f} on LLM calls, over its "
            f"${rule.budget_usd:g} budget",
            ts=event.ts,
            cost_usd=run.cost_usd,
        )
    ]


def on_call(rule: LoopRule, run: RunState, event: ToolCall | LLMCall, key: str) -> list[Alert]:
    """The same call (``key``) made for the ``count``-th time in this attempt."""
    if rule.calls != "any" and not key.startswith(rule.calls + ":"):
        return []
    if run.calls.get(key, 0) != rule.count:
        return []
    eid = event.execution_id
    what = key.rsplit(":", 1)[0]
    return [
        alert(
            rule,
            "raised",
            f"{rule.name}/{eid}/{event.attempt}/{key}",
            run,
            event,
            subject=eid,
            message=f"{eid} made the same {what.replace(':', ' ', 1)} call "
            f"{rule.count} times in attempt {event.attempt}",
            ts=event.ts,
            ids=run.call_ids.get(key, []),
            calls=rule.count,
        )
    ]


def call_key(event: ToolCall | LLMCall) -> str:
    """``tool:<name>:<hash of the arguments>`` or ``llm:<model>:<hash of the request>``."""
    if isinstance(event, ToolCall):
        kind, name, body = "tool", event.payload.tool, event.payload.arguments
    else:
        kind, name, body = "llm", event.payload.model, event.payload.request
    digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
    return f"{kind}:{name}:{digest}"


def on_handoff(rule: HandoffPingPongRule, run: RunState, event: AgentHandoff) -> list[Alert]:
    """The current back-and-forth between two agents went past ``count`` handoffs."""
    exchange = run.handoffs
    if exchange is None or exchange.count != rule.count + 1:
        return []
    a, b = exchange.pair
    eid = event.execution_id
    return [
        alert(
            rule,
            "raised",
            f"{rule.name}/{eid}/{event.attempt}/handoff:{a}|{b}#{exchange.episode}",
            run,
            event,
            subject=eid,
            message=f"agents {a!r} and {b!r} handed control back and forth "
            f"{exchange.count} times in {eid}",
            ts=event.ts,
            ids=exchange.event_ids,
            handoffs=exchange.count,
        )
    ]


def stuck_due(rule: StuckRule, eid: str, run: RunState, now: datetime) -> list[Alert]:
    """A running execution whose last event is ``after`` old or more: raise once."""
    if run.status != "running" or run.last_ts is None or rule.name in run.open:
        return []
    idle = (now - run.last_ts).total_seconds()
    if idle < rule.after:
        return []
    alert_id = f"{rule.name}/{eid}/{run.attempt}/stuck@{run.last_seq}"
    run.open[rule.name] = alert_id
    ids = (run.last_event,) if run.last_event else ()
    message = f"{eid} ({run.workflow or 'no workflow'}) recorded nothing for {idle:.0f} s"
    return [
        alert(rule, "raised", alert_id, run, None, subject=eid, message=message, ts=now, ids=ids)
    ]


def waiting_due(rule: WaitingTooLongRule, eid: str, run: RunState, now: datetime) -> list[Alert]:
    """Human input requested ``after`` ago or more and not answered: raise once per request."""
    out = []
    for request, wait in run.waiting.items():
        key = f"{rule.name}:{request}"
        waited = (now - wait.since).total_seconds()
        if key in run.open or waited < rule.after:
            continue
        alert_id = f"{rule.name}/{eid}/{run.attempt}/waiting:{request}"
        run.open[key] = alert_id
        message = f"{eid} has waited {waited:.0f} s for human input ({request})"
        out.append(
            alert(
                rule,
                "raised",
                alert_id,
                run,
                None,
                subject=eid,
                message=message,
                ts=now,
                ids=(wait.event_id,),
            )
        )
    return out


def duration_key(run: RunState, step: str) -> str:
    """The key of a workflow step's recent durations."""
    return f"{run.tenant}|{run.workflow or '-'}|{step}"


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile of ``values`` (not empty)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def keep_ids(ids: list[UUID], new: UUID) -> None:
    """Remember a triggering event's id, the first :data:`KEPT_IDS` only."""
    if len(ids) < KEPT_IDS:
        ids.append(new)
