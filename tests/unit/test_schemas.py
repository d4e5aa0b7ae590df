"""The event model: round-trips, upcasting, and every kind of bad input refused clearly."""

from __future__ import annotations

import orjson
import pytest

from omium.schemas import (
    COMMAND_TYPES,
    FACT_TYPES,
    REGISTRY,
    Event,
    EventTooLarge,
    InvalidEvent,
    LLMCall,
    StepCompleted,
    current_version,
    decode,
    encode,
    from_dict,
    type_name,
)


def step_completed(**payload: object) -> StepCompleted:
    return StepCompleted(
        execution_id="ex-1", seq=3, payload={"step": "fetch", "index": 0, **payload}
    )


def raw(event: StepCompleted) -> dict[str, object]:
    return orjson.loads(encode(event))


def test_encode_decode__round_trips_an_event() -> None:
    event = step_completed(output={"rows": [1, 2, 3], "nested": {"ok": True, "none": None}})
    assert decode(encode(event)) == event


def test_encode__is_stable_for_the_same_event() -> None:
    event = step_completed(output={"b": 1, "a": 2})
    assert encode(event) == encode(decode(encode(event)))


def test_encode__writes_utc_timestamps_with_z() -> None:
    assert raw(step_completed())["ts"].endswith("Z")  # type: ignore[union-attr]


def test_registry__covers_the_architectures_types() -> None:
    expected = {
        *(
            f"execution.{s}"
            for s in (
                "submitted",
                "started",
                "paused",
                "resumed",
                "cancelled",
                "completed",
                "failed",
                "timed_out",
                "rolled_back",
            )
        ),
        *(f"step.{s}" for s in ("started", "completed", "failed", "retried")),
        "agent.handoff",
        "llm.call",
        "tool.call",
        "checkpoint.created",
        "checkpoint.writes_saved",
        "checkpoint.thread_deleted",
        "checkpoint.pruned",
        "checkpoint.runs_deleted",
        "human.input_requested",
        "human.input_received",
        "alert.raised",
        "alert.resolved",
        "alert.delivery_failed",
        "workflow.registered",
        "run",
        "pause",
        "resume",
        "cancel",
        "rollback",
    }
    assert set(REGISTRY) == expected


@pytest.mark.parametrize("cls", FACT_TYPES + COMMAND_TYPES, ids=type_name)
def test_every_type__writes_its_current_version(cls: type) -> None:
    assert cls.model_fields["version"].default == current_version(cls)


def _concrete(cls: type[Event]) -> set[type[Event]]:
    found = set()
    for sub in cls.__subclasses__():
        if sub.__module__.startswith("omium.schemas.") and isinstance(
            sub.model_fields["type"].default, str
        ):
            found.add(sub)
        found |= _concrete(sub)
    return found


def test_fact_and_command_lists__name_every_event_class_once() -> None:
    listed = FACT_TYPES + COMMAND_TYPES
    assert len(set(listed)) == len(listed)
    assert set(listed) == _concrete(Event)


def test_commands_and_facts__go_to_their_own_topics() -> None:
    assert {c.TOPIC for c in COMMAND_TYPES} == {"omium.commands"}
    assert {c.TOPIC for c in FACT_TYPES} == {"omium.events", "omium.alerts", "omium.registry"}


def test_decode__upcasts_a_v1_llm_call_to_v2() -> None:
    v1 = {
        "event_id": "7d4f4b5e-2d7a-4b8e-9a39-0c3c7b7b1d11",
        "type": "llm.call",
        "version": 1,
        "execution_id": "ex-1",
        "ts": "2026-01-01T00:00:00Z",
        "payload": {
            "model": "gpt-x",
            "prompt_tokens": 120,
            "completion_tokens": 30,
            "cost": 0.0021,
            "latency_ms": 812.5,
        },
    }
    event = decode(orjson.dumps(v1))
    assert isinstance(event, LLMCall)
    assert event.version == 2
    assert event.payload.input_tokens == 120
    assert event.payload.output_tokens == 30
    assert event.payload.cost_usd == 0.0021
    assert event.payload.latency_ms == 812.5
    # and what it writes back is v2
    assert orjson.loads(encode(event))["version"] == 2


def test_decode__refuses_a_version_from_the_future() -> None:
    data = raw(step_completed()) | {"version": 9}
    with pytest.raises(InvalidEvent, match="version 9, this omium reads up to 1; upgrade"):
        decode(orjson.dumps(data))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d | {"type": "step.exploded"},
            "unknown event type 'step.exploded'; known types:",
        ),
        (lambda d: {k: v for k, v in d.items() if k != "type"}, "no 'type' field"),
        (lambda d: {k: v for k, v in d.items() if k != "event_id"}, "no 'event_id' field"),
        (lambda d: d | {"payload": {"index": 0}}, "payload.step: required field is missing"),
        (lambda d: d | {"seq": "three"}, "seq: "),
        (lambda d: d | {"seq": -1}, "seq: "),
        (lambda d: d | {"colour": "red"}, "colour: unknown field"),
        (
            lambda d: d | {"payload": {"step": "s", "index": 0, "extra": 1}},
            "payload.extra: unknown field",
        ),
        (lambda d: d | {"execution_id": ""}, "execution_id: "),
        (lambda d: d | {"ts": "yesterday"}, "ts: "),
    ],
    ids=[
        "unknown-type",
        "no-type",
        "no-event-id",
        "missing-field",
        "wrong-type",
        "out-of-range",
        "extra-envelope-field",
        "extra-payload-field",
        "empty-id",
        "bad-ts",
    ],
)
def test_decode__refuses_bad_input_naming_the_field(mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    data = mutate(raw(step_completed()))
    with pytest.raises(InvalidEvent) as caught:
        decode(orjson.dumps(data))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("data", [b"{", b"[1, 2]", b'"text"', b""])
def test_decode__refuses_what_is_not_a_json_object(data: bytes) -> None:
    with pytest.raises(InvalidEvent, match="record is"):
        decode(data)


def test_encode__refuses_an_oversized_event_naming_the_largest_field() -> None:
    event = step_completed(output={"blob": "x" * 5000})
    with pytest.raises(EventTooLarge) as caught:
        encode(event, max_bytes=1024)
    error = caught.value
    assert error.field == "payload.output"
    assert error.limit == 1024 and error.size > 5000
    assert "over the 1,024-byte limit (largest field: payload.output" in str(error)
    assert "OMIUM_MAX_EVENT_BYTES" in str(error)


def test_encode__default_limit_is_one_mebibyte() -> None:
    encode(step_completed(output={"blob": "x" * 1_000_000}))
    with pytest.raises(EventTooLarge):
        encode(step_completed(output={"blob": "x" * (1 << 20)}))


def test_events__are_frozen() -> None:
    event = step_completed()
    with pytest.raises(Exception, match="frozen"):
        event.seq = 4  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kind", "payload", "path"),
    [
        (
            "step.completed",
            {"step": "s", "index": 0, "output": {"score": float("nan")}},
            "output.score",
        ),
        (
            "execution.submitted",
            {"workflow": "w", "inputs": {"xs": [1, float("inf")]}},
            "inputs.xs[1]",
        ),
        (
            "llm.call",
            {"model": "m", "response": {"p": {"logprob": -float("inf")}}},
            "response.p.logprob",
        ),
        ("tool.call", {"tool": "t", "result": float("nan")}, "result"),
        ("step.completed", {"step": "s", "index": 0, "duration_ms": float("nan")}, "duration_ms"),
    ],
)
def test_from_dict__refuses_nan_and_infinity_wherever_they_are(
    kind: str, payload: dict[str, object], path: str
) -> None:
    """Outputs, inputs, LLM and tool payloads, plain float fields: one rule, one message."""
    with pytest.raises(InvalidEvent) as caught:
        from_dict({"type": kind, "execution_id": "e", "payload": payload})
    assert caught.value.field == f"payload.{path}"
    assert f"payload.{path}: " in str(caught.value) and "is not a JSON number" in str(caught.value)
