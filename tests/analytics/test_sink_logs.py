"""The sink on every log (embedded SQLite in memory and in a file, Kafka): the same rows."""

from __future__ import annotations

from pathlib import Path

from analytics_workload import expected_cost, store_url, workload

from omium.processors.analytics import AnalyticsSink, open_place
from omium.producers import EventLog
from omium.services.analytics import Scope, open_analytics


async def test_sink__every_log_gives_the_same_answers(log: EventLog, tmp_path: Path) -> None:
    events = workload(60, seed=31)
    await log.append_batch(events[:500])
    place = open_place(url=store_url(tmp_path))
    sink = AnalyticsSink(log, place, rows=200)
    assert await sink.sync() == len(events[:500])
    await log.append_batch(events[500:])
    assert await sink.sync() == len(events) - 500
    assert await sink.sync() == 0  # nothing twice

    analytics = open_analytics(log, url=store_url(tmp_path))
    got = await analytics.sql("SELECT count(), uniqExact(event_id) FROM events")
    assert got.rows == [[len(events), len(events)]]
    cost = {r.key: r.model_dump() for r in await analytics.cost("workflow", Scope("default"))}
    want = expected_cost(events, "workflow")
    assert {k: r["calls"] for k, r in cost.items()} == {k: r["calls"] for k, r in want.items()}
    analytics.place.close()  # the log is the fixture's to close
