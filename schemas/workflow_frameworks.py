"""The framework sections of a workflow spec: ``framework: langgraph`` and ``framework: crewai``.

Pure models, validated with the rest of :mod:`omium.schemas.workflow`::

    framework: langgraph
    graph: support_graph:build        # a compiled graph, a StateGraph, or a function returning one
    agent_nodes: [triage, billing]    # transitions between these nodes are agent handoffs

    framework: crewai
    crew: research:build_crew         # a function returning a Crew ...
    # ... or the crew inline:
    process: sequential               # or hierarchical (then manager_llm is required)
    llm: {provider: scripted, script: [...]}   # default for agents without their own
    agents:
      - {name: researcher, role: ..., goal: ..., backstory: ..., tools: [tools:read_file]}
    tasks:
      - {name: research, description: ..., expected_output: ..., agent: researcher}
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue

_STRICT = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)  # JSON has no NaN
_CALL = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*$")


def check_call(value: str, *, target: str = "attribute", example: str = "my_module:build") -> str:
    """``module:attribute``, resolved relative to the workflow's folder.

    Args:
        value: the text of the spec's field.
        target: what the attribute is, for the message (``function`` for a step).
        example: a valid value, for the message.

    Raises:
        ValueError: naming what was expected and what was given.
    """
    if not _CALL.match(value):
        raise ValueError(f"expected module:{target} (e.g. {example}), got {value!r}")
    return value


def check_name(value: str, *, what: str = "a name") -> str:
    """Names of steps, agents and tasks: letters, digits, ``_``, ``-`` or ``.``.

    Args:
        value: the name.
        what: what is named, for the message (``a step name``).

    Raises:
        ValueError: naming the allowed characters and what was given.
    """
    if not _NAME.match(value):
        raise ValueError(f"{what} is letters, digits, '_', '-' or '.', got {value!r}")
    return value


Name = Annotated[str, AfterValidator(check_name)]
Call = Annotated[str, AfterValidator(check_call)]


class LLMConfig(BaseModel):
    """Which model an agent talks to. ``provider: scripted`` (the default) needs no key.

    A scripted LLM answers from ``script`` (in order) or from the ``fixture`` file (a YAML or
    JSON list of answers, relative to the workflow file).
    """

    model_config = _STRICT

    provider: str = "scripted"
    model: str = "scripted"
    script: list[JsonValue] | None = None
    fixture: str | None = None
    temperature: float | None = None


class CrewAgentSpec(BaseModel):
    """One CrewAI agent defined inline."""

    model_config = _STRICT

    name: Name
    role: str
    goal: str
    backstory: str = ""
    tools: list[Call] = Field(default_factory=list, description="module:attribute of each tool")
    llm: LLMConfig | None = None
    allow_delegation: bool = False
    max_iter: int | None = Field(None, ge=1)


class CrewTaskSpec(BaseModel):
    """One CrewAI task defined inline; ``context`` names earlier tasks whose output it reads."""

    model_config = _STRICT

    name: Name
    description: str
    expected_output: str
    agent: str | None = None
    context: list[str] | None = None
    tools: list[Call] = Field(default_factory=list)


class CrewSection(BaseModel):
    """The CrewAI part of a spec (the fields sit at the top level of the workflow file)."""

    model_config = _STRICT

    crew: str | None = None
    process: Literal["sequential", "hierarchical"] = "sequential"
    llm: LLMConfig | None = None
    manager_llm: LLMConfig | None = None
    agents: list[CrewAgentSpec] = Field(default_factory=list)
    tasks: list[CrewTaskSpec] = Field(default_factory=list)

    def check(self) -> None:
        """Raise ``ValueError`` naming the problem when the crew cannot be built."""
        if self.crew is not None:
            check_call(self.crew)
            if self.agents or self.tasks:
                raise ValueError("give either 'crew: module:factory' or agents and tasks, not both")
            return
        if not self.tasks:
            raise ValueError("a crewai workflow needs 'crew: module:factory' or 'tasks'")
        agents = [agent.name for agent in self.agents]
        if len(set(agents)) != len(agents):
            raise ValueError("two agents have the same name; names must be unique")
        seen: set[str] = set()
        for task in self.tasks:
            if task.name in seen:
                raise ValueError(f"two tasks are named {task.name!r}; names must be unique")
            if task.agent is not None and task.agent not in agents:
                raise ValueError(f"task {task.name!r}: no agent named {task.agent!r}")
            if task.agent is None and self.process == "sequential":
                raise ValueError(f"task {task.name!r}: a sequential crew's task needs an agent")
            for name in task.context or []:
                if name not in seen:
                    raise ValueError(f"task {task.name!r}: context {name!r} is not an earlier task")
            seen.add(task.name)
        if self.process == "hierarchical" and self.manager_llm is None:
            raise ValueError("a hierarchical crew needs 'manager_llm'")
