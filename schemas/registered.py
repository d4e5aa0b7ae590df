"""What a deployment knows besides runs: registered workflow versions, on ``omium.registry``.

A registry record is keyed by the entity it is about (``workflow:NAME``), which it carries
in ``execution_id`` — the envelope's key field — so the log's routing and codec serve it
unchanged. Nothing here is an execution: the projections of runs never see these records.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, JsonValue

from omium.schemas.base import Event, Payload
from omium.schemas.topics import REGISTRY


class WorkflowRegisteredPayload(Payload):
    """The payload of :class:`WorkflowRegistered`."""

    name: str = Field(min_length=1, max_length=200)
    version: str = Field(
        min_length=1,
        max_length=64,
        description="a content hash of the spec and the modules it names (see processors)",
    )
    spec: dict[str, JsonValue]
    source: str = Field(description="absolute path of the workflow file where it was registered")
    modules: list[str] = Field(default_factory=list, description="the modules hashed with it")


class WorkflowRegistered(Event):
    """A workflow version that workers can run and clients can submit by name."""

    TOPIC: ClassVar[str] = REGISTRY.name

    type: Literal["workflow.registered"] = "workflow.registered"
    version: Literal[1] = 1
    payload: WorkflowRegisteredPayload


def workflow_key(name: str) -> str:
    """The registry key of workflow ``name``."""
    return f"workflow:{name}"
