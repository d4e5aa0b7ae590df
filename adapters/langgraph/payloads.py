"""What checkpoint events carry: LangGraph's serialized values and their readable JSON.

A checkpoint is stored twice in its ``checkpoint.created`` event, for two readers:

- ``checkpoint``: LangGraph's own serialization (``serde.dumps_typed``: a type tag and
  bytes, base64 in the event), restored as-is by :class:`~omium.adapters.langgraph.OmiumSaver`;
- ``state``: a best-effort JSON rendering of the channel values, for omium's projections,
  replay and diff, rendered as the run's step outputs are (``omium.adapters.jsonable``:
  models and dataclasses as objects, tuples as lists, anything else ``{"__repr__": ...}``);
  rendering never fails and never drops a key silently.

Internal channels (``__start__``, ``branch:to:node``, ``__pregel_tasks`` …) are left out of
``state``; ``__root__`` (the channel of a graph whose state is not a dict) is kept.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import orjson
from langgraph.checkpoint.serde.base import SerializerProtocol

from omium.adapters.jsonable import jsonable
from omium.schemas import CheckpointTooLarge, EventTooLarge, SerializedValue

#: A value as LangGraph's serializer wrote it: ``(type tag, bytes)``.
Typed = tuple[str, bytes]

_INTERNAL = ("__", "branch:", "join:")


def serialized(typed: Typed) -> dict[str, str]:
    """The ``SerializedValue`` payload of a typed value (bytes as base64)."""
    return {"type": typed[0], "data": base64.b64encode(typed[1]).decode("ascii")}


def typed_of(value: SerializedValue) -> Typed:
    """The typed value a ``SerializedValue`` holds."""
    return value.type, base64.b64decode(value.data)


def render_state(channel_values: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON rendering of a checkpoint's user-visible channels."""
    state: dict[str, Any] = {}
    for name, value in channel_values.items():
        if name.startswith(_INTERNAL) and name != "__root__":
            continue
        state[name] = render(value)
    return state


def render(value: Any) -> Any:
    """``value`` as the closest JSON (:func:`omium.adapters.jsonable.jsonable`); never raises."""
    try:
        return jsonable(value)
    except Exception as exc:  # a value whose own methods fail while being looked at
        return {"__repr__": f"<unrenderable {type(value).__qualname__}: {exc}>"[:2000]}


def json_size(value: Any) -> int:
    """Bytes ``value`` takes as JSON (rendered first)."""
    return len(orjson.dumps(render(value)))


def created_payload(
    ns: str,
    checkpoint_id: str,
    parent_id: str | None,
    metadata: dict[str, Any],
    typed: Typed,
    state: dict[str, Any],
) -> dict[str, Any]:
    """The ``checkpoint.created`` payload of a LangGraph checkpoint."""
    step = metadata.get("step")
    return {
        "checkpoint_id": checkpoint_id,
        "step": str(metadata.get("source", "loop")),
        "index": step if isinstance(step, int) and step >= 0 else None,
        "state": state,
        "parent_id": parent_id,
        "ns": ns,
        "metadata": metadata,
        "checkpoint": serialized(typed),
    }


def event_size(serde: SerializerProtocol, value: Any) -> int:
    """Roughly what ``value`` adds to a ``checkpoint.created`` event (snapshot + state)."""
    try:
        return len(serde.dumps_typed(value)[1]) * 4 // 3 + json_size(value)
    except Exception:
        return len(orjson.dumps(render(value)))


def too_large(
    exc: EventTooLarge, *, thread_id: str, what: str, sizes: Mapping[str, int]
) -> CheckpointTooLarge:
    """The error naming what did not fit: ``what`` in ``thread_id``, its biggest channels."""
    ranked = sorted(sizes.items(), key=lambda item: -item[1])
    shown = ", ".join(f"{name!r} {size:,} bytes" for name, size in ranked[:3])
    return CheckpointTooLarge(
        f"{what} of thread {thread_id!r} is {exc.size:,} bytes as an event, over the log's "
        f"{exc.limit:,}-byte limit" + (f"; largest channels: {shown}" if shown else ""),
        size=exc.size,
        limit=exc.limit,
        thread_id=thread_id,
        largest=ranked[0] if ranked else None,
        hint="keep large values out of the graph state (store them elsewhere and keep "
        "a reference such as a path or URL in the state), or raise OMIUM_MAX_EVENT_BYTES "
        "(on Kafka also the broker's message.max.bytes); nothing was recorded",
    )
