"""The alert rules as state machines: ``evaluate(event)`` and ``tick(now)``. Pure.

Like the projections' folds these read no clock and do no IO: time comes in as the events'
``ts`` and as the explicit ``now`` of :func:`tick`, so the same code serves the embedded
runner, the Kafka runner and property tests. Both update ``state`` in place (copying
every execution's state per event would cost more than the rules) and return the alerts.

Once per condition: an event whose ``seq`` its attempt already applied changes nothing, so
a redelivered event raises nothing again; every alert id is derived from the condition
(see :mod:`.kinds`), so a runner restarted from an older state raises the same ids again,
which its outbox and every reader dedupe.

Time-based conditions are evaluated from the events too: a running execution whose next
event comes ``after`` or more after its last one was stuck in between, even when no tick
fell in the gap (the evaluator was down), and it is raised and resolved then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from omium.projections.alerts import kinds, windows
from omium.projections.alerts.state import Alert, AlertState, Handoffs, RunState, Wait
from omium.schemas import (
    AgentHandoff,
    Event,
    ExecutionCancelled,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionPaused,
    ExecutionResumed,
    ExecutionRolledBack,
    ExecutionStarted,
    ExecutionSubmitted,
    ExecutionTimedOut,
    HumanInputReceived,
    HumanInputRequested,
    LLMCall,
    StepCompleted,
    StepFailed,
    ToolCall,
)
from omium.schemas.alert_rules import (
    CostBudgetRule,
    CostBurnRule,
    ExecutionFailedRule,
    FailureRateRule,
    HandoffPingPongRule,
    LoopRule,
    StepLatencyRule,
    StuckRule,
    WaitingTooLongRule,
)
from omium.schemas.alert_rules import Rule as AnyRule
from omium.schemas.topics import EVENTS

#: ``(model, input_tokens, output_tokens) -> USD`` for calls recorded without a cost
Pricer = Callable[[str, int, int], float | None]

#: how long a finished execution's state is kept (a late duplicate of its events)
KEEP_FINISHED = timedelta(hours=1)

_ENDS = (ExecutionCompleted, ExecutionFailed, ExecutionTimedOut, ExecutionCancelled)
#: what ends every wait for input: the run's end, or a rollback to a branch that never asked
_UNWAIT = (*_ENDS, ExecutionRolledBack)


def matches(rule: AnyRule, run: RunState) -> bool:
    """Whether ``rule``'s tenant and workflow filters let ``run`` through."""
    if rule.tenant is not None and rule.tenant != run.tenant:
        return False
    return rule.workflow is None or rule.workflow == run.workflow


def evaluate(
    rules: Sequence[AnyRule], state: AlertState, event: Event, *, price: Pricer | None = None
) -> list[Alert]:
    """Apply one event of ``omium.events`` to ``state``; the alerts it raises or resolves."""
    if event.TOPIC != EVENTS.name:
        return []
    run = state.runs.get(event.execution_id)
    if run is None:
        run = state.runs[event.execution_id] = RunState(tenant=event.tenant_id)
    if event.seq and event.seq <= run.applied.get(event.attempt, 0):
        return []  # redelivered: applied already
    if event.seq:
        run.applied[event.attempt] = event.seq
    out = _gaps(rules, event, run)
    before_cost = run.cost_usd
    _track(event, run, price)
    active = [r for r in rules if matches(r, run)]
    for rule in active:
        out += _rule(rule, state, run, event, before_cost)
    if isinstance(event, StepCompleted):
        _remember_duration(rules, state, run, event)
    return out


def tick(rules: Sequence[AnyRule], state: AlertState, now: datetime) -> list[Alert]:
    """Let time pass to ``now``: the timer rules fire, windows slide, old state goes."""
    out: list[Alert] = []
    by_name = {r.name: r for r in rules}
    for eid, run in list(state.runs.items()):
        if run.status == "finished":
            if run.last_ts is not None and now - run.last_ts > KEEP_FINISHED:
                del state.runs[eid]
            continue
        for rule in rules:
            if isinstance(rule, StuckRule) and matches(rule, run):
                out += kinds.stuck_due(rule, eid, run, now)
            elif isinstance(rule, WaitingTooLongRule) and matches(rule, run):
                out += kinds.waiting_due(rule, eid, run, now)
    for key in list(state.windows):
        watcher = by_name.get(key.split("|")[0])
        if isinstance(watcher, ExecutionFailedRule | CostBurnRule | FailureRateRule):
            out += windows.expire(watcher, state, key, now)
        elif watcher is None:
            del state.windows[key]  # its rule is no longer loaded
    return out


def _rule(
    rule: AnyRule, state: AlertState, run: RunState, event: Event, before_cost: float
) -> list[Alert]:
    if event.attempt != run.attempt and isinstance(event, ToolCall | LLMCall | AgentHandoff):
        return []  # a late event of a branch a rollback left: its counts are gone
    if isinstance(rule, ExecutionFailedRule):
        if isinstance(event, ExecutionFailed | ExecutionTimedOut):
            return windows.on_execution_failed(rule, state, run, event)
    elif isinstance(rule, StepLatencyRule):
        if isinstance(event, StepCompleted | StepFailed):
            return kinds.on_step_latency(rule, state, run, event)
    elif isinstance(rule, CostBudgetRule):
        if isinstance(event, LLMCall):
            return kinds.on_cost(rule, run, event, before_cost)
    elif isinstance(rule, CostBurnRule):
        if isinstance(event, LLMCall):
            return windows.on_cost_burn(rule, state, run, event, run.cost_usd - before_cost)
    elif isinstance(rule, LoopRule):
        if isinstance(event, ToolCall | LLMCall):
            return kinds.on_call(rule, run, event, kinds.call_key(event))
    elif isinstance(rule, HandoffPingPongRule):
        if isinstance(event, AgentHandoff):
            return kinds.on_handoff(rule, run, event)
    elif isinstance(rule, FailureRateRule):
        if isinstance(event, _ENDS):
            return windows.on_finished(rule, state, run, event)
    return []


def _gaps(rules: Sequence[AnyRule], event: Event, run: RunState) -> list[Alert]:
    """Conditions this event ends: a stall before it, an input request it answers.

    Raised first (if no tick raised them during the gap) and then resolved, so the log
    has the same alerts whether or not the evaluator was running during the gap.
    """
    out: list[Alert] = []
    answered = event.payload.request_id if isinstance(event, HumanInputReceived) else None
    for rule in rules:
        if not matches(rule, run):
            continue
        if isinstance(rule, StuckRule) and event.attempt >= run.attempt:
            out += kinds.stuck_due(rule, event.execution_id, run, event.ts)
            out += _resolve(rule, run, rule.name, event, "moved again")
        elif isinstance(rule, WaitingTooLongRule) and (answered or isinstance(event, _UNWAIT)):
            out += kinds.waiting_due(rule, event.execution_id, run, event.ts)
            for request in [answered] if answered else list(run.waiting):
                out += _resolve(rule, run, f"{rule.name}:{request}", event, "got its answer")
    return out


def _resolve(rule: AnyRule, run: RunState, key: str, event: Event, why: str) -> list[Alert]:
    alert_id = run.open.pop(key, None)
    if alert_id is None:
        return []
    return [
        kinds.alert(
            rule,
            "resolved",
            alert_id,
            run,
            event,
            subject=event.execution_id,
            message=f"{event.execution_id} {why} ({event.type})",
            ts=event.ts,
        )
    ]


def _track(event: Event, run: RunState, price: Pricer | None) -> None:
    """What every rule needs to know of the execution, updated with ``event``."""
    if event.attempt > run.attempt:  # a rollback's branch: per-attempt counts start again
        run.attempt = event.attempt
        run.calls, run.call_ids, run.handoffs = {}, {}, None
        run.waiting.clear()
    if event.attempt == run.attempt and (run.last_ts is None or event.ts >= run.last_ts):
        run.last_ts, run.last_seq, run.last_event = event.ts, event.seq, event.event_id
    if isinstance(event, ExecutionSubmitted | ExecutionStarted):
        run.workflow = event.payload.workflow
    if isinstance(event, ExecutionSubmitted):
        pass  # queued until a worker starts it
    elif isinstance(event, ExecutionStarted | ExecutionResumed | ExecutionRolledBack):
        run.status = "running"
    elif isinstance(event, ExecutionPaused):
        run.status = "paused"
    elif isinstance(event, HumanInputRequested):
        run.status = "waiting"
        run.waiting[event.payload.request_id] = Wait(
            since=event.ts, event_id=event.event_id, seq=event.seq
        )
    elif isinstance(event, HumanInputReceived):
        run.waiting.pop(event.payload.request_id, None)
        run.status = "running" if not run.waiting else run.status
    elif isinstance(event, _ENDS):
        run.status = "finished"
        run.waiting.clear()
        run.calls, run.call_ids, run.handoffs = {}, {}, None
    elif run.status == "queued":  # an SDK recording without execution.started
        run.status = "running"
    if event.attempt != run.attempt:
        return
    if isinstance(event, ToolCall | LLMCall):
        key = kinds.call_key(event)
        run.calls[key] = run.calls.get(key, 0) + 1
        kinds.keep_ids(run.call_ids.setdefault(key, []), event.event_id)
    if isinstance(event, LLMCall):
        payload = event.payload
        cost = payload.cost_usd
        if cost is None and price is not None:
            cost = price(payload.model, payload.input_tokens, payload.output_tokens)
        run.cost_usd += cost or 0.0
    if isinstance(event, AgentHandoff):
        _handoff(run, event)


def _handoff(run: RunState, event: AgentHandoff) -> None:
    """Count handoffs that reverse the previous one between the same two agents."""
    src, dst = event.payload.from_agent, event.payload.to_agent
    pair = (min(src, dst), max(src, dst))
    exchange = run.handoffs
    if exchange is not None and exchange.pair == pair and exchange.last_to == src:
        exchange.count += 1
        exchange.last_to = dst
        kinds.keep_ids(exchange.event_ids, event.event_id)
    else:
        episode = exchange.episode + 1 if exchange is not None else 1
        run.handoffs = Handoffs(
            pair=pair, last_to=dst, count=1, episode=episode, event_ids=[event.event_id]
        )


def _remember_duration(
    rules: Sequence[AnyRule], state: AlertState, run: RunState, event: StepCompleted
) -> None:
    keep = max((r.runs for r in rules if isinstance(r, StepLatencyRule) and r.factor), default=0)
    if keep:
        history = state.durations.setdefault(kinds.duration_key(run, event.payload.step), [])
        history.append(event.payload.duration_ms)
        del history[:-keep]
