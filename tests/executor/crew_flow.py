"""A python step that kicks off a CrewAI Flow with a crew inside (scripted: offline)."""

from __future__ import annotations

from typing import Any, ClassVar

import crew_tools
from crewai import Agent, Crew, Task
from crewai.flow.flow import Flow, listen, start
from crewai.tools import tool

from omium.adapters.crewai import ScriptedLLM

ANSWERS = [
    'Thought: I multiply\nAction: multiply\nAction Input: {"a": 6, "b": 7}',
    "Thought: I know it\nFinal Answer: 42",
]


@tool("multiply")
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    crew_tools.CALLS.append("multiply")
    return a * b


class Multiply(Flow):  # type: ignore[type-arg]
    """``begin`` sets the numbers, ``compute`` asks a one-agent crew for the product."""

    # no memory store for this flow (crewai would create one, importing lancedb: seconds)
    _skip_auto_memory: ClassVar[bool] = True

    @start()
    def begin(self) -> str:
        self.state["numbers"] = [6, 7]
        return "begun"

    @listen(begin)
    def compute(self, _: str) -> str:
        agent = Agent(
            role="calculator",
            goal="multiply numbers",
            backstory="exact",
            llm=ScriptedLLM(answers=ANSWERS),
            tools=[multiply],
            verbose=False,
        )
        task = Task(description="multiply 6 by 7", expected_output="a number", agent=agent)
        return str(Crew(agents=[agent], tasks=[task], verbose=False).kickoff().raw)


def run_flow(state: dict[str, Any]) -> dict[str, Any]:
    """The step: kick the flow off, return its answer."""
    return {"answer": Multiply().kickoff()}


def for_each(state: dict[str, Any]) -> dict[str, Any]:
    """The step: one crew kicked off for each input (``kickoff_for_each``)."""
    agent = Agent(
        role="calculator",
        goal="multiply numbers",
        backstory="exact",
        llm=ScriptedLLM(answers=ANSWERS),
        tools=[multiply],
        verbose=False,
    )
    task = Task(description="multiply {a} by {b}", expected_output="a number", agent=agent)
    crew = Crew(agents=[agent], tasks=[task], verbose=False)
    outputs = crew.kickoff_for_each(inputs=[{"a": 6, "b": 7}, {"a": 6, "b": 7}])
    return {"answers": [str(o.raw) for o in outputs]}
