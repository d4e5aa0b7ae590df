"""Workflow specs: what ``omium run FILE`` executes, validated before anything runs.

Pure: :func:`spec_from_data` takes the file's decoded content and name (the caller reads
and decodes the YAML or JSON) and returns a :class:`WorkflowSpec`, or raises ``InvalidSpec``
naming the file, the field path and what was expected::

    pipeline.yaml: steps[1].timeout: expected a duration like 500ms, 30s, 10m or 1h, got '3 parsecs'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    field_validator,
    model_validator,
)

from omium.schemas.codec import non_finite
from omium.schemas.errors import InvalidSpec
from omium.schemas.workflow_frameworks import (
    CrewAgentSpec,
    CrewSection,
    CrewTaskSpec,
    LLMConfig,
    check_call,
    check_name,
)

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")


def parse_duration(value: object) -> float:
    """``"30s"``, ``"10m"``, ``"1h"``, ``"500ms"`` or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 500ms, 30s, 10m or 1h, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise ValueError(f"expected a duration like 500ms, 30s, 10m or 1h, got {value!r}")
        seconds = float(match[1]) * _UNITS[match[2]]
    if seconds <= 0:
        raise ValueError(f"a duration must be positive, got {value!r}")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds, written in a spec as ``30s``, ``10m``, ``1h``, ``500ms`` or a plain number."""

#: a spec travels as JSON (in the ``run`` command), and JSON has no NaN or infinity
_STRICT = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Retries(BaseModel):
    """How often a failing step is tried, and how long to wait between tries."""

    model_config = _STRICT

    max_attempts: int = Field(1, ge=1, le=100)
    backoff: Literal["fixed", "exponential"] = "exponential"
    initial: Duration = 1.0
    max_delay: Duration = 60.0

    def delay(self, retry: int) -> float:
        """Seconds to wait before try number ``retry`` (1 = the first retry)."""
        if self.backoff == "fixed":
            return min(self.initial, self.max_delay)
        return float(min(self.initial * 2 ** (retry - 1), self.max_delay))


class PythonStep(BaseModel):
    """One step of a ``framework: python`` workflow: ``def step(state: dict) -> dict | None``."""

    model_config = _STRICT

    name: str
    call: str = Field(description="module:function, resolved relative to the workflow's folder")
    timeout: Duration | None = None
    retries: Retries = Retries()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, what="a step name")

    @field_validator("call")
    @classmethod
    def _call(cls, value: str) -> str:
        return check_call(value, target="function", example="pipeline_steps:fetch")


_CREW_FIELDS = ("crew", "process", "llm", "manager_llm", "agents", "tasks")


#: how durable a run's step events are before its next step starts (see ``durability``)
Durability = Literal["batched", "step"]
DURABILITY_MODES: tuple[str, ...] = get_args(Durability)


class WorkflowSpec(BaseModel):
    """A whole workflow file (framework sections: :mod:`omium.schemas.workflow_frameworks`)."""

    model_config = _STRICT

    name: str = Field(min_length=1)
    description: str | None = None
    framework: Literal["python", "langgraph", "crewai"] = "python"
    inputs: dict[str, JsonValue] = Field(default_factory=dict)
    timeout: Duration | None = None
    durability: Durability = Field(
        "batched",
        description="batched: a step's events are written with the next ones within 20 ms "
        "(group commit); step: a step's completion and checkpoint are durable before the "
        "next step starts",
    )
    # framework: python
    steps: list[PythonStep] = Field(default_factory=list)
    # framework: langgraph
    graph: str | None = Field(None, description="module:factory of a graph (compiled or not)")
    agent_nodes: list[str] = Field(default_factory=list)
    # framework: crewai
    crew: str | None = Field(
        None, description="module:factory returning a Crew, or a CrewAI Flow (class or factory)"
    )
    process: Literal["sequential", "hierarchical"] = "sequential"
    llm: LLMConfig | None = None
    manager_llm: LLMConfig | None = None
    agents: list[CrewAgentSpec] = Field(default_factory=list)
    tasks: list[CrewTaskSpec] = Field(default_factory=list)
    for_each: str | None = Field(
        None,
        description="crewai: the input holding a list of input mappings; the run submits one "
        "sub-execution of the crew per item (crewai's kickoff_for_each) and completes when "
        "they have",
    )

    def crew_section(self) -> CrewSection:
        """The CrewAI fields as one model."""
        return CrewSection.model_validate({f: getattr(self, f) for f in _CREW_FIELDS})

    @model_validator(mode="after")
    def _framework(self) -> WorkflowSpec:
        used = {
            "python": bool(self.steps),
            "langgraph": self.graph is not None or bool(self.agent_nodes),
            "crewai": self.crew_section() != CrewSection(),
        }
        for framework, present in used.items():
            if present and framework != self.framework:
                raise ValueError(
                    f"fields of framework {framework!r} in a {self.framework!r} workflow; "
                    f"set 'framework: {framework}' or remove them"
                )
        if self.framework == "python":
            if not self.steps:
                raise ValueError("a python workflow needs at least one step under 'steps'")
            seen: set[str] = set()
            for step in self.steps:
                if step.name in seen:
                    raise ValueError(f"two steps are named {step.name!r}; names must be unique")
                seen.add(step.name)
        elif self.framework == "langgraph":
            if self.graph is None:
                raise ValueError("a langgraph workflow needs 'graph: module:factory'")
            check_call(self.graph)
            for node in self.agent_nodes:
                check_name(node)
        else:
            self.crew_section().check()
        if self.for_each is not None and self.framework != "crewai":
            raise ValueError("'for_each' kicks a crew off once per input: framework: crewai only")
        return self


def spec_from_data(data: object, filename: str) -> WorkflowSpec:
    """Check a decoded workflow file (``filename`` is for messages)."""
    if not isinstance(data, dict):
        raise InvalidSpec(
            f"{filename}: expected a mapping with name and steps, got {type(data).__name__}"
        )
    try:
        return WorkflowSpec.model_validate(data)
    except ValidationError as exc:
        raise InvalidSpec(first_error(filename, exc, data)) from None


def first_error(
    filename: str,
    exc: ValidationError,
    data: dict[str, Any],
    *,
    what: str = "a workflow spec",
    loc: Callable[[tuple[Any, ...]], tuple[Any, ...]] = tuple,
) -> str:
    """The first of ``exc``'s errors as one line: file, field path, what was expected.

    Args:
        filename: the file the data came from (messages start with it).
        exc: pydantic's error for ``data``.
        data: what was validated (to find a NaN's key path).
        what: the kind of file, for an unknown key ("not part of <what>").
        loc: rewrites an error's location first (e.g. drops a tagged union's tag).
    """
    error = exc.errors(include_url=False)[0]
    path = field_path(loc(error["loc"]))
    message = error["msg"].removeprefix("Value error, ")
    found = non_finite(data) if error["type"] == "finite_number" else None
    if found is not None:  # the path without pydantic's JSON-union tags (``.float``)
        path, value = found
        message = f"{value!r} is not a JSON number (JSON has no NaN or infinity)"
    elif error["type"] == "extra_forbidden":
        message = f"unknown key (not part of {what})"
    elif error["type"] == "missing":
        message = "required key is missing"
    elif error["type"] == "literal_error":
        message = f"expected {error['ctx']['expected']}, got {error['input']!r}"
    more = len(exc.errors()) - 1
    suffix = f" (+{more} more)" if more else ""
    return f"{filename}: {path + ': ' if path else ''}{message}{suffix}"


def field_path(loc: tuple[Any, ...]) -> str:
    """A pydantic location as a path: ``("steps", 1, "timeout")`` -> ``steps[1].timeout``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
