"""The recorder stamps execution, attempt, seq and causation, and serializes appends (every log)."""

from __future__ import annotations

import asyncio

import pytest

from omium.producers import EventLog, Recorder, emit, recording
from omium.schemas import InvalidEvent


async def test_recording__stamps_and_chains_events(log: EventLog) -> None:
    async with recording(log, "ex-1", attempt=2, tenant_id="acme") as rec:
        first = await emit("step.started", step="fetch", index=0)
        second = await emit("step.completed", step="fetch", index=0, output={"n": 1})
    assert [first.event.seq, second.event.seq] == [1, 2]
    assert second.event.causation_id == first.event.event_id
    assert first.event.causation_id is None
    assert {first.event.attempt, second.event.attempt} == {2}
    assert {first.event.tenant_id, second.event.tenant_id} == {"acme"}
    assert rec.last == second
    assert [r.event() for r in await log.read_execution("ex-1")] == [first.event, second.event]


async def test_recorder__resume_continues_after_the_last_seq_of_its_attempt(log: EventLog) -> None:
    rec = Recorder(log, "ex-1")
    for i in range(3):
        await rec.emit("step.started", step="s", index=i)
    await Recorder(log, "ex-1", attempt=2).emit("step.started", step="s", index=0)
    resumed = await Recorder.resume(log, "ex-1")
    assert (await resumed.emit("step.started", step="s", index=3)).event.seq == 4


async def test_recorder__concurrent_emits_keep_seq_in_log_order(log: EventLog) -> None:
    rec = Recorder(log, "ex-1")
    await asyncio.gather(*(rec.emit("step.started", step="s", index=i) for i in range(50)))
    seqs = [r.event().seq for r in await log.read_execution("ex-1")]
    assert seqs == list(range(1, 51))


async def test_emit__a_bad_payload_is_refused_and_nothing_is_recorded(log: EventLog) -> None:
    async with recording(log, "ex-1") as rec:
        with pytest.raises(InvalidEvent, match="payload.index: required field is missing"):
            await emit("step.started", step="fetch")
        with pytest.raises(InvalidEvent, match="unknown event type"):
            await emit("step.finished", step="fetch", index=0)
    assert rec.seq == 0
    assert await log.read_execution("ex-1") == []


async def test_emit__outside_a_recording_says_how_to_fix_it() -> None:
    with pytest.raises(RuntimeError, match="async with omium.producers.recording"):
        await emit("step.started", step="s", index=0)


async def test_step_decorator__records_steps_and_checkpoints(log: EventLog) -> None:
    import omium

    @omium.step
    def fetch(n: int) -> dict[str, int]:
        return {"rows": n}

    @omium.step
    async def total(extra: int) -> int:
        return extra * 2

    async with recording(log, "ex-1"):
        assert await fetch(3) == {"rows": 3}
        assert await total(5) == 10
    events = [r.event() for r in await log.read_execution("ex-1")]
    assert [e.type for e in events] == [
        "step.started",
        "step.completed",
        "checkpoint.created",
        "step.started",
        "step.completed",
        "checkpoint.created",
    ]
    assert events[1].payload.step == "fetch"  # type: ignore[attr-defined]
    assert events[5].payload.state == {"rows": 3, "result": 10}  # type: ignore[attr-defined]
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]


async def test_step_decorator__records_the_failure_and_reraises(log: EventLog) -> None:
    from omium.producers import step

    @step
    async def broken() -> None:
        raise KeyError("missing")

    async with recording(log, "ex-1"):
        with pytest.raises(KeyError):
            await broken()
    events = [r.event() for r in await log.read_execution("ex-1")]
    assert [e.type for e in events] == ["step.started", "step.failed"]
    assert events[1].payload.error.type == "KeyError"  # type: ignore[attr-defined]


async def test_step_decorator__outside_a_recording_just_runs() -> None:
    from omium.producers import step

    @step
    def plain(x: int) -> int:
        return x + 1

    assert await plain(1) == 2


async def test_step_decorator__a_resumed_recording_continues_numbering_and_state(
    log: EventLog,
) -> None:
    from omium.producers import step

    @step
    def fetch() -> dict[str, int]:
        return {"fetched": 1}

    @step
    def parse() -> dict[str, int]:
        return {"parsed": 2}

    async with recording(log, "ex-1"):
        await fetch()
    async with recording(log, "ex-1") as rec:  # e.g. the program restarted
        await parse()
    events = [r.event() for r in await log.read_execution("ex-1")]
    checkpoints = [e for e in events if e.type == "checkpoint.created"]
    assert [c.payload.checkpoint_id for c in checkpoints] == [  # type: ignore[attr-defined]
        "a1-0-fetch",
        "a1-1-parse",
    ]
    assert checkpoints[-1].payload.state == {"fetched": 1, "parsed": 2}  # type: ignore[attr-defined]
    assert [e.seq for e in events] == list(range(1, 7))
    assert events[3].causation_id == events[2].event_id
    assert rec.steps == 2
