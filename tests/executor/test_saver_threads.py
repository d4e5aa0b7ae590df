"""LangGraph threads recorded by ``OmiumSaver`` outside the executor, on every log: what
``executions show`` says of them, and steering refused (no worker runs them)."""

from __future__ import annotations

import uuid
from typing import Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from omium.adapters.langgraph import OmiumSaver
from omium.processors import history
from omium.processors.history import current
from omium.producers import EventLog
from omium.schemas import ConfigError
from omium.schemas.errors import EXIT_USAGE
from omium.schemas.topics import COMMANDS
from omium.services import runs as service


class Review(TypedDict, total=False):
    draft: str
    approved: bool


def review_graph(saver: OmiumSaver) -> Any:
    """write -> review (waits for a person's answer) -> publish."""

    def write(state: Review) -> Review:
        return {"draft": f"about {state['draft']}"}

    def review(state: Review) -> Review:
        return {"approved": interrupt({"question": "publish?"}) == "yes"}

    def publish(state: Review) -> Review:
        return {}

    builder = StateGraph(Review)
    for name, node in (("write", write), ("review", review), ("publish", publish)):
        builder.add_node(name, node)
    builder.add_edge(START, "write")
    builder.add_edge("write", "review")
    builder.add_edge("review", "publish")
    builder.add_edge("publish", END)
    return builder.compile(checkpointer=saver)


async def test_saver_thread__waits_then_idles_with_its_supersteps_as_steps(log: EventLog) -> None:
    thread = f"th-{uuid.uuid4().hex[:8]}"
    config: Any = {"configurable": {"thread_id": thread}, "metadata": {"graph_id": "review"}}
    async with OmiumSaver(log) as saver:
        graph = review_graph(saver)
        await graph.ainvoke({"draft": "logs"}, config)
        view = await current(log, thread)
        assert (view.status, view.workflow, view.finished) == ("waiting", "review", False)
        assert [(s.name, s.status) for s in view.steps] == [
            ("__start__", "completed"),
            ("write", "completed"),
            ("review", "waiting"),
        ]
        await graph.ainvoke(Command(resume="yes"), config)
    view = await current(log, thread)
    assert view.status == "idle" and view.saver is not None
    newest = [e for e in await log.read_execution(thread) if e.event().type == "checkpoint.created"]
    assert view.saver.last_checkpoint_at == newest[-1].event().ts
    assert [(s.name, s.status) for s in view.steps] == [
        ("__start__", "completed"),
        ("write", "completed"),
        ("review", "completed"),
        ("publish", "completed"),
    ]


async def test_saver_thread__steering_is_refused_in_one_line(log: EventLog) -> None:
    thread = f"th-{uuid.uuid4().hex[:8]}"
    async with OmiumSaver(log) as saver:
        await review_graph(saver).ainvoke(
            {"draft": "logs"}, {"configurable": {"thread_id": thread}}
        )
    view = await current(log, thread)
    expected = (
        f"{thread} is a LangGraph thread recorded by OmiumSaver, not an omium run; "
        "it has no worker to steer"
    )
    for kind, payload in (("pause", {}), ("cancel", {}), ("resume", {"input": "yes"})):
        with pytest.raises(ConfigError) as caught:
            await service.command(log, thread, kind, **payload)
        assert str(caught.value) == expected and caught.value.exit_code == EXIT_USAGE
    checkpoint = view.checkpoints[-1].checkpoint_id
    with pytest.raises(ConfigError) as caught:
        await history.rollback(log, thread, checkpoint, {})
    assert str(caught.value) == expected
    assert await log.read_execution(thread, topic=COMMANDS.name) == []  # nothing was asked
