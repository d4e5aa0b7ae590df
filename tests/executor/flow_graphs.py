"""Graphs the executor tests run (``graph: flow_graphs:<factory>``)."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph

from omium.adapters.langgraph.models import ScriptedChatModel, record_model


class Count(TypedDict, total=False):
    n: int
    until: int
    slow_s: float
    seen: Annotated[list[int], operator.add]


def counter() -> StateGraph[Count]:
    """``tick`` loops until ``n == until``, sleeping ``slow_s`` each time."""

    async def tick(state: Count) -> dict[str, Any]:
        await asyncio.sleep(state.get("slow_s", 0))
        n = state.get("n", 0) + 1
        return {"n": n, "seen": [n]}

    def more(state: Count) -> str:
        return "tick" if state["n"] < state.get("until", 3) else END

    graph = StateGraph(Count)
    graph.add_node("tick", tick)
    graph.add_edge(START, "tick")
    graph.add_conditional_edges("tick", more)
    return graph


def compiled_counter() -> Any:
    """The same graph, compiled without a checkpointer (omium adds its own)."""
    return counter().compile()


def broken() -> StateGraph[Count]:
    def boom(state: Count) -> dict[str, Any]:
        raise ValueError("the node failed")

    graph = StateGraph(Count)
    graph.add_node("boom", boom)
    graph.add_edge(START, "boom")
    graph.add_edge("boom", END)
    return graph


def priced() -> StateGraph[Count]:
    """One node asks a recorded model named like a priced one (``gpt-4o-mini``)."""

    model = record_model(ScriptedChatModel(script=["three words here"]), name="gpt-4o-mini")

    async def ask(state: Count) -> dict[str, Any]:
        await model.ainvoke("how many words are in this question")
        return {"n": 1}

    graph = StateGraph(Count)
    graph.add_node("ask", ask)
    graph.add_edge(START, "ask")
    graph.add_edge("ask", END)
    return graph
