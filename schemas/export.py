"""JSON Schema for every event and an AsyncAPI 3.0 document of the topics, as plain data.

Pure: the CLI (``omium schemas export``) writes the files; a test compares them with the
committed ones so the published contract never drifts from the code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from omium.schemas.base import Event
from omium.schemas.dlq import DeadLetter
from omium.schemas.registry import COMMAND_TYPES, FACT_TYPES, type_name
from omium.schemas.topics import DLQ, TopicSpec

_REF = "#/components/schemas/{model}"


def event_json_schemas() -> dict[str, dict[str, Any]]:
    """One standalone JSON Schema per event and command type, by type name."""
    return {type_name(cls): cls.model_json_schema() for cls in (*FACT_TYPES, *COMMAND_TYPES)}


def messages_for(topic: str) -> tuple[type[BaseModel], ...]:
    """Which record classes travel on a (logical) topic."""
    if topic == DLQ.name:
        return (DeadLetter,)
    return tuple(cls for cls in (*FACT_TYPES, *COMMAND_TYPES) if cls.TOPIC == topic)


def asyncapi(topics: Sequence[TopicSpec], *, version: str) -> dict[str, Any]:
    """The AsyncAPI 3.0 document for ``topics``."""
    classes = [cls for t in topics for cls in messages_for(t.name)]
    _, defs = models_json_schema([(cls, "validation") for cls in classes], ref_template=_REF)
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in topics:
        channel_id = topic.name.removeprefix("omium.")
        refs = {}
        for cls in messages_for(topic.name):
            name = _message_name(cls)
            refs[name] = {"$ref": f"#/components/messages/{name}"}
            messages[name] = _message(cls, topic.key)
        channels[channel_id] = {
            "address": topic.name,
            "description": topic.description,
            "messages": refs,
            "bindings": {
                "kafka": {
                    "partitions": topic.partitions,
                    "topicConfiguration": {
                        "cleanup.policy": [topic.cleanup_policy],
                        "retention.ms": topic.retention_ms,
                    },
                    "bindingVersion": "0.5.0",
                }
            },
        }
        for action in ("send", "receive"):
            operations[f"{action}_{channel_id}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "messages": [{"$ref": f"#/channels/{channel_id}/messages/{n}"} for n in refs],
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "omium",
            "version": version,
            "description": "The topics of omium's event log: commands, facts, alerts, "
            "dead letters. Every record is UTF-8 JSON keyed as each channel says.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": _sorted(defs.get("$defs", {}))},
    }


def _message_name(cls: type[BaseModel]) -> str:
    if issubclass(cls, Event):
        return type_name(cls)
    return cls.__name__


def _message(cls: type[BaseModel], key: str) -> dict[str, Any]:
    return {
        "name": _message_name(cls),
        "title": cls.__name__,
        "summary": (cls.__doc__ or "").strip().splitlines()[0],
        "contentType": "application/json",
        "payload": {"$ref": _REF.format(model=cls.__name__)},
        "bindings": {
            "kafka": {"key": {"type": "string", "description": key}, "bindingVersion": "0.5.0"}
        },
    }


def _sorted(items: Iterable[tuple[str, Any]] | dict[str, Any]) -> dict[str, Any]:
    pairs = items.items() if isinstance(items, dict) else items
    return dict(sorted(pairs))
