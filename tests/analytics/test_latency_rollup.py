"""``latency`` from the daily rollup (0008) against the exact query over the same rows.

Counts and maxima are equal; each quantile is within the stated t-digest tolerance of the
exact one (``analytics_workload.near_quantile``), over windows that cut days in two (the
partial days are read from ``steps``) and with a workflow filter.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from analytics_workload import near_quantile

from omium.services.analytics import Analytics, Scope


def _at(day: int, hour: int, minute: int) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


WINDOWS = [
    Scope("default"),
    Scope("default", _at(20, 0, 20), _at(22, 2, 40)),
    Scope("default", _at(20, 1, 5), _at(20, 1, 55)),
    Scope("default", workflow="billing"),
]
#: the exact query's rows, written here (not the module's SQL): every duration of each key
DURATIONS = (
    "SELECT toString({key}) AS key, groupArray(duration_ms) FROM steps "
    "WHERE tenant_id = {tenant:String} AND ended_at >= {since:DateTime64(3, 'UTC')} "
    "AND ended_at < {until:DateTime64(3, 'UTC')} "
    "AND ({workflow:String} = '' OR workflow = {workflow:String}) GROUP BY key"
)


@pytest.mark.parametrize("by", ["agent", "step", "workflow"])
@pytest.mark.parametrize("scope", WINDOWS, ids=["all", "cut-days", "in-one-day", "billing"])
async def test_rollup__near_exact(analytics: Analytics, by: str, scope: Scope) -> None:
    got = {r.key: r for r in await analytics.latency(by, scope)}
    async with analytics.place.session() as store:
        _, rows = store.query(DURATIONS.replace("{key}", by), scope.params())
    exact = {key: list(values) for key, values in rows}
    assert got.keys() == exact.keys()
    for key, values in exact.items():
        row = got[key]
        assert (row.count, row.max_ms) == (len(values), max(values)), key
        for q, value in ((0.5, row.p50_ms), (0.95, row.p95_ms), (0.99, row.p99_ms)):
            assert near_quantile(values, q, value), (key, q, value)


async def test_rollup__windows_hold_rows(analytics: Analytics) -> None:
    """The windows above cut through days that hold steps (else they would test nothing)."""
    for scope in WINDOWS:
        assert sum(r.count for r in await analytics.latency("step", scope)) > 0, scope


async def test_rollup__filled_again_when_0008_runs(analytics: Analytics) -> None:
    """A store from before the rollup (simulated: emptied, 0008 not listed) gets it when it
    migrates: the tables and positions are emptied and the sink writes them again."""
    before = await analytics.latency("step", Scope("default"))
    async with analytics.place.session() as store:
        store.command("TRUNCATE TABLE steps_latency_daily SYNC")
        store.command("DELETE FROM omium_migrations WHERE version = 8")
        assert store.query("SELECT count() FROM steps_latency_daily")[1] == [(0,)]
    again = await analytics.latency("step", Scope("default"))
    assert again == before and sum(r.count for r in again) > 0
    counted = await analytics.sql("SELECT count(), uniqExact(event_id) FROM events")
    assert counted.rows[0][0] == counted.rows[0][1] > 0
