"""Listing the newest executions without reading their history (``processors.listing``).

The changelog reader runs on every log kind (it only reads a topic backwards), so the same
scenario checks the Kafka path on a real broker and on the SQLite log; the embedded view
store is checked against the same ground truth. Ground truth: every view, sorted.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from omium.processors.changelog import ChangelogReader
from omium.processors.listing import Listed, Listing, listing_key
from omium.processors.view_store import SqliteViews
from omium.producers import EventLog, Record
from omium.projections import ExecutionView, view_to_dict
from omium.schemas.topics import VIEWS_CHANGELOG

WAVES, PER_WAVE = 12, 150
STATUSES = ("running", "completed", "failed", "queued")


class CountingLog:
    """The log, counting the records the reader asks for (how much history a page costs)."""

    def __init__(self, log: EventLog) -> None:
        self.log, self.records = log, 0
        self.url = log.url

    async def partitions(self, topic: str) -> int:
        return await self.log.partitions(topic)

    async def end_offsets(self, topic: str) -> dict[int, int]:
        return await self.log.end_offsets(topic)

    async def read_many(
        self, topic: str, ranges: dict[int, tuple[int, int]]
    ) -> dict[int, list[Record]]:
        found = await self.log.read_many(topic, ranges)
        self.records += sum(map(len, found.values()))
        return found


def a_view(rng: random.Random, execution_id: str, submitted: datetime) -> ExecutionView:
    return ExecutionView(
        execution_id=execution_id,
        status=rng.choice(STATUSES),
        workflow=rng.choice(("a", "b")),
        tenant_id=rng.choice(("t1", "t2")),
        submitted_at=submitted,
    )


async def write_history(log: EventLog) -> dict[str, ExecutionView]:
    """Waves of submissions, each also updating a few older executions (later writes of
    views submitted earlier), with deletions: the changelog as faust leaves it."""
    await log.create_topics([VIEWS_CHANGELOG])
    rng = random.Random(11)
    latest: dict[str, ExecutionView | None] = {}
    for wave in range(WAVES):
        now = datetime.now(UTC)
        earlier = sorted(latest)  # each key at most once per (shuffled) batch
        batch: list[tuple[str, str | None, bytes]] = []
        for i in range(PER_WAVE):
            view = a_view(rng, f"w{wave:02d}-{i:03d}", now + timedelta(microseconds=i))
            latest[view.execution_id] = view
            batch.append(
                (VIEWS_CHANGELOG.name, view.execution_id, orjson.dumps(view_to_dict(view)))
            )
        for key in rng.sample(earlier, min(40, len(earlier))):
            old = latest[key]
            if old is None:
                continue
            if rng.random() < 0.1:
                latest[key] = None  # a tombstone: the execution's view deleted
                batch.append((VIEWS_CHANGELOG.name, key, b""))
            else:
                new = replace(old, status=rng.choice(STATUSES))
                latest[key] = new
                batch.append((VIEWS_CHANGELOG.name, key, orjson.dumps(view_to_dict(new))))
        rng.shuffle(batch)
        await log.append_records(batch)
        await asyncio.sleep(0.03)  # the next wave is written (and submitted) later
    return {key: view for key, view in latest.items() if view is not None}


def expected(views: dict[str, ExecutionView], listing: Listing) -> list[str]:
    admitted = [v for v in views.values() if listing.admits(Listed.of(v))]
    admitted.sort(key=listing_key, reverse=True)
    return [v.execution_id for v in admitted[: listing.limit]]


def listings(views: dict[str, ExecutionView]) -> list[Listing]:
    middle = sorted(views.values(), key=listing_key)[len(views) // 2]
    return [
        Listing(1),
        Listing(7),
        Listing(51, status="failed"),
        Listing(20, tenant="t1", workflow="a"),
        Listing(20, until=middle.submitted_at),
        Listing(20, before=listing_key(middle)),
        Listing(30, since=middle.submitted_at, status="completed"),
        Listing(10_000),
    ]


async def test_changelog_listing__equals_sorting_everything_and_reads_only_the_newest(
    log: EventLog,
) -> None:
    views = await write_history(log)
    total = sum((await log.end_offsets(VIEWS_CHANGELOG.name)).values())
    for listing in listings(views):
        got = await ChangelogReader(log, clock_skew=timedelta(0)).newest(listing)
        assert [v.execution_id for v in got] == expected(views, listing), listing

    counting = CountingLog(log)
    reader = ChangelogReader(counting, first_window=10, clock_skew=timedelta(0))  # type: ignore[arg-type]
    got = await reader.newest(Listing(5))
    assert [v.execution_id for v in got] == expected(views, Listing(5))
    # the newest five need the last wave or two, not the other ten
    assert counting.records < total / 4, (counting.records, total)


def test_view_store_listing__equals_sorting_everything(tmp_path: Path) -> None:
    rng = random.Random(5)
    base = datetime(2026, 11, 30, tzinfo=UTC)
    views = {
        f"e{i:04d}": a_view(rng, f"e{i:04d}", base + timedelta(seconds=rng.randrange(500)))
        for i in range(800)
    }
    views["legacy"] = ExecutionView(execution_id="legacy", status="completed")  # no time
    store = SqliteViews(str(tmp_path / "views.db"))
    try:
        with store.transaction():
            store.save(views, {})
        for listing in [*listings(views), Listing(3, before=listing_key(views["legacy"]))]:
            got = store.newest(listing)
            assert [v.execution_id for v in got] == expected(views, listing), listing
    finally:
        store.close()


@pytest.mark.parametrize("page_size", [1, 9, 250])
def test_view_store_listing__pages_cover_everything_once(tmp_path: Path, page_size: int) -> None:
    rng = random.Random(page_size)
    base = datetime(2026, 11, 30, tzinfo=UTC)
    # equal submission times on purpose: the id breaks the tie
    views = {
        f"e{i:03d}": a_view(rng, f"e{i:03d}", base + timedelta(seconds=i // 7)) for i in range(300)
    }
    store = SqliteViews(str(tmp_path / "views.db"))
    try:
        with store.transaction():
            store.save(views, {})
        seen: list[str] = []
        before = None
        while True:
            page = store.newest(Listing(page_size, before=before))
            if not page:
                break
            seen += [v.execution_id for v in page]
            before = listing_key(page[-1])
        assert seen == expected(views, Listing(10_000))
    finally:
        store.close()
