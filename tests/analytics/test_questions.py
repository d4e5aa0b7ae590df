"""Every named question, checked against answers folded in Python from the same events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from analytics_workload import (
    expected_cost,
    expected_failures,
    expected_slowest,
    expected_tools,
    latency_groups,
    near_quantile,
)

from omium.schemas import Event, InvalidQuery
from omium.services.analytics import Analytics, Scope

ALL = Scope("default")


def _rows(rows: list) -> dict[str, dict]:
    return {r.key: r.model_dump() for r in rows}


def _same(got: dict[str, dict], want: dict[str, dict]) -> None:
    assert got.keys() == want.keys()
    for key, row in want.items():
        _same_row(got[key], row)


def _same_row(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for name, value in want.items():
        if isinstance(value, float):
            assert got[name] == pytest.approx(value, rel=1e-9, abs=1e-9), (name, got, want)
        else:
            assert got[name] == value, (name, got, want)


@pytest.mark.parametrize("by", ["agent", "step", "workflow"])
async def test_latency__matches_python(analytics: Analytics, events: list[Event], by: str) -> None:
    _near_latency(_rows(await analytics.latency(by, ALL)), latency_groups(events, by))


def _near_latency(got: dict[str, dict], groups: dict[str, list[float]]) -> None:
    """Counts and maxima exact, quantiles within the t-digest tolerance of the exact ones."""
    assert got.keys() == groups.keys()
    for key, values in groups.items():
        row = got[key]
        assert (row["count"], row["max_ms"]) == (len(values), max(values)), key
        for q in (0.5, 0.95, 0.99):
            assert near_quantile(values, q, row[f"p{round(q * 100)}_ms"]), (key, q, row)


@pytest.mark.parametrize("by", ["model", "workflow", "execution", "day", "agent"])
async def test_cost__matches_python(analytics: Analytics, events: list[Event], by: str) -> None:
    _same(_rows(await analytics.cost(by, ALL)), expected_cost(events, by))


@pytest.mark.parametrize("by", ["workflow", "step"])
async def test_failures__matches_python(analytics: Analytics, events: list[Event], by: str) -> None:
    got = _rows(await analytics.failures(by, ALL))
    assert any(r["failed"] for r in got.values())  # the workload has failures to find
    _same(got, expected_failures(events, by))


async def test_slowest__matches_python(analytics: Analytics, events: list[Event]) -> None:
    got = [r.model_dump() for r in await analytics.slowest(ALL, limit=7)]
    want = expected_slowest(events, 7)
    assert [r["execution_id"] for r in got] == [r["execution_id"] for r in want]
    for g, w in zip(got, want, strict=True):
        _same_row(g, w)


async def test_tools__matches_python(analytics: Analytics, events: list[Event]) -> None:
    _same(_rows(await analytics.tools(ALL)), expected_tools(events))


async def test_window__keeps_only_rows_inside(analytics: Analytics, events: list[Event]) -> None:
    since, until = datetime(2026, 11, 21, tzinfo=UTC), datetime(2026, 11, 23, 12, tzinfo=UTC)
    scope = Scope.of("default", since.isoformat(), until.isoformat())
    _near_latency(
        _rows(await analytics.latency("step", scope)),
        latency_groups(events, "step", since, until),
    )
    _same(_rows(await analytics.cost("model", scope)), expected_cost(events, "model", since, until))


async def test_other_tenant__sees_nothing(analytics: Analytics) -> None:
    assert await analytics.cost("model", Scope("someone-else")) == []


async def test_workflow_filter(analytics: Analytics, events: list[Event]) -> None:
    got = _rows(await analytics.cost("workflow", Scope("default", workflow="billing")))
    assert list(got) == ["billing"]
    _same(got, {"billing": expected_cost(events, "workflow")["billing"]})


async def test_sql__reads_and_refuses_writes(analytics: Analytics, events: list[Event]) -> None:
    result = await analytics.sql("SELECT count(), uniqExact(event_id) FROM events")
    assert result.rows == [[len(events), len(events)]]
    for bad in (
        "DROP TABLE events",
        "INSERT INTO events SELECT * FROM events",
        "SELEC 1",
        "SELECT 1; DROP TABLE events",
        "SELECT * FROM no_such_table",
    ):
        with pytest.raises(InvalidQuery):
            await analytics.sql(bad)
    assert (await analytics.sql("SELECT count() FROM events")).rows == [[len(events)]]
