"""OmiumSaver's edges: size limits, the wrong loop, readable state, sinks, tombstones, the cache."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from graphs import abc, config, events_of
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)
from langgraph.graph import END, START, StateGraph
from test_langgraph_conformance import RunnerSink

from omium.adapters.langgraph import (
    CheckpointTooLarge,
    OmiumSaver,
    SyncCallOnLogLoop,
    render,
)
from omium.adapters.langgraph.checkpoint_sink import LogSink
from omium.producers import EventLog, Position, Recorder, Settings, open_log
from omium.schemas import (
    CheckpointCreated,
    CheckpointThreadDeleted,
    Event,
    EventTooLarge,
    ExecutionRolledBack,
    decode,
    encode,
)


def thread() -> str:
    return f"lg-{uuid.uuid4().hex[:10]}"


async def put(
    saver: OmiumSaver, tid: str, parent: dict[str, Any] | None = None, **values: Any
) -> Any:
    cfg = generate_config(tid)
    if parent is not None:
        cfg["configurable"]["checkpoint_id"] = parent["configurable"]["checkpoint_id"]
    checkpoint = generate_checkpoint(channel_values=values, channel_versions={k: 1 for k in values})
    return await saver.aput(cfg, checkpoint, generate_metadata(), {k: 1 for k in values})


# -- large values ---------------------------------------------------------------------------


def small_log(kind: str, log_url: Callable[[str], str], limit: int) -> EventLog:
    return open_log(log_url(kind), Settings(max_event_bytes=limit))


@pytest.mark.parametrize("kind", ["sqlite-memory", "kafka"])
async def test_put__too_large_names_thread_channel_size_limit_and_fix(
    kind: str, log_url: Callable[[str], str]
) -> None:
    log = small_log(kind, log_url, 20_000)
    await log.create_topics()
    tid = thread()
    try:
        async with OmiumSaver(log) as saver:
            first = await put(saver, tid, small="ok")
            with pytest.raises(CheckpointTooLarge) as caught:
                await put(saver, tid, first, small="ok", blob="x" * 30_000)
            error = caught.value
            text = str(error)
            assert tid in text and "'blob'" in text and "20,000-byte limit" in text
            assert "OMIUM_MAX_EVENT_BYTES" in text and "reference" in text
            assert error.largest is not None and error.largest[0] == "blob"
            assert error.size > error.limit == 20_000 and isinstance(error, EventTooLarge)
            # nothing was recorded: the newest checkpoint is still the first one
            newest = await saver.aget_tuple(generate_config(tid))
            assert newest is not None and newest.config["configurable"] == first["configurable"]
            with pytest.raises(CheckpointTooLarge, match="writes of task t1"):
                await saver.aput_writes(first, [("big", "y" * 30_000)], "t1")
            assert (await saver.aget_tuple(first)).pending_writes == []  # type: ignore[union-attr]
        assert len(await events_of(log, tid)) == 1
    finally:
        await log.close()


def test_graph__too_large_state_stops_the_run_with_the_error(log_url: Callable[[str], str]) -> None:
    builder = StateGraph(dict)
    builder.add_node("bloat", lambda state: {"blob": "z" * 50_000})
    builder.add_edge(START, "bloat")
    builder.add_edge("bloat", END)
    url = log_url("sqlite-file")
    with OmiumSaver.from_url(url, settings=Settings(max_event_bytes=10_000)) as saver:
        graph = builder.compile(checkpointer=saver)
        with pytest.raises(CheckpointTooLarge, match="10,000-byte limit"):
            graph.invoke({"blob": ""}, config(thread()), durability="sync")


# -- the wrong loop -------------------------------------------------------------------------


async def test_sync_call_on_the_logs_loop__says_to_await_the_async_twin(log: EventLog) -> None:
    async with OmiumSaver(log) as saver:
        with pytest.raises(SyncCallOnLogLoop, match=r"await saver\.aget_tuple\(\.\.\.\)"):
            saver.get_tuple(generate_config(thread()))
        with pytest.raises(SyncCallOnLogLoop, match=r"await saver\.aput\("):
            saver.put(generate_config(thread()), generate_checkpoint(), generate_metadata(), {})
        with pytest.raises(SyncCallOnLogLoop, match="from_url"):
            abc(saver).invoke({"trail": []}, config(thread()))
        with pytest.raises(SyncCallOnLogLoop):
            list(saver.list(None))


async def test_from_url__serves_sync_and_async_callers(log_url: Callable[[str], str]) -> None:
    tid = thread()
    with OmiumSaver.from_url(log_url("sqlite-file")) as saver:
        graph = abc(saver)
        assert await graph.ainvoke({"trail": []}, config(tid)) == {"trail": ["a", "b", "c"]}
        # sync calls from the test's own loop are fine: the log runs on the saver's thread
        assert saver.get_tuple(generate_config(tid)) is not None
        assert len(list(saver.list(generate_config(tid)))) == 5


async def test_closed_saver__refuses_calls(log: EventLog) -> None:
    saver = OmiumSaver(log)
    await saver.aclose()
    await saver.aclose()
    with pytest.raises(Exception, match="closed"):
        await saver.aget_tuple(generate_config(thread()))


# -- readable state --------------------------------------------------------------------------


@dataclass
class Point:
    x: int
    y: int


class Opaque:
    def __repr__(self) -> str:
        return "<opaque thing>"


class Broken:
    def __repr__(self) -> str:
        raise RuntimeError("no repr either")


def test_render__gives_json_for_anything_and_never_raises() -> None:
    assert render({"a": (1, 2), "s": {3}, "f": math.nan, "p": Point(1, 2)}) == {
        "a": [1, 2],
        "s": [3],
        "f": "nan",
        "p": {"x": 1, "y": 2},
    }
    assert render(Opaque()) == {"__repr__": "<opaque thing>"}
    assert render(HumanMessage("hi"))["content"] == "hi"
    assert render(Broken())["__repr__"].startswith("<unrenderable Broken")


async def test_state__of_non_json_values_is_rendered_and_the_snapshot_restores_them(
    log: EventLog,
) -> None:
    tid = thread()
    values = {
        "msg": HumanMessage("hello"),
        "when": datetime(2026, 1, 2, tzinfo=UTC),
        "tags": {"b", "a"},
    }
    async with OmiumSaver(log) as saver:
        stored = await put(saver, tid, **values)
        restored = await saver.aget_tuple(stored)
    assert restored is not None and restored.checkpoint["channel_values"] == values
    [created] = await events_of(log, tid)
    assert isinstance(created, CheckpointCreated)
    assert created.payload.state["msg"]["content"] == "hello"  # type: ignore[index]
    assert created.payload.state["when"] == "2026-01-02T00:00:00+00:00"
    assert created.payload.state["tags"] == ["a", "b"]
    assert created.payload.ns == "" and created.payload.metadata["source"] == "loop"  # type: ignore[index]
    assert decode(encode(created)) == created


async def test_step_checkpoints_of_omiums_runner__are_not_langgraph_checkpoints(
    log: EventLog,
) -> None:
    tid = thread()
    recorder = Recorder(log, tid)
    await recorder.emit("checkpoint.created", checkpoint_id="a1-0-fetch", step="fetch", index=0)
    async with OmiumSaver(log) as saver:
        assert await saver.aget_tuple(generate_config(tid)) is None
        stored = await put(saver, tid, k="v")
    events = await events_of(log, tid)
    assert [(e.attempt, e.seq) for e in events] == [(1, 1), (1, 2)]  # continues the attempt
    assert stored["configurable"]["thread_id"] == tid


# -- sinks and forks ---------------------------------------------------------------------------


async def test_sink__stamps_the_events_and_forks_stay_its_business(log: EventLog) -> None:
    tid = thread()
    sink = RunnerSink(log)
    async with OmiumSaver(log, sink=sink) as saver:
        graph = abc(saver)
        await graph.ainvoke({"trail": []}, config(tid))
        after_a = [s async for s in graph.aget_state_history(config(tid))][2]
        await graph.ainvoke(None, after_a.config)
    events = await events_of(log, tid)
    assert not [e for e in events if isinstance(e, ExecutionRolledBack)]
    assert {e.attempt for e in events} == {1}
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert sink.calls == len(events)


class SlowLog:
    """An EventLog stand-in whose appends take a while (as a broker's do) and are counted."""

    max_event_bytes = 1_000

    def __init__(self) -> None:
        self.batches: list[list[bytes]] = []

    async def append_records(
        self, records: Sequence[tuple[str, str | None, bytes]]
    ) -> list[Position]:
        await asyncio.sleep(0.01)
        self.batches.append([value for _, _, value in records])
        return [Position("omium.events", 0, i) for i, _ in enumerate(records)]

    async def read_execution(self, execution_id: str) -> list[Any]:
        return []


async def test_log_sink__commits_concurrent_writes_together_and_refuses_one_alone() -> None:
    slow = SlowLog()
    sink = LogSink(slow)  # type: ignore[arg-type]

    def writes(size: int) -> list[tuple[str, dict[str, Any]]]:
        value = {"idx": 0, "channel": "c", "value": {"type": "str", "data": "x" * size}}
        payload = {
            "checkpoint_id": "c1",
            "ns": "",
            "task_id": "t",
            "task_path": "",
            "writes": [value],
        }
        return [("checkpoint.writes_saved", payload)]

    results = await asyncio.gather(
        *(sink.record(f"ex-{i % 3}", writes(10)) for i in range(9)),
        sink.record("ex-0", writes(2_000)),
        return_exceptions=True,
    )
    assert results[:9] == [None] * 9 and isinstance(results[9], EventTooLarge)
    assert [len(batch) for batch in slow.batches] == [9]  # one append for all nine
    await sink.record("ex-0", writes(10))
    seqs = [decode(v).seq for b in slow.batches for v in b if decode(v).execution_id == "ex-0"]
    assert seqs == [1, 2, 3, 4]  # the refused event took no seq


# -- tombstones and the cache ------------------------------------------------------------------


async def test_delete_thread__is_a_tombstone_that_a_fresh_saver_honours(log: EventLog) -> None:
    tid = thread()
    async with OmiumSaver(log) as saver:
        first = await put(saver, tid, k=1)
        await saver.aput_writes(first, [("k", 2)], "task")
        await saver.adelete_thread(tid)
        assert await saver.aget_tuple(generate_config(tid)) is None
        again = await put(saver, tid, k=3)
    async with OmiumSaver(log) as fresh:
        tuples = [t async for t in fresh.alist(generate_config(tid))]
        assert [t.config["configurable"]["checkpoint_id"] for t in tuples] == [
            again["configurable"]["checkpoint_id"]
        ]
    kinds = [type(e) for e in await events_of(log, tid)]
    assert kinds.count(CheckpointCreated) == 2 and kinds.count(CheckpointThreadDeleted) == 1


async def test_cache__evicts_idle_threads_and_reads_them_back(log: EventLog) -> None:
    tids = [thread() for _ in range(4)]
    async with OmiumSaver(log, max_threads=2) as saver:
        stored = [await put(saver, tid, who=tid) for tid in tids]
        for tid, cfg in zip(tids, stored, strict=True):
            found = await saver.aget_tuple(generate_config(tid))
            assert found is not None and found.config["configurable"] == cfg["configurable"]
            assert found.checkpoint["channel_values"] == {"who": tid}
        # an evicted thread continues its seq where the log says
        await put(saver, tids[0], stored[0], who="again")
    assert [e.seq for e in await events_of(log, tids[0])] == [1, 2]


async def test_log_sink__writes_exactly_the_codecs_bytes(log: EventLog) -> None:
    tid = thread()
    async with OmiumSaver(log) as saver:
        stored = await put(saver, tid, msg=HumanMessage("hé"), n=1.5, when=datetime.now(UTC))
        await saver.aput_writes(stored, [("n", 2), ("__error__", ValueError("x"))], "task", "~a")
    records = await log.read_execution(tid)
    assert len(records) == 2
    for record in records:
        event = decode(record.value)
        assert encode(event) == record.value  # orjson's bytes are the codec's bytes
    created = decode(records[0].value)
    assert isinstance(created, CheckpointCreated) and created.payload.state["n"] == 1.5
    assert (
        created.causation_id is None and decode(records[1].value).causation_id == created.event_id
    )


def test_from_url_embedded__many_threads_share_one_saver(log_url: Callable[[str], str]) -> None:
    url = log_url("sqlite-file")
    tids = [thread() for _ in range(8)]
    with OmiumSaver.from_url(url) as saver:
        graph = abc(saver)
        appends: list[int] = []
        append_records = saver.log.append_records

        async def counted(records: Sequence[tuple[str, str | None, bytes]]) -> list[Position]:
            appends.append(len(records))
            return await append_records(records)

        saver.log.append_records = counted  # type: ignore[method-assign]
        with ThreadPoolExecutor(8) as pool:
            outs = list(pool.map(lambda t: graph.invoke({"trail": []}, config(t)), tids))
        assert outs == [{"trail": ["a", "b", "c"]}] * 8
        assert sum(appends) == 8 * 9  # 5 checkpoints and 4 task writes per thread
    with OmiumSaver.from_url(url) as again:
        for tid in tids:
            assert abc(again).get_state(config(tid)).values == {"trail": ["a", "b", "c"]}
            events = [e for e in asyncio.run(_events(url, tid))]
            assert [e.seq for e in events] == list(range(1, 10))


async def _events(url: str, tid: str) -> list[Event]:
    log = open_log(url)
    try:
        return await events_of(log, tid)
    finally:
        await log.close()
