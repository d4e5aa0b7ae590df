"""Time travel with real graphs on every log: history, replay, forks as omium attempts, interrupts.

Each scenario ends by reading the thread back through a *fresh* saver (its index folded
from the log alone) and by folding the events with omium's own projection.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from graphs import abc, config, events_of, nested, reviewed, view_of
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from omium.adapters.langgraph import OmiumSaver
from omium.producers import EventLog
from omium.schemas import CheckpointCreated, ExecutionRolledBack


def thread() -> str:
    return f"lg-{uuid.uuid4().hex[:10]}"


async def history(graph: Any, thread_id: str) -> list[Any]:
    return [snapshot async for snapshot in graph.aget_state_history(config(thread_id))]


async def test_history__lists_every_checkpoint_newest_first(log: EventLog) -> None:
    tid = thread()
    async with OmiumSaver(log) as saver:
        graph = abc(saver)
        assert await graph.ainvoke({"trail": []}, config(tid)) == {"trail": ["a", "b", "c"]}
        snapshots = await history(graph, tid)
    assert [s.next for s in snapshots] == [(), ("c",), ("b",), ("a",), ("__start__",)]
    assert [s.values["trail"] for s in snapshots[:3]] == [["a", "b", "c"], ["a", "b"], ["a"]]
    ids = [s.config["configurable"]["checkpoint_id"] for s in snapshots]
    assert ids == sorted(ids, reverse=True)
    # a fresh saver folds the same history from the log alone
    async with OmiumSaver(log) as again:
        assert [s.config for s in await history(abc(again), tid)] == [s.config for s in snapshots]
    # and omium's projection lists the same checkpoints, with readable state
    view = await view_of(log, tid)
    assert [c.checkpoint_id for c in view.checkpoints] == ids[::-1]
    assert view.checkpoints[-1].state == {"trail": ["a", "b", "c"]}
    assert all(c.position is not None for c in view.checkpoints)


async def test_replay__from_a_checkpoint_id_opens_a_new_attempt(log: EventLog) -> None:
    tid = thread()
    async with OmiumSaver(log) as saver:
        graph = abc(saver)
        await graph.ainvoke({"trail": []}, config(tid))
        after_a = next(s for s in await history(graph, tid) if s.next == ("b",))
        replayed = await graph.ainvoke(None, after_a.config)
        assert replayed == {"trail": ["a", "b", "c"]}
        newest = await graph.aget_state(config(tid))
        assert newest.parent_config is not None
    events = await events_of(log, tid)
    [branch] = [e for e in events if isinstance(e, ExecutionRolledBack)]
    origin = next(
        e
        for e in events
        if isinstance(e, CheckpointCreated)
        and e.payload.checkpoint_id == after_a.config["configurable"]["checkpoint_id"]
    )
    assert (branch.attempt, branch.seq) == (2, 1)
    assert branch.payload.from_attempt == 1
    assert branch.payload.checkpoint_id == origin.payload.checkpoint_id
    assert branch.payload.branch_seq == origin.seq
    assert branch.payload.state == {"trail": ["a"]}
    after = events[events.index(branch) + 1 :]
    assert after and all(e.attempt == 2 for e in after)
    view = await view_of(log, tid)
    assert view.attempt == 2
    assert view.branch() is not None and view.branch().checkpoint_id == origin.payload.checkpoint_id  # type: ignore[union-attr]


async def test_update_state__on_an_old_checkpoint_forks_into_a_new_attempt(log: EventLog) -> None:
    tid = thread()
    async with OmiumSaver(log) as saver:
        graph = abc(saver)
        await graph.ainvoke({"trail": []}, config(tid))
        after_b = next(s for s in await history(graph, tid) if s.next == ("c",))
        forked = await graph.aupdate_state(after_b.config, {"trail": ["edited"]}, as_node="b")
        assert await graph.ainvoke(None, forked) == {"trail": ["a", "b", "edited", "c"]}
        # the original branch is still there
        old_tip = await graph.aget_state(after_b.config)
        assert old_tip.values == {"trail": ["a", "b"]}
    view = await view_of(log, tid)
    assert view.attempt == 2
    [branch] = view.branches
    assert branch.from_attempt == 1
    assert branch.checkpoint_id == after_b.config["configurable"]["checkpoint_id"]
    assert branch.overrides == {"trail": ["a", "b", "edited"]}
    assert view.state == {"trail": ["a", "b", "edited", "c"]}  # the newest checkpoint
    fork_id = forked["configurable"]["checkpoint_id"]
    assert view.checkpoint(fork_id) is not None and view.checkpoint(fork_id).attempt == 2  # type: ignore[union-attr]
    async with OmiumSaver(log) as again:
        newest = await abc(again).aget_state(config(tid))
        assert newest.values == {"trail": ["a", "b", "edited", "c"]}
        assert len(await history(abc(again), tid)) == 5 + 2


async def test_interrupt__waits_for_a_human_and_resumes_from_a_fresh_saver(log: EventLog) -> None:
    tid = thread()
    async with OmiumSaver(log) as saver:
        graph = reviewed(saver)
        result = await graph.ainvoke({"draft": "otters"}, config(tid))
        [pending] = result["__interrupt__"]
        assert pending.value == {"question": "publish this?", "draft": "about otters"}
        waiting = await graph.aget_state(config(tid))
        assert waiting.next == ("review",)
    # the interrupt is a pending write on the log: another process can answer it
    async with OmiumSaver(log) as other:
        graph = reviewed(other)
        assert (await graph.aget_state(config(tid))).next == ("review",)
        done = await graph.ainvoke(Command(resume="yes"), config(tid))
    assert done == {"draft": "about otters", "approved": True, "published": "about otters"}
    view = await view_of(log, tid)
    assert view.attempt == 1  # answering an interrupt continues the newest checkpoint
    assert view.checkpoints[-1].state == done


@pytest.mark.parametrize("kind", ["sqlite-file", "kafka"])
def test_sync_invoke__through_from_url(kind: str, log_url: Callable[[str], str]) -> None:
    tid = thread()
    url = log_url(kind)
    with OmiumSaver.from_url(url) as saver:
        graph = reviewed(saver)
        graph.invoke({"draft": "owls"}, config(tid))
        done = graph.invoke(Command(resume="no"), config(tid))
        assert done["approved"] is False
        steps = [s.metadata["step"] for s in graph.get_state_history(config(tid))]
        assert steps == sorted(steps, reverse=True)
    with OmiumSaver.from_url(url) as again:
        assert reviewed(again).get_state(config(tid)).values == done


async def test_sync_invoke__from_a_worker_thread_of_the_logs_loop(log: EventLog) -> None:
    tid = thread()
    async with OmiumSaver(log) as saver:
        graph = abc(saver)
        out = await asyncio.to_thread(graph.invoke, {"trail": []}, config(tid))
        assert out == {"trail": ["a", "b", "c"]}
        assert (await graph.aget_state(config(tid))).values == out


async def test_subgraph_interrupt__behaves_as_with_langgraphs_in_memory_saver(
    log: EventLog,
) -> None:
    async def scenario(saver: Any, tid: str) -> list[Any]:
        graph = nested(saver)
        seen: list[Any] = [await graph.ainvoke({"trail": []}, config(tid))]
        state = await graph.aget_state(config(tid), subgraphs=True)
        seen.append((state.next, [t.state.next for t in state.tasks if t.state]))
        seen.append(await graph.ainvoke(Command(resume="yes"), config(tid)))
        snapshots = [s async for s in graph.aget_state_history(config(tid))]
        seen.append(
            [(s.values, s.next, s.metadata["source"], s.metadata["step"]) for s in snapshots]
        )
        return seen

    expected = await scenario(InMemorySaver(), "reference")
    for item in (expected[0], expected[2]):  # interrupt ids are random
        item.pop("__interrupt__", None)
    tid = thread()
    async with OmiumSaver(log) as saver:
        got = await scenario(saver, tid)
        got[0].pop("__interrupt__", None)
        assert got == expected
        namespaces = {
            t.config["configurable"]["checkpoint_ns"] async for t in saver.alist(config(tid))
        }
        assert "" in namespaces and any(ns.startswith("sub:") for ns in namespaces)
