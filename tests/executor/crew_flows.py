"""CrewAI Flows run as ``framework: crewai`` workflows (scripted LLMs: offline).

``Pricing`` has state, a ``@start``, a ``@router`` and ``@listen`` methods, and a one-agent
crew with a tool inside ``compute``::

    collect -> route --"big"--> compute (crew: multiply) -> wait -> report
                     --"small"-> skip

``crew_tools.FLOW_METHODS`` lists the methods that really ran (a method served from the
log does not run), ``crew_tools.CALLS`` the tools.
"""

from __future__ import annotations

from typing import ClassVar

from crew_tools import FLOW_METHODS as METHODS
from crew_tools import multiply, wait_a_bit
from crewai import Agent, Crew, Task
from crewai.flow.flow import Flow, and_, listen, router, start
from crewai.tools import tool
from pydantic import BaseModel

from omium.adapters.crewai import ScriptedLLM

ANSWERS = [
    'Thought: I multiply\nAction: multiply\nAction Input: {"a": 6, "b": 7}',
    "Thought: I know it\nFinal Answer: 42",
]


class Pricing(Flow):  # type: ignore[type-arg]
    """Multiply the state's numbers with a crew when they are big, then report."""

    # no memory store for this flow (crewai would create one, importing lancedb: seconds)
    _skip_auto_memory: ClassVar[bool] = True

    @start()
    def collect(self) -> str:
        METHODS.append("collect")
        self.state.setdefault("numbers", [6, 7])
        self.state.setdefault("factor", 1)
        self.state.setdefault("wait_s", 0)
        return "collected"

    @router(collect)
    def route(self) -> str:
        METHODS.append("route")
        return "big" if self.state["numbers"][0] > 5 else "small"

    @listen("big")
    def compute(self) -> str:
        METHODS.append("compute")
        agent = Agent(
            role="calculator",
            goal="multiply numbers",
            backstory="exact",
            llm=ScriptedLLM(answers=ANSWERS),
            tools=[tool("multiply")(multiply)],
            verbose=False,
        )
        task = Task(description="multiply 6 by 7", expected_output="a number", agent=agent)
        raw = str(Crew(agents=[agent], tasks=[task], verbose=False).kickoff().raw)
        self.state["product"] = int(raw)
        return raw

    @listen("small")
    def skip(self) -> str:
        METHODS.append("skip")
        self.state["product"] = 0
        return "skipped"

    @listen(compute)
    def wait(self, product: str) -> str:
        METHODS.append("wait")
        return wait_a_bit(float(self.state["wait_s"]))

    @listen(wait)
    def report(self) -> str:
        METHODS.append("report")
        self.state["report"] = f"product {self.state['product'] * self.state['factor']}"
        return str(self.state["report"])


def pricing() -> Pricing:
    """A fresh flow (the ``crew:`` factory)."""
    return Pricing()


class Tally(BaseModel):
    """``Parallel``'s state: a structured (pydantic) one."""

    n: int = 1
    seen: list[str] = []


class Parallel(Flow[Tally]):
    """Two listeners of one method (crewai runs them concurrently), joined with ``and_``.

    ``begin -> (left, right) -> join -> check --more--> add_more | --enough--> end``
    """

    _skip_auto_memory: ClassVar[bool] = True

    @start()
    def begin(self) -> int:
        self.state.seen.append("begin")
        return 1

    @listen(begin)
    def left(self, x: int) -> int:
        self.state.seen.append("left")
        return x + 1

    @listen(begin)
    def right(self, x: int) -> int:
        self.state.seen.append("right")
        return x + 2

    @listen(and_(left, right))
    def join(self) -> int:
        self.state.n += 10
        return self.state.n

    @router(join)
    def check(self) -> str:
        return "more" if self.state.n < 20 else "enough"

    @listen("more")
    def add_more(self) -> int:
        self.state.n += 5
        return self.state.n

    @listen("enough")
    def end(self) -> str:
        return f"n={self.state.n}"
