"""Hypothesis: every event type survives encode -> decode unchanged; NaN never gets in."""

from __future__ import annotations

import math
from datetime import UTC

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from omium.schemas import (
    COMMAND_TYPES,
    FACT_TYPES,
    Event,
    InvalidEvent,
    decode,
    encode,
    from_dict,
    type_name,
)

json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.text(max_size=20)
    | (st.floats(allow_nan=False, allow_infinity=False))
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def payload_strategy(model: type[BaseModel]) -> st.SearchStrategy[dict[str, object]]:
    """A strategy of valid payload dicts, built from the model's own JSON Schema."""
    fields = {}
    schema = model.model_json_schema()
    for name in model.model_fields:
        prop = schema["properties"][name]
        fields[name] = strategy_for(prop, schema.get("$defs", {}))
    required = set(schema.get("required", []))
    optional = {k: v for k, v in fields.items() if k not in required}
    return st.fixed_dictionaries(
        {k: v for k, v in fields.items() if k in required}, optional=optional
    )


def strategy_for(prop: dict[str, object], defs: dict[str, object]) -> st.SearchStrategy[object]:
    if "$ref" in prop:
        return strategy_for(defs[str(prop["$ref"]).rsplit("/", 1)[1]], defs)  # type: ignore[arg-type]
    if "anyOf" in prop:
        return st.one_of(*(strategy_for(p, defs) for p in prop["anyOf"]))  # type: ignore[attr-defined]
    if "enum" in prop:
        return st.sampled_from(prop["enum"])  # type: ignore[arg-type]
    kind = prop.get("type")
    if kind == "string" and prop.get("format") == "uuid":
        return st.uuids().map(str)
    if kind == "string":
        least = int(prop.get("minLength", 0))
        return st.text(min_size=least, max_size=max(30, least))  # type: ignore[call-overload]
    if kind == "integer":
        return st.integers(min_value=int(prop.get("minimum", -(2**31))), max_value=2**31)  # type: ignore[call-overload]
    if kind == "number":
        low = prop.get("minimum", prop.get("exclusiveMinimum"))
        return st.floats(
            min_value=float(low) if low is not None else None,  # type: ignore[arg-type]
            exclude_min="exclusiveMinimum" in prop,
            allow_nan=False,
            allow_infinity=False,
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array" and isinstance(prop.get("items"), dict):
        items = strategy_for(prop["items"], defs)  # type: ignore[arg-type]
        return st.lists(items, min_size=int(prop.get("minItems", 0)), max_size=3)  # type: ignore[call-overload]
    if kind == "object" and "properties" in prop:
        required = set(prop.get("required", []))  # type: ignore[arg-type]
        props = {k: strategy_for(v, defs) for k, v in prop["properties"].items()}  # type: ignore[attr-defined]
        return st.fixed_dictionaries(
            {k: v for k, v in props.items() if k in required},
            optional={k: v for k, v in props.items() if k not in required},
        )
    if kind == "object":
        return st.dictionaries(st.text(max_size=8), json_value, max_size=4)
    return json_value  # JsonValue: any JSON


def event_strategy(cls: type[Event]) -> st.SearchStrategy[Event]:
    payload_model = cls.model_fields["payload"].annotation
    assert isinstance(payload_model, type) and issubclass(payload_model, BaseModel)
    return st.builds(
        lambda payload, execution_id, attempt, seq, ts, tenant: cls.model_validate(
            {
                "execution_id": execution_id,
                "attempt": attempt,
                "seq": seq,
                "ts": ts,
                "tenant_id": tenant,
                "payload": payload,
            }
        ),
        payload_strategy(payload_model),
        st.text(min_size=1, max_size=40),
        st.integers(1, 1000),
        st.integers(0, 2**40),
        st.datetimes(timezones=st.just(UTC)),
        st.text(min_size=1, max_size=20),
    )


@pytest.mark.parametrize("cls", FACT_TYPES + COMMAND_TYPES, ids=type_name)
def test_round_trip__every_event_type(cls: type[Event]) -> None:
    @settings(max_examples=40, deadline=None)
    @given(event_strategy(cls))
    def check(event: Event) -> None:
        assert decode(encode(event)) == event

    check()


@st.composite
def with_one_non_finite(draw: st.DrawFn) -> tuple[dict[str, object], str, float]:
    """A step output holding one NaN or infinity somewhere, and its key path (the oracle).

    The path is written down while the value is placed, not found by the code under test.
    """
    bad = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
    output: dict[str, object] = draw(st.dictionaries(st.text(max_size=8), json_value, max_size=3))
    node: object = output
    path = "payload.output"
    while True:
        children = [
            (key, child)
            for key, child in (node.items() if isinstance(node, dict) else enumerate(node))  # type: ignore[attr-defined]
            if isinstance(child, dict | list)
        ]
        if not children or draw(st.booleans()):
            break
        key, node = draw(st.sampled_from(children))
        path += f"[{key}]" if isinstance(key, int) else f".{key}"
    if isinstance(node, dict):
        key = draw(st.text(max_size=8).filter(lambda k: k not in node))
        node[key] = bad
        path += f".{key}"
    else:
        assert isinstance(node, list)
        node.append(bad)
        path += f"[{len(node) - 1}]"
    return output, path, bad


@settings(max_examples=200, deadline=None)
@given(case=with_one_non_finite())
def test_validate__refuses_nan_and_infinity_naming_the_key_path(
    case: tuple[dict[str, object], str, float],
) -> None:
    """JSON has no NaN or infinity: refused like other non-JSON values, never stored as null."""
    output, path, bad = case
    raw = {"type": "step.completed", "execution_id": "e", "payload": {"step": "s", "index": 0}}
    with pytest.raises(InvalidEvent) as caught:
        from_dict({**raw, "payload": {**raw["payload"], "output": output}})  # type: ignore[dict-item]
    assert caught.value.field == path
    assert f"{path}: {bad!r} is not a JSON number" in str(caught.value)
