"""Step functions of the alert scenarios: an agent that loops on a tool, one that fails."""

from __future__ import annotations

from typing import Any

from omium.producers import tool_call


async def loop_on_search(state: dict[str, Any]) -> dict[str, Any]:
    """Asks the same search four times (the loop rule's default fires at three)."""
    for _ in range(4):
        await tool_call("search", {"q": "weather in Paris"}, lambda: {"hits": 0})
    return {"searched": True}


async def search_around(state: dict[str, Any]) -> dict[str, Any]:
    """The close call: the same tool four times, with other arguments each time."""
    for page in range(4):
        await tool_call("search", {"q": "weather in Paris", "page": page}, lambda: {"hits": 0})
    return {"searched": True}
