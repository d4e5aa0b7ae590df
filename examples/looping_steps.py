"""The step of examples/looping_agent.yaml: an agent that repeats one tool call."""

from __future__ import annotations

from typing import Any

from omium.producers import tool_call


def search(query: str) -> dict[str, Any]:
    """A search tool that finds nothing (so the agent tries again, the same way)."""
    return {"query": query, "hits": []}


async def research(state: dict[str, Any]) -> dict[str, Any]:
    """Ask the same search until an answer comes or the tries run out."""
    question = str(state["question"])
    for tries in range(1, int(state["max_tries"]) + 1):
        found = await tool_call("search", {"q": question}, lambda: search(question))
        if found["hits"]:
            return {"answer": found["hits"][0], "tries": tries}
    return {"answer": None, "tries": int(state["max_tries"])}
