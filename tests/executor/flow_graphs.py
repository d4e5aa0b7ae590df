"""Graphs the executor tests run (``graph: flow_graphs:<factory>``)."""

from __future__ import annotations

import asyncio
import operator
import os
import warnings
from typing import Annotated, Any, TypedDict

from langgraph.config import get_config
from langgraph.func import entrypoint, task
from langgraph.graph import END, START, StateGraph
from langgraph.prebuilt import create_react_agent
from langgraph.types import RetryPolicy, Send, interrupt
from langgraph.warnings import LangGraphDeprecatedSinceV10

from omium.adapters.langgraph.models import ScriptedChatModel, record_model, record_tool


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


class Fan(TypedDict, total=False):
    left: int
    right: int
    total: int
    seen: Annotated[list[str], operator.add]


def fanout() -> StateGraph[Fan]:
    """``left`` and ``right`` run in one superstep; ``join`` adds what they wrote."""

    def left(state: Fan) -> dict[str, Any]:
        return {"left": 1, "seen": ["left"]}

    def right(state: Fan) -> dict[str, Any]:
        return {"right": 2, "seen": ["right"]}

    def join(state: Fan) -> dict[str, Any]:
        return {"total": state.get("left", 0) + state.get("right", 0), "seen": ["join"]}

    graph = StateGraph(Fan)
    graph.add_node("left", left)
    graph.add_node("right", right)
    graph.add_node("join", join)
    graph.add_edge(START, "left")
    graph.add_edge(START, "right")
    graph.add_edge("left", "join")
    graph.add_edge("right", "join")
    graph.add_edge("join", END)
    return graph


def fanout_until_broken() -> StateGraph[Fan]:
    """:func:`fanout`, until ``OMIUM_TEST_BROKEN_GRAPH`` is set: then it no longer loads."""
    if os.environ.get("OMIUM_TEST_BROKEN_GRAPH"):
        raise RuntimeError("the graph's code is broken now")
    return fanout()


def weather(city: str) -> str:
    """The weather in ``city`` (a local lookup: no provider)."""
    return f"sunny in {city}"


#: the tool's answer first: the agent asks again with it as the last message
WEATHER_RULES: list[dict[str, Any]] = [
    {"when": "sunny in", "answer": "It is sunny in Paris."},
    {
        "when": "weather",
        "answer": {"content": "", "tool_calls": [{"name": "weather", "args": {"city": "Paris"}}]},
    },
]


def _react_agent(model: Any, tools: list[Any]) -> Any:
    with warnings.catch_warnings():  # moved to langchain.agents, which omium does not need
        warnings.simplefilter("ignore", LangGraphDeprecatedSinceV10)
        return create_react_agent(model, tools)


def react_agent() -> Any:
    """A prebuilt ReAct agent whose model and tool calls omium records."""
    model = record_model(ScriptedChatModel(rules=WEATHER_RULES), name="scripted-agent")
    return _react_agent(model, [record_tool(weather)])


def react_agent_unrecorded() -> Any:
    """The same agent with the scripted model and the tool as they are."""
    return _react_agent(ScriptedChatModel(rules=WEATHER_RULES), [weather])


class Flaky(TypedDict, total=False):
    fails: int
    tries: int


#: execution id -> tries of ``shaky`` so far (the failed ones leave nothing in the state)
TRIES: dict[str, int] = {}


def flaky() -> StateGraph[Flaky]:
    """``shaky`` fails its first ``fails`` tries; LangGraph retries it (3 tries at most)."""

    def shaky(state: Flaky) -> dict[str, Any]:
        thread = str(get_config()["configurable"]["thread_id"])
        tries = TRIES[thread] = TRIES.get(thread, 0) + 1
        if tries <= state.get("fails", 0):
            raise ConnectionError(f"try {tries} failed")
        return {"tries": tries}

    graph = StateGraph(Flaky)
    policy = RetryPolicy(max_attempts=3, initial_interval=0.01, jitter=False)
    graph.add_node("shaky", shaky, retry_policy=policy)
    graph.add_edge(START, "shaky")
    graph.add_edge("shaky", END)
    return graph


@task
def plus_one(n: int) -> int:
    """A functional-API task."""
    return n + 1


@entrypoint()
def functional(inputs: dict[str, Any]) -> dict[str, Any]:
    """A functional-API workflow (``@entrypoint`` / ``@task``): refused by ``omium run``."""
    return {"n": plus_one(int(inputs.get("n", 0))).result()}


def functional_factory() -> Any:
    """A function returning that entrypoint (only the worker calls it)."""
    return functional


class Doc(TypedDict, total=False):
    topic: str
    text: str
    notes: Annotated[list[str], operator.add]


def _inner() -> Any:
    """The subgraph: ``draft`` then ``polish`` (it shares the parent's keys)."""

    def draft(state: Doc) -> dict[str, Any]:
        return {"text": f"draft on {state.get('topic', '?')}", "notes": ["drafted"]}

    def polish(state: Doc) -> dict[str, Any]:
        return {"text": state.get("text", "").upper(), "notes": ["polished"]}

    graph = StateGraph(Doc)
    graph.add_node("draft", draft)
    graph.add_node("polish", polish)
    graph.add_edge(START, "draft")
    graph.add_edge("draft", "polish")
    graph.add_edge("polish", END)
    return graph.compile()


def with_subgraph() -> StateGraph[Doc]:
    """``prepare``, then ``write`` (a compiled subgraph: draft, polish), then ``finish``."""

    def prepare(state: Doc) -> dict[str, Any]:
        return {"notes": ["prepared"]}

    def finish(state: Doc) -> dict[str, Any]:
        return {"notes": [f"finished {len(state.get('text', ''))}"]}

    graph = StateGraph(Doc)
    graph.add_node("prepare", prepare)
    graph.add_node("write", _inner())
    graph.add_node("finish", finish)
    graph.add_edge(START, "prepare")
    graph.add_edge("prepare", "write")
    graph.add_edge("write", "finish")
    graph.add_edge("finish", END)
    return graph


def _approval() -> Any:
    """Two levels down: ``approve`` asks a person (``interrupt()``)."""

    def approve(state: Doc) -> dict[str, Any]:
        answer = interrupt({"question": f"publish {state.get('text', '')!r}?"})
        return {"notes": [f"approved: {answer}"]}

    graph = StateGraph(Doc)
    graph.add_node("approve", approve)
    graph.add_edge(START, "approve")
    graph.add_edge("approve", END)
    return graph.compile()


def nested_interrupt() -> StateGraph[Doc]:
    """``write`` (draft, then ``review``: a subgraph whose node interrupts), then ``finish``."""

    def draft(state: Doc) -> dict[str, Any]:
        return {"text": f"draft on {state.get('topic', '?')}"}

    inner = StateGraph(Doc)
    inner.add_node("draft", draft)
    inner.add_node("review", _approval())
    inner.add_edge(START, "draft")
    inner.add_edge("draft", "review")
    inner.add_edge("review", END)

    def finish(state: Doc) -> dict[str, Any]:
        return {"notes": ["finished"]}

    graph = StateGraph(Doc)
    graph.add_node("write", inner.compile())
    graph.add_node("finish", finish)
    graph.add_edge(START, "write")
    graph.add_edge("write", "finish")
    graph.add_edge("finish", END)
    return graph


class Words(TypedDict, total=False):
    words: list[str]
    lengths: Annotated[list[int], operator.add]
    word: str


def map_reduce() -> StateGraph[Words]:
    """``Send`` one ``measure`` per word (one superstep), then ``total`` adds them up."""

    def fan(state: Words) -> list[Send]:
        return [Send("measure", {"word": w}) for w in state.get("words", [])]

    def measure(state: Words) -> dict[str, Any]:
        return {"lengths": [len(state["word"])]}

    def total(state: Words) -> dict[str, Any]:
        return {"lengths": [sum(state.get("lengths", []))]}

    graph = StateGraph(Words)
    graph.add_node("measure", measure)
    graph.add_node("total", total)
    graph.add_conditional_edges(START, fan, ["measure"])
    graph.add_edge("measure", "total")
    graph.add_edge("total", END)
    return graph
