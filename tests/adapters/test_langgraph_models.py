"""Recorded models and tools are what LangChain's prebuilt agents take."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage, messages_to_dict
from langchain_core.tools import BaseTool
from langgraph.prebuilt import ToolNode

from omium.adapters.langgraph.models import (
    ScriptedChatModel,
    record_model,
    record_tool,
    semantic_request,
)
from omium.producers.recorded import normalized


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


async def test_record_tool__is_a_langchain_tool_a_tool_node_runs() -> None:
    tool = record_tool(add)
    assert isinstance(tool, BaseTool) and tool.name == "add"
    assert tool.description == "Add two numbers."
    assert await tool.ainvoke({"a": 1, "b": 2}) == 3
    assert tool.invoke({"a": 2, "b": 2}) == 4
    assert ToolNode([tool]).tools_by_name == {"add": tool}  # refused before: not a tool
    call = {"name": "add", "args": {"a": 3, "b": 4}, "id": "call-1", "type": "tool_call"}
    message = await tool.ainvoke(call)  # what ToolNode does with each call
    assert isinstance(message, ToolMessage) and message.content == "7"
    assert message.tool_call_id == "call-1"


def test_scripted_model__binds_tools_and_so_does_its_recorded_wrapper() -> None:
    model = ScriptedChatModel(script=["hi"])
    bound = model.bind_tools([add])
    assert bound.invoke("hello").content == "hi"
    recorded = record_model(ScriptedChatModel(script=["hey"])).bind_tools([add])
    assert recorded.kwargs["tools"][0]["function"]["name"] == "add"  # type: ignore[attr-defined]
    assert recorded.invoke("hello").content == "hey"


def test_semantic_request__ignores_generated_ids_not_content() -> None:
    def request(message_id: str, call_id: str, content: str = "sunny") -> object:
        messages = [
            HumanMessage("weather?", id=message_id),
            AIMessage("", tool_calls=[{"name": "w", "args": {"city": "P"}, "id": call_id}]),
            ToolMessage(content, tool_call_id=call_id, id=message_id),
        ]
        return semantic_request("llm", normalized({"messages": messages_to_dict(messages)}))

    assert request("a", "c1") == request("b", "c2")
    assert request("a", "c1") != request("a", "c1", content="rainy")
