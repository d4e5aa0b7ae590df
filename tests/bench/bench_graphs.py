"""Graphs for the benchmarks (resolved from this folder, as ``bench_graphs:<factory>``)."""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt


class Approval(TypedDict, total=False):
    doc: str
    answer: Any
    done: bool


def approval() -> StateGraph[Approval]:
    """``ask`` (a person answers through ``interrupt()``), then ``act``."""

    def ask(state: Approval) -> dict[str, Any]:
        return {"answer": interrupt({"question": f"publish {state.get('doc', '')}?"})}

    def act(state: Approval) -> dict[str, Any]:
        return {"done": True}

    graph = StateGraph(Approval)
    graph.add_node("ask", ask)
    graph.add_node("act", act)
    graph.add_edge(START, "ask")
    graph.add_edge("ask", "act")
    graph.add_edge("act", END)
    return graph
