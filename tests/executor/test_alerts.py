"""The alert processor on every log: runs and scripted agents raise each alert once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from harness import Harness, spec

from omium.processors.alerts import AlertEvaluator, AlertStore
from omium.producers import EventLog, Position, Recorder
from omium.schemas import AlertRaised, Event
from omium.schemas.alert_rules import Rule, rules_from_data
from omium.schemas.topics import ALERTS
from omium.services import alerts as service


def rules(*specs: dict[str, Any]) -> list[Rule]:
    return rules_from_data({"rules": list(specs)}, "test.yaml").rules


class Clock:
    """The evaluator's wall clock, moved by the test (milliseconds)."""

    def __init__(self) -> None:
        self.ms = int(datetime.now().timestamp() * 1000)

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


async def alert_events(log: EventLog) -> list[AlertRaised]:
    found = []
    for partition in range(await log.partitions(ALERTS.name)):
        for record in await log.read(ALERTS.name, partition):
            event = record.event()
            if isinstance(event, AlertRaised):
                found.append(event)
    return found


async def raised_ids(log: EventLog) -> Counter[str]:
    return Counter(e.payload.alert_id for e in await alert_events(log))


async def test_a_looping_agent_and_a_failing_run__raise_one_alert_each(harness: Harness) -> None:
    active = rules(
        {"name": "loop", "kind": "loop", "count": 3},
        {"name": "failed", "kind": "execution_failed"},
    )
    await harness.start_worker()
    looping = await harness.submit(spec({"name": "agent", "call": "alert_steps:loop_on_search"}))
    close = await harness.submit(spec({"name": "agent", "call": "alert_steps:search_around"}))
    failing = await harness.submit(spec("add", "boom"))
    for execution_id in (looping, close, failing):
        await harness.finished(execution_id)
    evaluator = AlertEvaluator(harness.log, AlertStore(":memory:"), active)
    await evaluator.catch_up()
    ids = await raised_ids(harness.log)
    assert list(ids.values()) == [1, 1] and f"failed/{failing}/1/execution.failed" in ids
    rows = await service.alerts(harness.log)
    assert sorted((r.rule, r.execution_id) for r in rows) == sorted(
        [("loop", looping), ("failed", failing)]
    )
    assert await evaluator.catch_up() == 0 and evaluator.appended == 2
    mine = await service.of_execution(harness.log, failing)  # what `executions show` lists
    assert [(r.rule, r.kind) for r in mine] == [("failed", "execution_failed")]
    assert await service.of_execution(harness.log, failing, tenant_id="another") == []
    assert await service.of_execution(harness.log, close) == []


async def scripted(log: EventLog) -> dict[str, str]:
    """One execution per rule kind that must fire, and its close call that must not."""
    made: dict[str, str] = {}

    async def run(name: str, workflow: str = "flow") -> Recorder:
        rec = Recorder(log, f"ex-{name}")
        await rec.emit("execution.submitted", workflow=workflow)
        await rec.emit("execution.started", workflow=workflow)
        made[name] = rec.execution_id
        return rec

    rec = await run("handoffs")
    for src, dst in [("a", "b"), ("b", "a")] * 2:
        await rec.emit("agent.handoff", from_agent=src, to_agent=dst)
    rec = await run("round")  # three agents in a round: no ping-pong
    for src, dst in [("a", "b"), ("b", "c"), ("c", "a")] * 2:
        await rec.emit("agent.handoff", from_agent=src, to_agent=dst)
    for name, costs in (("spender", [0.6, 0.6]), ("thrifty", [0.4, 0.4])):
        rec = await run(name)
        for i, cost in enumerate(costs):
            await rec.emit("llm.call", model="gpt-x", cost_usd=cost, request={"i": i})
    for name, ms in (("slow", 2500.0), ("brisk", 1500.0)):
        rec = await run(name)
        await rec.emit("step.completed", step="fetch", index=0, duration_ms=ms)
    rec = await run("asks")
    await rec.emit("human.input_requested", request_id="r1", prompt="approve?")
    rec = await run("answered")
    await rec.emit("human.input_requested", request_id="r1", prompt="approve?")
    await rec.emit("human.input_received", request_id="r1", value=True)
    made["idle"] = (await run("idle")).execution_id  # stuck: nothing after it started
    for i in range(4):  # failure_rate: 3 of 4 runs of "shaky" fail
        rec = await run(f"shaky{i}", workflow="shaky")
        if i:
            await rec.emit("execution.failed", error={"type": "E", "message": "no"})
        else:
            await rec.emit("execution.completed")
    return made


SCRIPTED_RULES = [
    {"name": "pp", "kind": "handoff_ping_pong", "count": 2},
    {"name": "budget", "kind": "cost_budget", "budget_usd": 1.0},
    {"name": "burn", "kind": "cost_burn", "usd_per_hour": 1000, "window": "1h"},
    {"name": "slow", "kind": "step_latency", "threshold": "2s"},
    {"name": "wait", "kind": "waiting_too_long", "after": "1m"},
    {"name": "stuck", "kind": "stuck", "after": "2m", "workflow": "flow"},
    {"name": "rate", "kind": "failure_rate", "threshold": 0.5, "min_runs": 4},
]


async def test_every_kind__fires_once_on_its_script_and_never_on_the_close_call(
    log: EventLog,
) -> None:
    made = await scripted(log)
    clock = Clock()
    evaluator = AlertEvaluator(log, AlertStore(":memory:"), rules(*SCRIPTED_RULES), clock=clock)
    await evaluator.catch_up()
    assert {e.payload.rule: e.execution_id for e in await alert_events(log)} == {
        "pp": made["handoffs"],
        "budget": made["spender"],
        "slow": made["slow"],
        "rate": "workflow:shaky",
    }
    clock.advance(90)  # no event arrives: the waiting timer fires, stuck not yet
    await evaluator.catch_up()
    waited = [e for e in await alert_events(log) if e.payload.rule == "wait"]
    assert [e.execution_id for e in waited] == [made["asks"]]
    clock.advance(60)  # every run of workflow "flow" still open is stuck now
    await evaluator.catch_up()
    stuck = sorted(e.execution_id for e in await alert_events(log) if e.payload.rule == "stuck")
    open_runs = ("handoffs", "round", "spender", "thrifty", "slow", "brisk", "idle", "answered")
    assert stuck == sorted(made[n] for n in open_runs)  # waiting ("asks") is not stuck
    clock.advance(600)
    await evaluator.catch_up()
    assert all(n == 1 for n in (await raised_ids(log)).values())


class CrashAfterAppend:
    """A log whose alert append is stored, and then the process 'dies' before it hears so."""

    def __init__(self, log: EventLog) -> None:
        self.log = log

    def __getattr__(self, name: str) -> Any:
        return getattr(self.log, name)

    async def append_batch(self, events: Sequence[Event], **kw: Any) -> list[Position]:
        await self.log.append_batch(events, **kw)
        raise ConnectionResetError("killed after the append, before marking it")


async def test_a_restarted_evaluator__raises_nothing_twice(log: EventLog) -> None:
    active = rules({"name": "loop", "kind": "loop", "count": 2})
    store = AlertStore(":memory:")
    rec = Recorder(log, "ex-restart")
    for _ in range(2):
        await rec.emit("tool.call", tool="t", arguments={"x": 1})
    dying = AlertEvaluator(CrashAfterAppend(log), store, active)  # type: ignore[arg-type]
    try:
        await dying.catch_up()
    except ConnectionResetError:
        pass
    for _ in range(2):  # more of the same, and another loop, after the restart
        await rec.emit("tool.call", tool="t", arguments={"x": 2})
    again = AlertEvaluator(log, store, active)
    await again.catch_up()
    assert list((await raised_ids(log)).values()) == [1, 1]
    assert again.appended == 1
    third = AlertEvaluator(log, store, active)  # and a state rolled back changes nothing
    await third.catch_up()
    assert list((await raised_ids(log)).values()) == [1, 1]


async def test_stuck__fires_within_t_plus_2_s_with_no_other_event(log: EventLog) -> None:
    active = rules({"name": "stuck", "kind": "stuck", "after": "1s"})
    evaluator = AlertEvaluator(log, AlertStore(":memory:"), active)
    stop = asyncio.Event()
    running = asyncio.create_task(evaluator.run(stop, interval=0.1))
    try:
        rec = Recorder(log, "ex-idle")
        before = time.monotonic()  # the event's ts is taken after this
        await rec.emit("execution.started", workflow="w")
        appended = time.monotonic()
        while not await alert_events(log):
            assert time.monotonic() - appended < 1 + 2, "no stuck alert within T + 2 s"
            await asyncio.sleep(0.05)
        since_event = time.monotonic() - before
    finally:
        stop.set()
        await running
    assert since_event >= 0.95  # not before T either (the wall clock's grain aside)
    assert [e.execution_id for e in await alert_events(log)] == ["ex-idle"]
