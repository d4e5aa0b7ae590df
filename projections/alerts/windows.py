"""The rules over many executions: windows of recent points per workflow or tenant. Pure.

``execution_failed`` with a ``count``, ``cost_burn`` and ``failure_rate`` keep, per rule and
scope (``workflow:<name>``, ``tenant:<id>``), the points of the last ``window`` and the id of
the alert open on it: raised when the condition starts to hold, resolved when it stops (on
an event, or when :func:`expire` slides the window on a timer tick). The alert id names the
event that made it hold, so a condition that clears and recurs raises a new alert.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from omium.projections.alerts.kinds import alert
from omium.projections.alerts.state import KEPT_IDS, Alert, AlertState, RunState, Window
from omium.schemas import Event, LLMCall
from omium.schemas.alert_rules import CostBurnRule, ExecutionFailedRule, FailureRateRule


def on_execution_failed(
    rule: ExecutionFailedRule, state: AlertState, run: RunState, event: Event
) -> list[Alert]:
    """A failed or timed-out end: at once, or once ``count`` of them fall in ``window``."""
    eid = event.execution_id
    if rule.count == 1:
        return [
            alert(
                rule,
                "raised",
                f"{rule.name}/{eid}/{event.attempt}/{event.type}",
                run,
                event,
                subject=eid,
                message=f"{eid} ({run.workflow or 'no workflow'}) {event.type.split('.')[1]}",
                ts=event.ts,
            )
        ]
    scope = f"workflow:{run.workflow or '-'}"
    window = _window(state, rule.name, run.tenant, scope)
    _slide(window, event.ts, rule.window or 0.0)
    window.add(event.ts, 1.0, event.event_id)
    return _threshold(
        rule,
        window,
        run,
        event,
        scope,
        over=len(window.points) >= rule.count,
        message=f"{len(window.points)} executions of {scope} failed within "
        f"{rule.window:g} s (rule: {rule.count})",
    )


def on_cost_burn(
    rule: CostBurnRule, state: AlertState, run: RunState, event: LLMCall, cost: float
) -> list[Alert]:
    """The tenant's cost over the window, per hour, went above the rate."""
    scope = f"tenant:{run.tenant}"
    window = _window(state, rule.name, run.tenant, scope)
    _slide(window, event.ts, rule.window)
    if cost > 0:
        window.add(event.ts, cost, event.event_id)
    rate = burn_rate(window, rule.window)
    return _threshold(
        rule,
        window,
        run,
        event,
        scope,
        over=rate > rule.usd_per_hour,
        message=f"tenant {run.tenant} spends ${rate:.2f}/h on LLM calls, over "
        f"${rule.usd_per_hour:g}/h",
    )


def burn_rate(window: Window, seconds: float) -> float:
    """USD per hour over a window of ``seconds``."""
    return window.total * 3600 / seconds


def on_finished(
    rule: FailureRateRule, state: AlertState, run: RunState, event: Event
) -> list[Alert]:
    """One more finished run of the workflow: its failure rate over the window."""
    if run.workflow is None:
        return []
    scope = f"workflow:{run.workflow}"
    window = _window(state, rule.name, run.tenant, scope)
    _slide(window, event.ts, rule.window)
    failed = 1.0 if event.type in ("execution.failed", "execution.timed_out") else 0.0
    window.add(event.ts, failed, event.event_id)
    runs = len(window.points)
    rate = window.total / runs
    return _threshold(
        rule,
        window,
        run,
        event,
        scope,
        over=runs >= rule.min_runs and rate > rule.threshold,
        message=f"{rate:.0%} of {runs} runs of {run.workflow} failed within "
        f"{rule.window:g} s (threshold {rule.threshold:.0%})",
    )


def expire(
    rule: ExecutionFailedRule | CostBurnRule | FailureRateRule,
    state: AlertState,
    key: str,
    now: datetime,
) -> list[Alert]:
    """Points older than the window leave it; an open alert whose condition ended resolves."""
    window = state.windows[key]
    if window.open is None:
        return []
    seconds = rule.window or 0.0
    _slide(window, now, seconds)
    if isinstance(rule, ExecutionFailedRule):
        still = len(window.points) >= rule.count
    elif isinstance(rule, CostBurnRule):
        still = burn_rate(window, seconds) > rule.usd_per_hour
    else:
        runs = len(window.points)
        still = runs >= rule.min_runs and window.total / runs > rule.threshold
    if still:
        return []
    tenant, scope = key.split("|")[1:]
    closed, window.open = window.open, None
    return [
        Alert(
            action="resolved",
            alert_id=closed,
            rule=rule.name,
            kind=rule.kind,
            severity=rule.severity,
            tenant_id=tenant,
            execution_id=scope,
            attempt=1,
            message=f"{scope}: the condition of {rule.name} no longer holds",
            triggered_by=(),
            ts=now,
        )
    ]


def _window(state: AlertState, rule: str, tenant: str, scope: str) -> Window:
    return state.windows.setdefault(f"{rule}|{tenant}|{scope}", Window())


def _slide(window: Window, now: datetime, seconds: float) -> None:
    window.slide(now - timedelta(seconds=seconds))


def _threshold(
    rule: ExecutionFailedRule | CostBurnRule | FailureRateRule,
    window: Window,
    run: RunState,
    event: Event,
    scope: str,
    *,
    over: bool,
    message: str,
) -> list[Alert]:
    """Raise when a window's condition starts to hold, resolve when it stops."""
    if over and window.open is None:
        window.open = f"{rule.name}/{run.tenant}/{scope}/{event.event_id}"
        ids = [p.event_id for p in window.points[-KEPT_IDS:]]
        return [
            alert(
                rule,
                "raised",
                window.open,
                run,
                event,
                subject=scope,
                message=message,
                ts=event.ts,
                ids=ids,
            )
        ]
    if not over and window.open is not None:
        closed, window.open = window.open, None
        return [
            alert(
                rule,
                "resolved",
                closed,
                run,
                event,
                subject=scope,
                message=f"{scope}: the condition of {rule.name} no longer holds",
                ts=event.ts,
            )
        ]
    return []
