"""Small real LangGraph graphs for the saver's tests."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from omium.producers import EventLog
from omium.projections import ExecutionView, fold
from omium.schemas import Event


class Trail(TypedDict):
    trail: Annotated[list[str], operator.add]


def _step(name: str) -> Any:
    def node(state: Trail) -> dict[str, list[str]]:
        return {"trail": [name]}

    return node


def abc(saver: BaseCheckpointSaver[Any]) -> Any:
    """START -> a -> b -> c -> END; each node appends its name to ``trail``."""
    builder = StateGraph(Trail)
    for name in "abc":
        builder.add_node(name, _step(name))
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "c")
    builder.add_edge("c", END)
    return builder.compile(checkpointer=saver)


class Review(TypedDict, total=False):
    draft: str
    approved: bool
    published: str


def _write(state: Review) -> Review:
    return {"draft": f"about {state['draft']}"}


def _review(state: Review) -> Review:
    answer = interrupt({"question": "publish this?", "draft": state["draft"]})
    return {"approved": answer == "yes"}


def _publish(state: Review) -> Review:
    return {"published": state["draft"] if state.get("approved") else ""}


def reviewed(saver: BaseCheckpointSaver[Any]) -> Any:
    """write -> review (interrupt() for a human's answer) -> publish."""
    builder = StateGraph(Review)
    builder.add_node("write", _write)
    builder.add_node("review", _review)
    builder.add_node("publish", _publish)
    builder.add_edge(START, "write")
    builder.add_edge("write", "review")
    builder.add_edge("review", "publish")
    builder.add_edge("publish", END)
    return builder.compile(checkpointer=saver)


def config(thread_id: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, **extra}}


async def events_of(log: EventLog, thread_id: str) -> list[Event]:
    return [record.event() for record in await log.read_execution(thread_id)]


async def view_of(log: EventLog, thread_id: str) -> ExecutionView:
    records = await log.read_execution(thread_id)
    positions = [(r.position.topic, r.position.partition, r.position.offset) for r in records]
    return fold([r.event() for r in records], positions=positions)


def _ask(state: Trail) -> dict[str, list[str]]:
    return {"trail": [f"ask:{interrupt('ok?')}"]}


def nested(saver: BaseCheckpointSaver[Any]) -> Any:
    """a -> sub (x -> ask: interrupt()) : checkpoints in a child namespace too."""
    inner = StateGraph(Trail)
    inner.add_node("x", _step("x"))
    inner.add_node("ask", _ask)
    inner.add_edge(START, "x")
    inner.add_edge("x", "ask")
    inner.add_edge("ask", END)
    builder = StateGraph(Trail)
    builder.add_node("a", _step("a"))
    builder.add_node("sub", inner.compile())
    builder.add_edge(START, "a")
    builder.add_edge("a", "sub")
    builder.add_edge("sub", END)
    return builder.compile(checkpointer=saver)
