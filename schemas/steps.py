"""Step lifecycle facts: ``step.*``.

``retry`` counts tries of one step within one attempt (0 is the first try); the envelope's
``attempt`` is the branch of the whole run.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, JsonValue

from omium.schemas.base import ErrorInfo, Event, Payload


class StepStartedPayload(Payload):
    """The payload of :class:`StepStarted`."""

    step: str
    index: int = Field(ge=0)
    retry: int = Field(0, ge=0)
    parent: int | None = Field(
        None,
        ge=0,
        description="the index of the step this one runs inside (a LangGraph subgraph's node "
        "runs inside its parent node's step); None: a step of the workflow itself",
    )


class StepStarted(Event):
    """A step began."""

    type: Literal["step.started"] = "step.started"
    version: Literal[1] = 1
    payload: StepStartedPayload


class StepCompletedPayload(Payload):
    """The payload of :class:`StepCompleted`."""

    step: str
    index: int = Field(ge=0)
    retry: int = Field(0, ge=0)
    output: dict[str, JsonValue] = Field(default_factory=dict)
    duration_ms: float = Field(0.0, ge=0)
    accumulated: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="graphs: the reducer channels (e.g. Annotated[list, add]) the step wrote, "
        "with every write of its superstep so far applied: the state between a parallel "
        "superstep's steps",
    )


class StepCompleted(Event):
    """A step returned; ``output`` holds the state updates it made."""

    type: Literal["step.completed"] = "step.completed"
    version: Literal[1] = 1
    payload: StepCompletedPayload


class StepFailedPayload(Payload):
    """The payload of :class:`StepFailed`."""

    step: str
    index: int = Field(ge=0)
    retry: int = Field(0, ge=0)
    error: ErrorInfo
    duration_ms: float = Field(0.0, ge=0)


class StepFailed(Event):
    """A step raised (or timed out) on its last allowed try."""

    type: Literal["step.failed"] = "step.failed"
    version: Literal[1] = 1
    payload: StepFailedPayload


class StepRetriedPayload(Payload):
    """The payload of :class:`StepRetried`."""

    step: str
    index: int = Field(ge=0)
    retry: int = Field(ge=1)
    error: ErrorInfo
    delay_s: float = Field(0.0, ge=0)


class StepRetried(Event):
    """A try failed and the step will run again (try number ``retry``) after ``delay_s``."""

    type: Literal["step.retried"] = "step.retried"
    version: Literal[1] = 1
    payload: StepRetriedPayload
