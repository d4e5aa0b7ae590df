"""Crews from a workflow spec: a ``crew: module:factory`` function, or agents and tasks inline.

:func:`crew_factory` checks and imports everything the spec names *now* (modules, tools,
LLM fixtures), raising :class:`~omium.schemas.InvalidSpec` one-liners naming the
field; the function it returns builds a fresh :class:`crewai.Crew` on every call (crewai
mutates agents and tasks while a crew runs, so runs must not share them)::

    framework: crewai
    process: sequential
    llm: {script: [{final: "a default answer"}]}   # each agent gets its own copy
    agents:
      - name: researcher
        role: Researcher
        goal: Find facts about {topic}
        tools: [tools:read_notes]                   # BaseTool instance/class, or a function
      - {name: writer, role: Writer, goal: Write it up, llm: {fixture: writer.yaml}}
    tasks:
      - {name: research, description: Research {topic}, expected_output: facts, agent: researcher}
      - {name: write, description: Write a report, expected_output: a report, agent: writer,
         context: [research]}

``{placeholders}`` are filled from the run's inputs by crewai's kickoff. Modules are found
beside the workflow file first (:func:`omium.adapters.python.import_attr`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from crewai import Agent, Crew, Process, Task
from crewai.flow.flow import Flow
from crewai.tools import BaseTool, tool

from omium.adapters.crewai.llm import llm_recipe
from omium.adapters.python import import_attr
from omium.schemas import InvalidSpec
from omium.schemas.workflow import WorkflowSpec
from omium.schemas.workflow_frameworks import CrewAgentSpec, CrewSection, CrewTaskSpec

CrewFactory = Callable[[], Crew]
FlowFactory = Callable[[], Flow[Any]]
CrewOrFlowFactory = Callable[[], Crew | Flow[Any]]
ToolMaker = Callable[[], BaseTool]


def crew_factory(spec: WorkflowSpec, folder: Path, filename: str = "workflow") -> CrewFactory:
    """A function building the spec's crew afresh on each call (see the module docs).

    A ``crew:`` naming a CrewAI Flow is refused here (:func:`crewai_factory` takes both).

    Args:
        spec: a ``framework: crewai`` workflow.
        folder: the workflow file's folder; modules and fixtures are found from there.
        filename: the workflow file's name, for messages.

    Raises:
        InvalidSpec: naming the file and field (``agents[0].tools[1]: no module 'tolls' …``).
    """
    section = spec.crew_section()
    try:
        section.check()
    except ValueError as exc:
        raise InvalidSpec(f"{filename}: {exc}") from None
    folder = folder.resolve()
    if section.crew is None:
        return _inline(section, folder, filename)
    where, call = f"{filename}: crew", section.crew
    made = _from_function(call, folder, where)

    def build() -> Crew:
        crew = made()
        if not isinstance(crew, Crew):
            raise InvalidSpec(f"{where}: {call}() returned a CrewAI Flow, not a Crew")
        return crew

    return build


def crewai_factory(
    spec: WorkflowSpec, folder: Path, filename: str = "workflow"
) -> CrewOrFlowFactory:
    """As :func:`crew_factory`, but ``crew:`` may also name a CrewAI Flow.

    A Flow class, or a function returning a new Flow: each call builds a fresh one.
    """
    section = spec.crew_section()
    if section.crew is None:
        return crew_factory(spec, folder, filename)
    try:
        section.check()
    except ValueError as exc:
        raise InvalidSpec(f"{filename}: {exc}") from None
    return _from_function(section.crew, folder.resolve(), f"{filename}: crew")


def flows_only(factory: CrewOrFlowFactory) -> FlowFactory:
    """``factory``, checked on each call to build a Flow."""

    def build() -> Flow[Any]:
        flow = factory()
        if not isinstance(flow, Flow):
            raise TypeError(f"the flow factory built a {type(flow).__name__}, not a Flow")
        return flow

    return build


def _from_function(call: str, folder: Path, where: str) -> CrewOrFlowFactory:
    factory = import_attr(call, folder, where)
    if isinstance(factory, Crew | Flow):
        kind = "Crew" if isinstance(factory, Crew) else "Flow instance"
        raise InvalidSpec(
            f"{where}: {call} is a {kind}; give a function returning a new one (or the "
            "Flow class): its state changes while it runs, so runs cannot share one"
        )
    if not callable(factory):
        raise InvalidSpec(f"{where}: {call} is a {type(factory).__name__}, not a function")

    def build() -> Crew | Flow[Any]:
        made = factory()
        if not isinstance(made, Crew | Flow):
            raise InvalidSpec(
                f"{where}: {call}() returned a {type(made).__name__}, not a Crew or a Flow"
            )
        return made

    return build


def _inline(section: CrewSection, folder: Path, filename: str) -> CrewFactory:
    agent_makers = [
        _agent_maker(agent, index, section, folder, filename)
        for index, agent in enumerate(section.agents)
    ]
    task_tools = [
        [
            _tool_maker(call, folder, f"{filename}: tasks[{index}].tools[{n}]")
            for n, call in enumerate(task.tools)
        ]
        for index, task in enumerate(section.tasks)
    ]
    hierarchical = section.process == "hierarchical"
    manager = (
        llm_recipe(section.manager_llm, folder, where=f"{filename}: manager_llm", agent="manager")
        if hierarchical
        else None
    )

    def build() -> Crew:
        agents = {
            spec.name: make() for spec, make in zip(section.agents, agent_makers, strict=True)
        }
        tasks: dict[str, Task] = {}
        for spec, tools in zip(section.tasks, task_tools, strict=True):
            tasks[spec.name] = _task(spec, agents, tasks, [make() for make in tools])
        return Crew(
            agents=list(agents.values()),
            tasks=list(tasks.values()),
            process=Process.hierarchical if hierarchical else Process.sequential,
            manager_llm=manager() if manager else None,
            verbose=False,
        )

    return build


def _agent_maker(
    spec: CrewAgentSpec, index: int, section: CrewSection, folder: Path, filename: str
) -> Callable[[], Agent]:
    where = f"{filename}: agents[{index}]"
    tools = [_tool_maker(call, folder, f"{where}.tools[{n}]") for n, call in enumerate(spec.tools)]
    own = spec.llm is not None
    llm = llm_recipe(
        spec.llm if own else section.llm,
        folder,
        where=f"{where}.llm" if own else f"{filename}: llm",
        agent=spec.name,
    )
    extra: dict[str, Any] = {"max_iter": spec.max_iter} if spec.max_iter is not None else {}

    def make() -> Agent:
        return Agent(
            role=spec.role,
            goal=spec.goal,
            backstory=spec.backstory,
            tools=[make_tool() for make_tool in tools],
            llm=llm(),
            allow_delegation=spec.allow_delegation,
            verbose=False,
            **extra,
        )

    return make


def _task(
    spec: CrewTaskSpec, agents: dict[str, Agent], earlier: dict[str, Task], tools: list[BaseTool]
) -> Task:
    extra: dict[str, Any] = {}
    if spec.context is not None:  # unset: crewai's default (all earlier outputs when sequential)
        extra["context"] = [earlier[name] for name in spec.context]
    return Task(
        name=spec.name,
        description=spec.description,
        expected_output=spec.expected_output,
        agent=agents[spec.agent] if spec.agent is not None else None,
        tools=tools,
        **extra,
    )


def _tool_maker(call: str, folder: Path, where: str) -> ToolMaker:
    """Resolve one tool now; each crew gets its own copy (crewai counts usage on the tool)."""
    found = import_attr(call, folder, where)
    if isinstance(found, BaseTool):
        return lambda: found.model_copy()
    if isinstance(found, type) and issubclass(found, BaseTool):
        make = cast(ToolMaker, found)
        try:
            make()
        except Exception as exc:
            raise InvalidSpec(
                f"{where}: {call}() failed: {type(exc).__name__}: {exc}".splitlines()[0]
            ) from None
        return make
    if callable(found) and not isinstance(found, type):
        try:
            wrapped = tool(found)
        except Exception as exc:
            raise InvalidSpec(
                f"{where}: cannot make a tool of {call}: {exc}".splitlines()[0]
            ) from None
        if not isinstance(wrapped, BaseTool):
            raise InvalidSpec(f"{where}: cannot make a tool of {call}")
        return lambda: wrapped.model_copy()
    raise InvalidSpec(
        f"{where}: {call} is a {type(found).__name__}; expected a crewai BaseTool "
        "(instance or class) or a function with a docstring"
    )
