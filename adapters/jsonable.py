"""Framework values as JSON: what omium records of a graph's state or a node's output.

Frameworks pass Python objects around (pydantic models, LangChain messages, dataclasses,
tuples). Events hold JSON, so :func:`jsonable` renders each value as the closest JSON:
models and dataclasses as objects, sequences as lists, and anything else as its ``repr``
under a marker key, so nothing is dropped silently and nothing crashes the run.
"""

from __future__ import annotations

import base64
import dataclasses
import math
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any
from uuid import UUID

#: how deep nested values are rendered before the rest becomes a repr (cycles end here too)
MAX_DEPTH = 32


def jsonable(value: Any, _depth: int = 0) -> Any:
    """The JSON rendering of ``value`` (see the module docs)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if _depth >= MAX_DEPTH:
        return {"__repr__": repr(value)[:200]}
    deeper = _depth + 1
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, deeper) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [jsonable(v, deeper) for v in items]
    if isinstance(value, Enum):
        return jsonable(value.value, deeper)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes):
        return {"__bytes__": base64.b64encode(value).decode()}
    dump = getattr(value, "model_dump", None)
    if callable(dump):  # pydantic models, LangChain messages
        try:
            return jsonable(dump(), deeper)
        except Exception:  # noqa: BLE001 - a model that cannot dump itself is shown as repr
            pass
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return jsonable(fields, deeper)
    return {"__repr__": repr(value)[:2000]}
