"""Properties of the alert engine: once per condition under redelivery and restarts."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from alert_script import Script
from hypothesis import given
from hypothesis import strategies as st

from omium.projections.alerts import Alert, AlertState, evaluate, tick
from omium.schemas import Event
from omium.schemas.alert_rules import rules_from_data

RULES = rules_from_data(
    {
        "rules": [
            {"name": "failed", "kind": "execution_failed"},
            {"name": "loop", "kind": "loop", "count": 3},
            {"name": "pp", "kind": "handoff_ping_pong", "count": 2},
            {"name": "budget", "kind": "cost_budget", "budget_usd": 1.0},
            {"name": "burn", "kind": "cost_burn", "usd_per_hour": 20, "window": "10m"},
            {"name": "stuck", "kind": "stuck", "after": "30s"},
            {"name": "slow", "kind": "step_latency", "threshold": "20s"},
            {"name": "rate", "kind": "failure_rate", "threshold": 0.4, "min_runs": 2},
        ]
    },
    "properties.yaml",
).rules

# one action of a scripted execution: (what, a small argument, seconds since the last event)
ACTION = st.tuples(
    st.sampled_from(["tool", "llm", "handoff", "step"]),
    st.integers(0, 2),
    st.sampled_from([0.5, 1.0, 25.0, 40.0]),
)
RUN = st.tuples(st.lists(ACTION, max_size=12), st.booleans())


def scenario(runs: list[tuple[list[tuple[str, int, float]], bool]]) -> list[Event]:
    """Executions one after the other, each started, acting, then failed or completed."""
    events: list[Event] = []
    for i, (actions, fails) in enumerate(runs):
        s = Script(f"ex-{i}")
        if events:
            s.at = events[-1].ts
        events += s.start()
        for what, arg, after in actions:
            if what == "tool":
                events.append(s.tool("search", after, q=arg))
            elif what == "llm":
                events.append(s.llm(0.3 * arg, after, prompt=arg))
            elif what == "handoff":
                pair = ("a", "b") if arg else ("b", "a")
                events.append(s.handoff(*pair, after=after))
            else:
                events.append(s.step(f"s{arg}", after))
        events.append(s.fail() if fails else s.complete())
    return events


def evaluate_all(events: list[Event], state: AlertState | None = None) -> list[Alert]:
    state = state if state is not None else AlertState()
    out: list[Alert] = []
    for event in events:
        out += evaluate(RULES, state, event)
        out += tick(RULES, state, event.ts + timedelta(seconds=5))
    return out


def keys(alerts: list[Alert]) -> Counter[tuple[str, str]]:
    return Counter((a.action, a.alert_id) for a in alerts)


@given(st.lists(RUN, min_size=1, max_size=4))
def test_every_alert__is_raised_once(runs: list[tuple[list[tuple[str, int, float]], bool]]) -> None:
    alerts = evaluate_all(scenario(runs))
    assert all(n == 1 for n in keys(alerts).values())


@given(st.lists(RUN, min_size=1, max_size=4), st.data())
def test_redelivered_events__raise_nothing_more(
    runs: list[tuple[list[tuple[str, int, float]], bool]], data: st.DataObject
) -> None:
    events = scenario(runs)
    delivered = list(events)
    for _ in range(data.draw(st.integers(0, 5))):  # an event again, somewhere after itself
        again = events[data.draw(st.integers(0, len(events) - 1))]
        first = delivered.index(again)  # a log never delivers an event before its first time
        delivered.insert(data.draw(st.integers(first + 1, len(delivered))), again)
    assert keys(evaluate_all(delivered)) == keys(evaluate_all(events))


@given(st.lists(RUN, min_size=1, max_size=4), st.data())
def test_a_restart_from_a_stored_state__raises_the_same_ids(
    runs: list[tuple[list[tuple[str, int, float]], bool]], data: st.DataObject
) -> None:
    events = scenario(runs)
    committed = data.draw(st.integers(0, len(events)))
    crashed = data.draw(st.integers(committed, len(events)))
    state = AlertState()
    before = evaluate_all(events[:committed], state)
    stored = state.dump()
    lost = evaluate_all(events[committed:crashed], state)  # done, then the process died
    again = evaluate_all(events[committed:], AlertState.load(stored))
    clean = evaluate_all(events)
    assert keys(before + again) == keys(clean)
    assert set(keys(lost)) <= set(keys(again))  # what was raised before the crash, again
