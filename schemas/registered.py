"""What a deployment knows besides runs, on ``omium.registry``: workflow versions, API keys.

A registry record is keyed by the entity it is about (``workflow:NAME``, ``apikey:ID``), which
it carries
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


#: what a key may do: ``viewer`` reads, ``operator`` also submits and steers runs,
#: ``admin`` also manages keys
ROLES = ("viewer", "operator", "admin")
Role = Literal["viewer", "operator", "admin"]


class ApiKeyCreatedPayload(Payload):
    """The payload of :class:`ApiKeyCreated`: never the key itself, only its hash."""

    key_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    role: Role
    sha256: str = Field(min_length=64, max_length=64, description="hex SHA-256 of the key")


class ApiKeyCreated(Event):
    """An API key was issued for the envelope's tenant (``tenant_id``)."""

    TOPIC: ClassVar[str] = REGISTRY.name

    type: Literal["apikey.created"] = "apikey.created"
    version: Literal[1] = 1
    payload: ApiKeyCreatedPayload


class ApiKeyRevokedPayload(Payload):
    """The payload of :class:`ApiKeyRevoked`."""

    key_id: str = Field(min_length=1, max_length=64)
    reason: str | None = None


class ApiKeyRevoked(Event):
    """An API key no longer opens anything."""

    TOPIC: ClassVar[str] = REGISTRY.name

    type: Literal["apikey.revoked"] = "apikey.revoked"
    version: Literal[1] = 1
    payload: ApiKeyRevokedPayload


def apikey_key(key_id: str) -> str:
    """The registry key of API key ``key_id``."""
    return f"apikey:{key_id}"
