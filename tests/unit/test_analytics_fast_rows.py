"""The sink's rows from JSON dicts equal the rows from validated events, value for value.

The oracle is :func:`omium.projections.analytics.analytics_rows` over ``decode``d events (the
sink's rows before it stopped validating every record); :func:`~omium.processors.analytics.
rows.rows_of` over :func:`~omium.processors.analytics.rows.decoded` records must give the same
columns, with values of the same types, for every event type, for old versions, for layouts
``encode`` never writes, and must leave out the same invalid records.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_schema_properties import event_strategy

from omium.processors.analytics.layout import FAST
from omium.processors.analytics.rows import ModelPrices, as_read, decoded, rows_of
from omium.producers import Position, Record
from omium.producers.pricing import PRICES, cost_usd
from omium.projections.analytics import AnalyticsRows, analytics_rows
from omium.schemas import FACT_TYPES, Event, decode, encode, type_name

EVENT_TYPES = [c for c in FACT_TYPES if c.TOPIC == "omium.events"]


def price(model: str, input_tokens: int, output_tokens: int) -> float | None:
    return None if model == "free" else input_tokens * 1e-6 + output_tokens * 3e-6


def records(values: list[bytes]) -> list[Record]:
    return [Record(Position("omium.events", 0, i), None, v, 0) for i, v in enumerate(values)]


def both(values: list[bytes]) -> tuple[AnalyticsRows, AnalyticsRows]:
    """(the oracle's rows, the fast rows) of the same records."""
    pairs = []
    for record in records(values):
        try:
            event = decode(record.value)
        except Exception:  # noqa: BLE001, S112 - left out, as the sink always did
            continue
        pairs.append((event, ("omium.events", 0, record.position.offset)))
    return analytics_rows(pairs, {}, price), rows_of(decoded(records(values)), {}, price)


def outcome(values: list[bytes]) -> tuple[AnalyticsRows, AnalyticsRows] | None:
    """:func:`both`, or None when the oracle cannot build the rows, nor the fast builder.

    (A step of 1e300 ms starts before year 1: the old builder raises OverflowError.)
    """
    try:
        oracle = both(values)[0]
    except OverflowError:
        with pytest.raises(OverflowError):
            rows_of(decoded(records(values)), {}, price)
        return None
    return oracle, rows_of(decoded(records(values)), {}, price)


def assert_same(oracle: AnalyticsRows, fast: AnalyticsRows) -> None:
    old, new = oracle.tables(), fast.tables()
    assert list(old) == list(new)
    for table, columns in old.items():
        assert list(columns) == list(new[table]), table
        for name, values in columns.items():
            got = new[table][name]
            assert got == values, f"{table}.{name}"
            assert [_kind(v) for v in got] == [_kind(v) for v in values], f"{table}.{name}"


def _kind(value: Any) -> Any:
    """A value's type, and for times their offset (the tzinfo classes differ, not the time)."""
    if isinstance(value, datetime):
        return datetime, value.utcoffset()
    if isinstance(value, dict):
        return dict, tuple(value.items())
    return type(value)


def test_fast_path__every_event_type_of_the_events_topic_takes_it() -> None:
    slow = {type_name(c) for c in EVENT_TYPES} - set(FAST)
    assert slow <= {"alert.raised", "alert.resolved", "checkpoint.runs_deleted"}, slow


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=type_name)
def test_rows__equal_to_the_rows_of_validated_events(cls: type[Event]) -> None:
    @settings(max_examples=10, deadline=None)
    @given(st.lists(event_strategy(cls), min_size=1, max_size=3))
    def check(events: list[Event]) -> None:
        rows = outcome([encode(e) for e in events])
        if rows is not None:
            assert_same(*rows)

    check()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(EVENT_TYPES).flatmap(event_strategy), max_size=10))
def test_rows__equal_over_mixed_batches(events: list[Event]) -> None:
    rows = outcome([encode(e) for e in events])
    if rows is not None:
        assert_same(*rows)


TS = "2026-01-01T00:00:00.250Z"
ENVELOPE = {
    "event_id": "7d4f4b5e-2d7a-4b8e-9a39-0c3c7b7b1d11",
    "tenant_id": "acme",
    "execution_id": "ex-1",
    "attempt": 1,
    "seq": 3,
    "ts": TS,
    "causation_id": None,
}
V1_LLM = {
    **ENVELOPE,
    "type": "llm.call",
    "version": 1,
    "payload": {"model": "gpt-x", "prompt_tokens": 120, "completion_tokens": 30, "cost": None},
}
STEP = {
    **ENVELOPE,
    "type": "step.completed",
    "version": 1,
    "payload": {"step": "plan", "index": 0, "duration_ms": 12, "output": {"n": 1.5e-7}},
}


def _with(base: dict[str, Any], **payload: Any) -> bytes:
    return orjson.dumps({**base, "payload": {**base["payload"], **payload}})


@pytest.mark.parametrize(
    "value",
    [
        orjson.dumps(V1_LLM),  # an old version, upcast
        orjson.dumps({k: v for k, v in V1_LLM.items() if k != "version"}),  # before versions
        orjson.dumps(STEP),  # defaults missing, an int where a float is kept
        orjson.dumps({**STEP, "ts": "2026-01-01T01:00:00.25+01:00"}),  # another offset
        orjson.dumps({**STEP, "event_id": "7D4F4B5E2D7A4B8E9A390C3C7B7B1D11"}),  # uuid spelling
        orjson.dumps({k: v for k, v in STEP.items() if k != "tenant_id"}),  # envelope default
        _with(STEP, duration_ms=-1.0),  # invalid: left out
        _with(STEP, surprise=1),  # invalid: left out
        orjson.dumps({**STEP, "type": "step.unknown"}),  # invalid: left out
        orjson.dumps({**STEP, "attempt": 0}),  # invalid: left out
        b"not json",
        b"[1, 2]",
    ],
)
def test_rows__equal_for_layouts_encode_never_writes(value: bytes) -> None:
    first = encode(decode(orjson.dumps({**STEP, "seq": 1})))  # a row for every batch
    oracle, fast = both([first, value])
    assert_same(oracle, fast)


def test_rows__a_dropped_payload_field_is_caught() -> None:
    """The oracle comparison can fail: a row builder that loses the provider is caught."""
    event = decode(
        orjson.dumps(
            {**V1_LLM, "payload": {"model": "m", "provider": "openai", "agent": "a", "step": "s"}}
        )
    )
    oracle, fast = both([encode(event)])
    fast.llm_calls["provider"] = [""]
    with pytest.raises(AssertionError, match="llm_calls.provider"):
        assert_same(oracle, fast)


def test_rows__times_are_aware_and_in_the_record_zone() -> None:
    _, fast = both([encode(decode(orjson.dumps(STEP)))])
    assert fast.events["ts"] == [datetime(2026, 1, 1, 0, 0, 0, 250_000, tzinfo=UTC)]


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([c for c in EVENT_TYPES if type_name(c) in FAST]).flatmap(event_strategy))
def test_fast_path__taken_by_what_encode_writes(event: Event) -> None:
    """Else the comparisons above would only compare validation with itself."""
    assert as_read(orjson.loads(encode(event))) is not None


@given(
    st.sampled_from([*PRICES, "openai/gpt-4o-2024-08-06", "GPT-4O-MINI@x", "unknown", " o3 "]),
    st.integers(0, 10**7),
    st.integers(0, 10**7),
)
def test_model_prices__equal_to_cost_usd(model: str, input_tokens: int, output_tokens: int) -> None:
    prices = ModelPrices()
    for _ in range(2):  # looked up, then from its table
        assert prices(model, input_tokens, output_tokens) == cost_usd(
            model, input_tokens, output_tokens
        )
