"""The worker's view of an unreachable log: backoff, reports, giving up (pure, own clock)."""

from __future__ import annotations

import asyncio

import pytest

from omium.processors.outage import FIRST_DELAY, MAX_DELAY, Freezes, Outage, WorkerGaveUp
from omium.schemas import LogUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_outage__reports_once_then_recovers() -> None:
    said: list[str] = []
    clock = Clock()
    outage = Outage(said.append, give_up_after=60, clock=clock)
    assert outage.state == "ok"
    outage.note(LogUnavailable("broker gone"))
    clock.now += 5
    outage.note(LogUnavailable("broker gone"))
    assert outage.state == "log unavailable for 5 s" and outage.outages == 1
    outage.recovered()
    assert outage.state == "ok"
    assert said == [
        "log unavailable: broker gone; retrying with backoff, giving up after 60 s",
        "log available again after 5.0 s",
    ]


def test_outage__gives_up_past_the_limit_saying_why() -> None:
    clock = Clock()
    outage = Outage(lambda _: None, give_up_after=8, clock=clock)
    outage.note(LogUnavailable("x"))
    clock.now += 8.5
    with pytest.raises(WorkerGaveUp, match="longer than the worker's limit of 8 s"):
        outage.note(LogUnavailable("x"))


async def test_outage__backoff_doubles_and_never_sleeps_past_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    outage = Outage(lambda _: None, give_up_after=8, clock=clock)
    stop = asyncio.Event()
    stop.set()  # the wait returns at once; the delay asked for is what we check
    delays: list[float] = []
    real_wait_for = asyncio.wait_for

    async def record(awaitable, timeout):  # type: ignore[no-untyped-def]
        delays.append(timeout)
        clock.now += timeout
        return await real_wait_for(awaitable, timeout)

    monkeypatch.setattr(asyncio, "wait_for", record)
    with pytest.raises(WorkerGaveUp):
        for _ in range(10):
            await outage.failed(LogUnavailable("x"), stop)
    assert delays[:4] == [FIRST_DELAY, 2 * FIRST_DELAY, 4 * FIRST_DELAY, 8 * FIRST_DELAY]
    assert all(d <= MAX_DELAY for d in delays)
    assert sum(delays) <= 8 + 0.02  # it gave up at the limit, not a backoff step later


def test_freezes__a_gap_past_the_limit_closes_the_gate_until_cleared() -> None:
    said: list[str] = []
    clock, ready = Clock(), asyncio.Event()
    ready.set()
    freezes = Freezes(ready, 2.0, said.append, clock=clock)
    for _ in range(30):  # ticking on time: never a suspect
        clock.now += Freezes.TICK
        freezes.tick()
    assert not freezes.frozen() and ready.is_set() and said == []
    clock.now += 2.5  # stopped (SIGSTOP): the first look after it, a tick or a step
    assert freezes.frozen()  # boundary, whichever runs first, sees the freeze
    assert not ready.is_set() and freezes.freezes == 1
    assert "stood still for 2.5 s" in said[0]
    freezes.tick()
    clock.now += Freezes.TICK
    freezes.tick()
    assert freezes.frozen() and len(said) == 1  # a suspect until the group confirms it
    freezes.cleared()
    assert not freezes.frozen() and "confirmed" in said[-1]
    assert not ready.is_set()  # reopening the gate is the worker's (the log may be down)


def test_freezes__a_late_tick_under_the_limit_is_no_freeze() -> None:
    clock, ready = Clock(), asyncio.Event()
    ready.set()
    freezes = Freezes(ready, 2.0, lambda message: None, clock=clock)
    clock.now += 1.9
    freezes.tick()
    assert not freezes.frozen() and ready.is_set() and freezes.freezes == 0
