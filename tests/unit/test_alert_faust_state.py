"""The faust alert agents' pure parts: markers, table values, and the split evaluation.

The Kafka runtime evaluates the rules about one execution with that execution's state
alone, and the rules over many executions on forwarded events per tenant. Whatever the
interleaving, that must raise exactly the alerts the whole evaluation raises.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from alert_script import T0, Script

from omium.processors.alerts import DEFAULT_RULES, load_rules, spans_executions
from omium.processors.alerts.faust_state import (
    KEEP_SEEN,
    Entries,
    Markers,
    SkippedRecords,
    TenantState,
    evaluate_forwarded,
    evaluate_run,
    forward_record,
    forwards,
    read_forward,
)
from omium.projections.alerts import AlertState, RunState, evaluate, tick
from omium.schemas import Event, encode


@dataclass
class Message:
    partition: int
    offset: int


@dataclass
class Record:
    message: Message


class Table:
    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}


def records(*at: tuple[int, int]) -> list[Record]:
    return [Record(Message(p, o)) for p, o in at]


def test_markers__skip_what_was_evaluated_and_refuse_a_hole() -> None:
    table = Table()
    markers = Markers(table)
    batch = records((0, 5), (1, 0), (0, 6))
    assert markers.fresh(batch) == batch  # nothing known yet: all of it
    table.data.update({b"__omium_alerts_next__:0": b"6", b"__omium_alerts_next__:1": b"1"})
    assert markers.fresh(records((0, 5), (0, 6), (1, 0), (1, 1))) == records((0, 6), (1, 1))
    with pytest.raises(SkippedRecords, match="partition 0: got offset 8, not 6"):
        markers.fresh(records((0, 8)))
    assert Markers.after(records((0, 6), (1, 1), (0, 7))) == {0: 8, 1: 2}


def test_entries__round_trip_and_decode_once() -> None:
    entries: Entries[RunState] = Entries(RunState, size=2)
    run = RunState(tenant="t", workflow="w", status="running")
    stored = entries.encode(b"ex-1", 7, run)
    assert stored.startswith(b"7|")
    assert entries.get(b"ex-1", stored) == (7, run) and entries.get(b"ex-1", stored)[1] is run
    other = Entries(RunState).get(b"ex-1", bytes(stored))  # bytes from a recovery
    assert other[0] == 7 and other[1] == run and other[1] is not run


def test_tenant_state__remembers_applied_ids_bounded_and_stored() -> None:
    state = TenantState()
    assert state.note("a") and not state.note("a")
    for i in range(KEEP_SEEN + 5):
        state.note(str(i))
    assert len(state.seen) == KEEP_SEEN and state.note("a")  # "a" was forgotten
    again = TenantState.model_validate_json(state.model_dump_json())
    assert not again.note(str(KEEP_SEEN + 4))


def test_forward_record__round_trip() -> None:
    raw = encode(Script("ex").tool(q=1))
    run = RunState(workflow="w", attempt=2)
    assert read_forward(forward_record(run, raw)) == ("w", 2, raw)
    assert read_forward(forward_record(RunState(), raw)) == (None, 1, raw)


def scenario(rng: random.Random) -> list[Event]:
    """Interleaved executions of every kind the default rules watch, some of two tenants."""
    scripts = [
        Script(f"ex-{i}", workflow=rng.choice(["a", "b"]), tenant=rng.choice(["t1", "t2"]))
        for i in range(12)
    ]
    streams: list[list[Event]] = []
    for s in scripts:
        events = s.start()
        for _ in range(rng.randint(2, 8)):
            pick = rng.random()
            if pick < 0.3:
                events.append(s.tool(q=rng.randint(0, 1)))
            elif pick < 0.55:
                events.append(s.llm(rng.choice([0.5, 3.0, 20.0]), q=rng.randint(0, 1)))
            elif pick < 0.8:
                events.append(s.step("s", rng.choice([0.1, 0.1, 0.1, 2.0])))
            else:
                events.append(s.handoff(*rng.sample(["x", "y"], 2)))
        events.append(s.fail() if rng.random() < 0.6 else s.complete())
        streams.append(events)
    merged: list[Event] = []
    while any(streams):
        stream = rng.choice([s for s in streams if s])
        merged.append(stream.pop(0))
    return merged


@pytest.mark.parametrize("seed", range(25))
def test_split_evaluation__raises_what_the_whole_evaluation_raises(seed: int) -> None:
    rules = load_rules(DEFAULT_RULES).rules
    # smaller numbers than the defaults, so the windows' rules do fire in a short scenario
    tweak: dict[str, Any] = {
        "tenant-burn": {"usd_per_hour": 20.0},
        "workflow-failure-rate": {"min_runs": 3},
    }
    rules = [r.model_copy(update=tweak.get(r.name, {})) for r in rules]
    events = scenario(random.Random(seed))
    whole = AlertState()
    expected = [a for e in events for a in evaluate(rules, whole, e, price=None)]
    per = [r for r in rules if not spans_executions(r)]
    across = [r for r in rules if spans_executions(r)]
    runs: dict[str, RunState] = {}
    tenants: dict[str, TenantState] = {}
    scratch = AlertState()
    got = []
    for event in events:  # one partition's order per execution is all Kafka keeps
        run, raised = evaluate_run(per, scratch, runs.get(event.execution_id), event, None)
        runs[event.execution_id] = run
        got += raised
        if isinstance(event, forwards(across)):
            state = tenants.setdefault(event.tenant_id, TenantState())
            got += evaluate_forwarded(across, state, run.workflow, run.attempt, event, None)
            # forwarded again (a batch evaluated again after a crash): nothing more
            assert evaluate_forwarded(across, state, run.workflow, run.attempt, event, None) == []
    assert sorted(a.alert_id for a in got) == sorted(a.alert_id for a in expected)
    assert len({a.rule for a in expected}) >= 3  # several kinds, across and per execution
    # the timers, later: stuck runs per execution, windows sliding per tenant
    later = T0 + timedelta(hours=3)
    ticked = tick(rules, whole, later)
    split = [a for eid, run in runs.items() for a in _tick_one(per, eid, run, later)]
    split += [a for state in tenants.values() for a in tick(across, state, later)]
    assert sorted(a.alert_id for a in split) == sorted(a.alert_id for a in ticked)


def _tick_one(rules: list[Any], eid: str, run: RunState, now: Any) -> list[Any]:
    scratch = AlertState()
    scratch.runs[eid] = run
    return tick(rules, scratch, now)
