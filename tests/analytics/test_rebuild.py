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
