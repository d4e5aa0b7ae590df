"""Which stored records can skip validation: the exact layout pydantic writes, per event type.

The sink builds rows from the decoded JSON dicts instead of validated events (validation was
about half its time). That is only sound for a record that validation would accept *and*
re-serialize unchanged: then a field read from the dict is the validated value, and the
payload's JSON (``orjson.dumps``) is the bytes ``payload.model_dump_json()`` gives.

:func:`canonical` says whether a record is such a record: every payload field present, in
declaration order (what :func:`omium.schemas.codec.encode` writes), each value of exactly the
JSON type its annotation serializes to (``5`` is not a ``float``: validation would make it
``5.0``), within the field's bounds, and nested models checked the same way. The checks are
derived from the payload models themselves (:func:`payload_check`), so a new field or type
needs no change here; a type whose payload uses anything not understood below (validators,
aliases, UUIDs, datetimes…) never takes the fast path. Every other record is validated and
re-encoded first (:mod:`omium.processors.analytics.rows`), so the rows are the same either way.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable
from typing import Any

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import BaseModel, JsonValue

from omium.schemas.registry import REGISTRY, current_version

#: whether a JSON value is exactly what validation would keep (and serialize) as it is
Check = Callable[[Any], bool]

#: the envelope's keys as ``encode`` writes them (``Event``'s fields)
ENVELOPE = (
    "event_id",
    "type",
    "version",
    "tenant_id",
    "execution_id",
    "attempt",
    "seq",
    "ts",
    "causation_id",
    "payload",
)


def _bounds(var: str, metadata: list[Any]) -> str | None:
    """``var``'s ``ge``/``max_length``… bounds as Python, or None if one is not understood."""
    out = ""
    for item in metadata:
        match item:
            case Ge(ge=int() | float() as b) if math.isfinite(b):
                out += f" and {var} >= {b!r}"
            case Gt(gt=int() | float() as b) if math.isfinite(b):
                out += f" and {var} > {b!r}"
            case Le(le=int() | float() as b) if math.isfinite(b):
                out += f" and {var} <= {b!r}"
            case Lt(lt=int() | float() as b) if math.isfinite(b):
                out += f" and {var} < {b!r}"
            case MinLen(min_length=int() as b):
                out += f" and len({var}) >= {b}"
            case MaxLen(max_length=int() as b):
                out += f" and len({var}) <= {b}"
            case _:
                return None
    return out


def _test(annotation: Any, metadata: list[Any], var: str, depth: int) -> str | None:
    """A Python expression true when ``var`` is exactly what validation keeps, or None."""
    if depth > 8:  # a model that nests itself: validate
        return None
    if annotation is JsonValue or annotation is Any:
        return None if metadata else "True"
    if annotation is None or annotation is type(None):
        return f"{var} is None"
    if annotation in (str, int, float, bool):
        bounds = _bounds(var, metadata)
        return None if bounds is None else f"(type({var}) is {annotation.__name__}{bounds})"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union):
        members = [_test(a, metadata if a is not type(None) else [], var, depth) for a in args]
        return None if None in members else "(" + " or ".join(map(str, members)) + ")"
    if metadata:
        return None
    if origin is typing.Literal and all(type(a) in (str, int, bool) for a in args):
        return (
            "("
            + " or ".join(f"(type({var}) is {type(a).__name__} and {var} == {a!r})" for a in args)
            + ")"
        )
    item = f"x{depth}"
    # an item that is anything JSON needs no loop (a generator per record cost ~0.5 µs)
    if origin is list and len(args) == 1:
        each = _test(args[0], [], item, depth + 1)
        if each is None or each == "True":
            return None if each is None else f"(type({var}) is list)"
        return f"(type({var}) is list and all({each} for {item} in {var}))"
    if origin is dict and len(args) == 2 and args[0] is str:
        each = _test(args[1], [], item, depth + 1)
        if each is None or each == "True":
            return None if each is None else f"(type({var}) is dict)"
        return f"(type({var}) is dict and all({each} for {item} in {var}.values()))"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _model_test(annotation, var, depth + 1)
    return None


def _model_test(model: type[BaseModel], var: str, depth: int) -> str | None:
    if model.model_config.get("extra") != "forbid" or _decorated(model):
        return None
    names = tuple(model.model_fields)
    tests = [f"type({var}) is dict", f"tuple({var}) == {names!r}"]
    for name, info in model.model_fields.items():
        if info.alias or info.serialization_alias or info.exclude:
            return None
        test = _test(info.annotation, list(info.metadata), f"{var}[{name!r}]", depth)
        if test is None:
            return None
        if test != "True":
            tests.append(test)
    return "(" + " and ".join(tests) + ")"


def _decorated(model: type[BaseModel]) -> bool:
    """Whether validators, serializers or computed fields may change what a field holds."""
    d = model.__pydantic_decorators__
    return bool(
        model.model_computed_fields
        or d.validators
        or d.field_validators
        or d.root_validators
        or d.model_validators
        or d.field_serializers
        or d.model_serializers
    )


def payload_check(model: type[BaseModel]) -> Check | None:
    """The check of a dict as ``model`` writes it, or None if ``model`` cannot be checked.

    The check is one Python expression compiled from the model (as ``dataclasses`` compiles
    an ``__init__``): a closure per field cost more than the rest of the row building.
    """
    test = _model_test(model, "v", 0)
    if test is None:
        return None
    check: Check = eval(compile(f"lambda v: {test}", f"<check of {model.__name__}>", "eval"))  # noqa: S307 - built above from the model's own annotations
    return check


def _checks() -> dict[str, tuple[int, Check]]:
    out = {}
    for name, cls in REGISTRY.items():
        payload = cls.model_fields["payload"].annotation
        envelope_as_written = tuple(cls.model_fields) == ENVELOPE and not _decorated(cls)
        if envelope_as_written and isinstance(payload, type) and issubclass(payload, BaseModel):
            check = payload_check(payload)
            if check is not None:
                out[name] = (current_version(cls), check)
    return out


#: event type -> (its current version, the check of its payload), for types that can skip
#: validation (built once, from the models)
FAST: dict[str, tuple[int, Check]] = _checks()
