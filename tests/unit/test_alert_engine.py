"""The alert rules as pure state machines: each kind fires once, a close call does not."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import pytest
from alert_script import T0, Script

from omium.projections.alerts import Alert, AlertState, evaluate, tick
from omium.schemas import AlertRaised, Event
from omium.schemas.alert_rules import Rule, rules_from_data


def rules(*specs: dict[str, Any]) -> list[Rule]:
    return rules_from_data({"rules": list(specs)}, "test.yaml").rules


def run(
    active: list[Rule], events: Iterable[Event], state: AlertState | None = None
) -> list[Alert]:
    state = state if state is not None else AlertState()
    out: list[Alert] = []
    for event in events:
        out += evaluate(active, state, event)
    return out


def raised(alerts: list[Alert]) -> list[str]:
    return [a.alert_id for a in alerts if a.action == "raised"]


def test_execution_failed__fires_once_per_failed_execution() -> None:
    rule = rules({"name": "f", "kind": "execution_failed"})
    bad, good = Script("ex-bad"), Script("ex-good")
    out = run(rule, [*bad.start(), bad.fail(), *good.start(), good.complete()])
    assert raised(out) == ["f/ex-bad/1/execution.failed"]
    assert isinstance(out[0].event(), AlertRaised)


def test_execution_failed__with_a_count_needs_that_many_in_the_window() -> None:
    rule = rules({"name": "f", "kind": "execution_failed", "count": 3, "window": "1m"})
    state, events = AlertState(), []
    for i in range(3):  # three failures, but the first falls out of the window
        s = Script(f"ex-{i}")
        s.at = T0 + timedelta(seconds=50 * i)
        events += [*s.start(), s.fail()]
    assert raised(run(rule, events, state)) == []
    s = Script("ex-3")
    s.at = T0 + timedelta(seconds=105)
    assert len(raised(run(rule, [*s.start(), s.fail()], state))) == 1


def test_step_latency__threshold_and_rolling_p95() -> None:
    fixed = rules({"name": "slow", "kind": "step_latency", "threshold": "2s"})
    s = Script("ex-1")
    assert raised(run(fixed, [*s.start(), s.step("a", 1.9), s.step("b", 2.5, 1)])) == [
        "slow/ex-1/1/step:b@4"
    ]
    relative = rules({"name": "p95", "kind": "step_latency", "factor": 3, "runs": 10})
    state, out = AlertState(), []
    for i in range(8):  # a baseline of ~1 s, then 2.9 s (under 3 x) and 3.5 s (over)
        r = Script(f"ex-{i}")
        out += run(relative, [*r.start(), r.step("fetch", 1.0 + i / 100)], state)
    near = Script("ex-near")  # on a copy: a slow run joins the p95 it is compared with
    assert (
        run(relative, [*near.start(), near.step("fetch", 2.9)], state.model_copy(deep=True)) == []
    )
    r = Script("ex-slow")
    out += run(relative, [*r.start(), r.step("fetch", 3.5)], state)
    assert raised(out) == ["p95/ex-slow/1/step:fetch@3"]


def test_cost_budget__fires_when_the_sum_crosses_it() -> None:
    rule = rules({"name": "budget", "kind": "cost_budget", "budget_usd": 1.0})
    s = Script("ex-1")
    out = run(rule, [*s.start(), s.llm(0.6, q=1), s.llm(0.4, q=2), s.llm(0.1, q=3), s.llm(5, q=4)])
    assert raised(out) == ["budget/ex-1/budget"]
    under = Script("ex-2")
    assert raised(run(rule, [*under.start(), under.llm(0.5), under.llm(0.5, q=2)])) == []


def test_cost_burn__a_tenant_over_its_hourly_rate_then_back_under() -> None:
    rule = rules({"name": "burn", "kind": "cost_burn", "usd_per_hour": 10, "window": "1h"})
    state = AlertState()
    a, b = Script("ex-a"), Script("ex-b")
    out = run(rule, [*a.start(), a.llm(6), *b.start(), b.llm(5, q=1), b.llm(1, q=2)], state)
    assert len(raised(out)) == 1 and out[0].execution_id == "tenant:default"
    later = tick(rule, state, b.at + timedelta(hours=2))
    assert [(x.action, x.alert_id) for x in later] == [("resolved", out[0].alert_id)]


def test_loop__the_same_call_n_times_fires_once_other_arguments_do_not() -> None:
    rule = rules({"name": "loop", "kind": "loop", "count": 3})
    s = Script("ex-1")
    started = s.start()
    calls = [s.tool("search", q="x") for _ in range(5)]
    out = run(rule, [*started, *calls])
    assert len(raised(out)) == 1 and out[0].triggered_by == tuple(c.event_id for c in calls[:3])
    t = Script("ex-2")
    assert raised(run(rule, [*t.start(), *(t.tool("search", q=str(i)) for i in range(5))])) == []


def test_handoff_ping_pong__more_than_n_back_and_forth() -> None:
    rule = rules({"name": "pp", "kind": "handoff_ping_pong", "count": 3})
    s = Script("ex-1")
    started = s.start()
    hops = [s.handoff(*p) for p in [("a", "b"), ("b", "a")] * 2]
    assert len(raised(run(rule, [*started, *hops]))) == 1
    t = Script("ex-2")  # a -> b -> c -> a: a round, no ping-pong
    rounds = [t.handoff(x, y) for x, y in [("a", "b"), ("b", "c"), ("c", "a")] * 3]
    assert raised(run(rule, [*t.start(), *rounds])) == []
    u = Script("ex-3")  # exactly n back-and-forths: not more than n
    assert (
        raised(
            run(
                rule,
                [
                    *u.start(),
                    *(u.handoff(*p) for p in [("a", "b"), ("b", "a")] * 1),
                    u.handoff("a", "b"),
                ],
            )
        )
        == []
    )


def test_stuck__a_timer_fires_with_no_event_and_the_next_event_resolves() -> None:
    rule = rules({"name": "stuck", "kind": "stuck", "after": "30s"})
    state, s = AlertState(), Script("ex-1")
    run(rule, [*s.start(), s.tool()], state)
    assert tick(rule, state, s.at + timedelta(seconds=29)) == []
    fired = tick(rule, state, s.at + timedelta(seconds=31))
    assert raised(fired) == ["stuck/ex-1/1/stuck@3"]
    assert tick(rule, state, s.at + timedelta(seconds=300)) == []  # once
    moved = run(rule, [s.tool(after=400)], state)
    assert [(a.action, a.alert_id) for a in moved] == [("resolved", "stuck/ex-1/1/stuck@3")]


def test_stuck__a_gap_seen_only_in_the_events_raises_and_resolves_once() -> None:
    rule = rules({"name": "stuck", "kind": "stuck", "after": "30s"})
    s = Script("ex-1")
    out = run(rule, [*s.start(), s.tool(), s.tool(after=45), s.complete()])
    assert [a.action for a in out] == ["raised", "resolved"]
    paused = Script("ex-2")  # a paused run is not stuck
    events = [*paused.start(), paused.event("execution.paused", 1), paused.complete(after=90)]
    assert run(rule, events) == []


def test_waiting_too_long__fires_on_a_timer_and_resolves_on_the_answer() -> None:
    rule = rules({"name": "wait", "kind": "waiting_too_long", "after": "5m"})
    state, s = AlertState(), Script("ex-1")
    started = s.start()
    ask = s.event("human.input_requested", request_id="r1", prompt="ok?")
    run(rule, [*started, ask], state)
    assert tick(rule, state, s.at + timedelta(minutes=4)) == []
    assert raised(tick(rule, state, s.at + timedelta(minutes=6))) == ["wait/ex-1/1/waiting:r1"]
    answer = s.event("human.input_received", 600, request_id="r1", value=True)
    assert [a.action for a in run(rule, [answer], state)] == ["resolved"]
    quick = Script("ex-2")
    events = [
        *quick.start(),
        quick.event("human.input_requested", request_id="r", prompt="?"),
        quick.event("human.input_received", 60, request_id="r"),
    ]
    assert run(rule, events) == []


def test_failure_rate__over_the_threshold_with_enough_runs() -> None:
    rule = rules(
        {"name": "rate", "kind": "failure_rate", "threshold": 0.5, "min_runs": 4, "window": "1h"}
    )
    state, out = AlertState(), []
    for i, fails in enumerate([True, False, True, False, True, True]):
        s = Script(f"ex-{i}")
        s.at = T0 + timedelta(minutes=i)
        out += run(rule, [*s.start(), s.fail() if fails else s.complete()], state)
    assert len(raised(out)) == 1 and out[0].execution_id == "workflow:flow"


def test_filters__a_rule_for_another_workflow_or_tenant_is_silent() -> None:
    other = rules(
        {"name": "f", "kind": "execution_failed", "workflow": "other"},
        {"name": "g", "kind": "execution_failed", "tenant": "acme"},
    )
    s = Script("ex-1")
    assert run(other, [*s.start(), s.fail()]) == []
    t = Script("ex-2", tenant="acme")
    assert raised(run(other, [*t.start(), t.fail()])) == ["g/ex-2/1/execution.failed"]


@pytest.mark.parametrize("kind", ["tool", "handoff"])
def test_a_rollback__starts_the_per_attempt_counts_again(kind: str) -> None:
    rule = rules({"name": "loop", "kind": "loop", "count": 3})
    s = Script("ex-1")
    events = [*s.start(), s.tool(q=1), s.tool(q=1)]
    s.attempt, s.seq = 2, 0
    events += [s.event("execution.rolled_back", from_attempt=1, checkpoint_id="c", branch_seq=2)]
    events += [s.tool(q=1), s.tool(q=1)]
    assert run(rule, events) == []


def test_waiting_too_long__a_rollback_ends_the_wait() -> None:
    rule = rules({"name": "wait", "kind": "waiting_too_long", "after": "5m"})
    state, s = AlertState(), Script("ex-1")
    run(rule, [*s.start(), s.event("human.input_requested", request_id="r1", prompt="?")], state)
    assert len(raised(tick(rule, state, s.at + timedelta(minutes=6)))) == 1
    s.attempt, s.seq = 2, 0
    back = s.event("execution.rolled_back", 400, from_attempt=1, checkpoint_id="c", branch_seq=2)
    assert [a.action for a in run(rule, [back], state)] == ["resolved"]
    assert tick(rule, state, s.at + timedelta(hours=2)) == []
