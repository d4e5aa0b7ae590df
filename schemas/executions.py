"""Execution lifecycle facts: ``execution.*``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, JsonValue

from omium.schemas.base import ErrorInfo, Event, Payload, ReasonPayload


class ExecutionSubmittedPayload(Payload):
    """The payload of :class:`ExecutionSubmitted`."""

    workflow: str
    inputs: dict[str, JsonValue] = Field(default_factory=dict)
    source: str | None = None
    parent: str | None = Field(
        None, description="the execution this one is a sub-execution of (see Run's parent)"
    )


class ExecutionSubmitted(Event):
    """A run was accepted; nothing has executed yet."""

    type: Literal["execution.submitted"] = "execution.submitted"
    version: Literal[1] = 1
    payload: ExecutionSubmittedPayload


class ExecutionStartedPayload(Payload):
    """The payload of :class:`ExecutionStarted`."""

    workflow: str
    worker: str | None = None


class ExecutionStarted(Event):
    """A worker began (or, after a crash, resumed) running the execution."""

    type: Literal["execution.started"] = "execution.started"
    version: Literal[1] = 1
    payload: ExecutionStartedPayload


class ExecutionPaused(Event):
    """The execution stopped between steps at a user's request."""

    type: Literal["execution.paused"] = "execution.paused"
    version: Literal[1] = 1
    payload: ReasonPayload = ReasonPayload()


class ExecutionResumed(Event):
    """A paused execution continues."""

    type: Literal["execution.resumed"] = "execution.resumed"
    version: Literal[1] = 1
    payload: ReasonPayload = ReasonPayload()


class ExecutionCancelled(Event):
    """The execution was stopped for good at a user's request."""

    type: Literal["execution.cancelled"] = "execution.cancelled"
    version: Literal[1] = 1
    payload: ReasonPayload = ReasonPayload()


class ExecutionCompletedPayload(Payload):
    """The payload of :class:`ExecutionCompleted`."""

    output: dict[str, JsonValue] = Field(default_factory=dict)


class ExecutionCompleted(Event):
    """Every step ran; ``output`` is the final state."""

    type: Literal["execution.completed"] = "execution.completed"
    version: Literal[1] = 1
    payload: ExecutionCompletedPayload


class ExecutionFailedPayload(Payload):
    """The payload of :class:`ExecutionFailed`."""

    error: ErrorInfo
    step: str | None = None


class ExecutionFailed(Event):
    """The execution ended with an error it could not retry past."""

    type: Literal["execution.failed"] = "execution.failed"
    version: Literal[1] = 1
    payload: ExecutionFailedPayload


class ExecutionTimedOutPayload(Payload):
    """The payload of :class:`ExecutionTimedOut`."""

    timeout_s: float = Field(gt=0)
    step: str | None = None


class ExecutionTimedOut(Event):
    """The whole execution ran past its timeout."""

    type: Literal["execution.timed_out"] = "execution.timed_out"
    version: Literal[1] = 1
    payload: ExecutionTimedOutPayload


class ExecutionRolledBackPayload(Payload):
    """The payload of :class:`ExecutionRolledBack`."""

    from_attempt: int = Field(ge=1)
    checkpoint_id: str
    branch_seq: int = Field(ge=0)
    overrides: dict[str, JsonValue] = Field(default_factory=dict)
    state: dict[str, JsonValue] | None = Field(
        None, description="the state the new attempt starts from (the snapshot plus overrides)"
    )
    as_node: str | None = Field(
        None, description="graphs: the node the overrides were asked to be written as"
    )


class ExecutionRolledBack(Event):
    """A new attempt (the envelope's) branches off a checkpoint of ``from_attempt``."""

    type: Literal["execution.rolled_back"] = "execution.rolled_back"
    version: Literal[1] = 1
    payload: ExecutionRolledBackPayload
