"""Bytes <-> events: stable JSON, upcasting on read, a size limit on write.

``encode`` writes compact UTF-8 JSON (pydantic's serializer, fields in declaration order,
timestamps as ISO-8601 UTC). ``decode`` parses with orjson, upcasts an older ``version``
with the type's ``MIGRATIONS`` and validates. Every failure is an
:class:`~omium.schemas.errors.InvalidEvent` naming the field, never a pydantic traceback.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from omium.schemas.base import Event
from omium.schemas.errors import EventTooLarge, InvalidEvent
from omium.schemas.registry import REGISTRY, current_version

DEFAULT_MAX_EVENT_BYTES = 1 << 20
_STORED = ("type", "event_id", "execution_id", "ts")


def encode(event: Event, *, max_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> bytes:
    """Serialize ``event``; refuse it if the result is larger than ``max_bytes``."""
    data = event.__pydantic_serializer__.to_json(event)
    if len(data) > max_bytes:
        field, size = _largest_field(event)
        raise EventTooLarge(
            f"{event.type} event for execution {event.execution_id!r} is {len(data):,} bytes, "
            f"over the {max_bytes:,}-byte limit (largest field: {field}, {size:,} bytes)",
            size=len(data),
            limit=max_bytes,
            field=field,
        )
    return data


def decode(data: bytes | str) -> Event:
    """Parse one record's value into its event class, upcasting old versions."""
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"record is not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise InvalidEvent(f"record is JSON {type(raw).__name__}, expected an object")
    # A stored record must carry its own identity: defaults would invent a new one per read.
    for name in _STORED:
        if name not in raw:
            raise InvalidEvent(f"record has no {name!r} field", field=name)
    return from_dict(raw, unversioned=1)


def from_dict(raw: dict[str, Any], *, unversioned: int | None = None) -> Event:
    """Validate a plain dict into its event class (envelope defaults filled in).

    A dict without ``version`` is of the current version (code building a new event);
    ``decode`` passes ``unversioned=1`` since a stored record without one predates versions.
    """
    name = raw.get("type")
    if not isinstance(name, str):
        raise InvalidEvent("event has no 'type' field", field="type")
    cls = REGISTRY.get(name)
    if cls is None:
        raise InvalidEvent(
            f"unknown event type {name!r}",
            field="type",
            hint=f"known types: {', '.join(sorted(REGISTRY))}",
        )
    raw = _upcast(cls, name, raw, unversioned or current_version(cls))
    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        raise _invalid(name, exc, raw) from None


def upcast(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw``, a stored record's dict, at its type's current version (not validated).

    What :func:`decode` does before validating, for readers that take fields from the dict
    themselves: a record without ``version`` is version 1; ``raw`` itself is left as it is.
    Raises :class:`~omium.schemas.errors.InvalidEvent` for an unknown type or version.
    """
    name = raw.get("type")
    if not isinstance(name, str) or name not in REGISTRY:
        raise InvalidEvent(f"unknown event type {name!r}", field="type")
    return _upcast(REGISTRY[name], name, raw, 1)


def validate(cls: type[Event], **fields: Any) -> Event:
    """Build an event of ``cls`` from keyword fields, with omium's error on bad input."""
    try:
        return cls.model_validate(fields)
    except ValidationError as exc:
        raise _invalid(cls.__name__, exc, fields) from None


def _upcast(cls: type[Event], name: str, raw: dict[str, Any], unversioned: int) -> dict[str, Any]:
    version = raw.get("version", unversioned)
    latest = current_version(cls)
    if not isinstance(version, int) or version < 1:
        raise InvalidEvent(f"{name} event has version {version!r}", field="version")
    if version > latest:
        raise InvalidEvent(
            f"{name} event is version {version}, this omium reads up to {latest}",
            field="version",
            hint="upgrade omium to read it",
        )
    if version == latest:
        return raw
    payload = raw.get("payload")
    if not isinstance(payload, dict):
        raise InvalidEvent(f"{name} event has no payload object", field="payload")
    for migrate in cls.MIGRATIONS[version - 1 :]:
        payload = migrate(payload)
    return {**raw, "version": latest, "payload": payload}


def _invalid(name: str, exc: ValidationError, raw: dict[str, Any]) -> InvalidEvent:
    errors = exc.errors(include_url=False)
    first = errors[0]
    if first["type"] == "finite_number":
        return _not_finite(name, raw)
    field = ".".join(str(part) for part in first["loc"]) or "(event)"
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown field (not in the schema)"
    elif first["type"] == "missing":
        message = "required field is missing"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return InvalidEvent(f"invalid {name} event: {field}: {message}{more}", field=field)


def _not_finite(name: str, raw: dict[str, Any]) -> InvalidEvent:
    """NaN or infinity: refused like any value JSON cannot hold, naming its key path."""
    path, value = non_finite(raw) or ("(event)", math.nan)
    return InvalidEvent(
        f"invalid {name} event: {path}: {value!r} is not a JSON number "
        "(JSON has no NaN or infinity)",
        field=path,
        hint="use None, a string, or a finite number",
    )


def non_finite(value: Any, path: str = "") -> tuple[str, float] | None:
    """The first NaN or infinity in ``value`` and its key path (``a.b[2].c``), if any."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, value)
    if isinstance(value, BaseModel):
        value = dict(value)
    found = None
    if isinstance(value, dict):
        items = ((f"{path}.{key}" if path else str(key), item) for key, item in value.items())
    elif isinstance(value, list | tuple):
        items = ((f"{path}[{i}]", item) for i, item in enumerate(value))
    else:
        return None
    for where, item in items:
        found = non_finite(item, where)
        if found is not None:
            break
    return found


def _largest_field(event: Event) -> tuple[str, int]:
    sizes = {
        f"payload.{key}": len(orjson.dumps(value))
        for key, value in event.payload.model_dump(mode="json").items()
    }
    if not sizes:
        return "payload", 0
    field = max(sizes, key=sizes.__getitem__)
    return field, sizes[field]
