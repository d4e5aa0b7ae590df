"""``omium analytics rebuild``: the tables made again from the log, without duplicates."""

from __future__ import annotations

from omium.schemas import Event
from omium.services.analytics import Analytics, Scope


async def test_rebuild__no_duplicates(analytics: Analytics, events: list[Event]) -> None:
    await analytics.cost("model", Scope("default"))  # caught up once
    assert await analytics.rebuild() == len(events)
    assert (await analytics.sql("SELECT count(), uniqExact(event_id) FROM events")).rows == [
        [len(events), len(events)]
    ]
    assert await analytics.rebuild(from_offset=10**9) == 0
    assert (await analytics.sql("SELECT count() FROM events")).rows == [[0]]


async def test_migration_0007__a_store_without_marks_is_written_again(
    analytics: Analytics, events: list[Event]
) -> None:
    """A store from before the marks (simulated: marks zeroed, 0007 not listed) gets them
    when it migrates: the tables and positions are emptied and the sink writes them again."""
    assert await analytics.rebuild() == len(events)  # whatever the tests before left
    by_step = {r.key: r for r in await analytics.failures("step", Scope("default"))}
    async with analytics.place.session() as store:
        store.command("ALTER TABLE steps UPDATE first_run = 0, first_failure = 0 WHERE 1 "
                      "SETTINGS mutations_sync = 1")  # fmt: skip
        store.command("DELETE FROM omium_migrations WHERE version = 7")
        assert store.query("SELECT sum(first_run) FROM steps")[1] == [(0,)]
    again = {r.key: r for r in await analytics.failures("step", Scope("default"))}
    assert again == by_step and sum(r.executions for r in again.values()) > 0
    counted = await analytics.sql("SELECT count(), uniqExact(event_id) FROM events")
    assert counted.rows == [[len(events), len(events)]]
