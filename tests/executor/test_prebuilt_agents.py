"""Prebuilt LangGraph agents (``create_react_agent``) as workflows: run, then re-execute.

The agent's input and tool messages get new ids on every run (and its tools new call
ids): re-execution matches the recorded calls by what is asked, not by those ids.
"""

from __future__ import annotations

from typing import Any

from harness import HERE, Harness
from test_graph_runs import graph_spec, submit_file

from omium.adapters.langgraph.models import ScriptedChatModel
from omium.processors.reexecute import reexecute
from omium.schemas import LLMCall, ToolCall

AGENT = HERE / "react_agent.yaml"
QUESTION = {"messages": [{"role": "user", "content": "What is the weather in Paris?"}]}


def last_message(output: dict[str, Any] | None) -> str:
    assert output is not None
    return str(output["messages"][-1]["content"])


async def test_react_agent__runs_and_re_executes_from_the_log(harness: Harness) -> None:
    await harness.start_worker()
    ex = await submit_file(harness, AGENT)
    view = await harness.finished(ex)
    assert view.status == "completed", view.error
    assert last_message(view.output) == "It is sunny in Paris."
    assert [s.name for s in view.steps] == ["agent", "tools", "agent"]
    events = await harness.events(ex)
    assert [e.payload.step for e in events if isinstance(e, LLMCall)] == ["agent", "agent"]
    tools = [(e.payload.tool, e.payload.arguments) for e in events if isinstance(e, ToolCall)]
    assert tools == [("weather", {"city": "Paris"})]
    calls = ScriptedChatModel.total_calls
    report = await reexecute(harness.log, ex)
    assert report.divergence is None, (report.divergence.where, report.divergence.actual)
    assert ScriptedChatModel.total_calls == calls  # both model calls answered from the log
    assert [(s.name, s.result) for s in report.steps] == [
        ("agent", "completed"),
        ("tools", "completed"),
        ("agent", "completed"),
    ]
    assert report.steps[-1].calls_answered == 3  # two model calls and the tool's
    assert last_message(report.state) == "It is sunny in Paris."
    assert report.connections == 0


async def test_react_agent__with_the_scripted_model_as_it_is(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(graph_spec("react_agent_unrecorded"), **QUESTION)
    view = await harness.finished(ex)
    assert view.status == "completed", view.error
    assert last_message(view.output) == "It is sunny in Paris."
