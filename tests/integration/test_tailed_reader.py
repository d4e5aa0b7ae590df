"""The gateway's Kafka view reads (``processors.tailed``) on a real broker.

Ground truth is the changelog itself: after every write, a read must return the view just
written (reads are as fresh as the changelog's end when they begin), and only executions
the tail has not seen may cost a read of the changelog.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import orjson
import pytest

from omium.processors.changelog import ChangelogReader
from omium.processors.tailed import TailedReader
from omium.producers import EventLog, Record, Tailing, open_log
from omium.projections import ExecutionView, view_to_dict
from omium.schemas.topics import VIEWS_CHANGELOG

pytestmark = pytest.mark.kafka


class CountingReader(ChangelogReader):
    """The changelog reader, counting the executions read from the changelog itself."""

    reads = 0

    async def newest_record(self, execution_id: str) -> Record | None:
        self.reads += 1
        return await super().newest_record(execution_id)


@pytest.fixture
async def log(log_url: Callable[[str], str]) -> AsyncIterator[EventLog]:
    opened = open_log(log_url("kafka"))
    await opened.create_topics([VIEWS_CHANGELOG])
    try:
        yield opened
    finally:
        await opened.close()


async def write(log: EventLog, execution_id: str, status: str | None) -> None:
    value = b""  # a tombstone
    if status is not None:
        view = ExecutionView(execution_id=execution_id, status=status, workflow="w")
        value = orjson.dumps(view_to_dict(view))
    await log.append_records([(VIEWS_CHANGELOG.name, execution_id, value)])


def tailed(log: EventLog, **options: int) -> tuple[TailedReader, CountingReader]:
    assert isinstance(log, Tailing)
    inner = CountingReader(log)
    return TailedReader(inner, log, fresh_within=1e-9, **options), inner


async def status(reader: TailedReader, execution_id: str) -> str | None:
    view = await reader.execution(execution_id)
    return None if view is None else view.status


async def test_tailed__every_read_is_current_and_only_unseen_ones_read_the_changelog(
    log: EventLog,
) -> None:
    await write(log, "before", "submitted")  # written before the reader started
    reader, inner = tailed(log)
    try:
        assert await status(reader, "before") == "submitted"
        assert inner.reads == 1  # not seen by the tail: read once, then kept
        for state in ("running", "paused", "running", "completed"):
            await write(log, "before", state)
            await write(log, "after", state)
            assert await status(reader, "before") == state  # right after the write
            assert await status(reader, "after") == state
        assert inner.reads == 1  # every later read came from the tail
        await write(log, "after", None)
        assert await status(reader, "after") is None  # the tombstone is kept too
        assert await status(reader, "nobody") is None
        assert inner.reads == 2
    finally:
        await reader.close()


async def test_tailed__memory_stays_within_its_bound_and_reads_stay_right(
    log: EventLog,
) -> None:
    one = len(orjson.dumps(view_to_dict(ExecutionView(execution_id="x-00", status="running"))))
    reader, inner = tailed(log, cache_bytes=3 * one + one // 2)
    try:
        await status(reader, "x-00")  # starts the tail
        for i in range(10):
            await write(log, f"x-{i:02}", "running")
        for _ in range(2):
            for i in range(10):
                assert await status(reader, f"x-{i:02}") == "running"
                count, size = reader.kept
                assert count <= 3 and size <= reader.cache_bytes
        assert inner.reads > 1  # evicted ones were read again from the changelog
    finally:
        await reader.close()


async def test_tailed__two_replicas_answer_alike(
    log: EventLog, log_url: Callable[[str], str]
) -> None:
    other = open_log(log.url)
    first, _ = tailed(log)
    second, _ = tailed(other)
    try:
        for state in ("submitted", "running", "completed"):
            await write(log, "shared", state)
            assert await status(first, "shared") == await status(second, "shared") == state
    finally:
        await first.close()
        await second.close()
        await other.close()
