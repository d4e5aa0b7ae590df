"""Reading the faust projections from any process: the table's changelog topic on Kafka.

The changelog holds, per execution, every version of its stored view, keyed by execution
id, on the partition of the execution's events (compaction keeps only the newest, in
time). The newest version is the last record with the key, so a lookup reads the key's
partition backwards in windows from the end and stops at the first window holding the key:
an execution that changed recently costs one window, whatever the topic's size.
"""

from __future__ import annotations

from datetime import timedelta

import orjson

from omium.processors.listing import CLOCK_SKEW, Listing, NewestViews
from omium.producers import EventLog, Record
from omium.producers.partitioner import partition_for
from omium.projections import ExecutionView, view_from_dict
from omium.schemas import NoViews, TopicNotFound
from omium.schemas.topics import VIEWS_CHANGELOG

#: offsets read per backward step
WINDOW = 2000

#: a listing's first backward step per partition (it doubles up to WINDOW): a page of the
#: newest executions usually needs only the last few dozen records of each
FIRST_WINDOW = 64


def view_of(record: Record) -> ExecutionView | None:
    """The view a changelog record holds (None for a tombstone or an unknown format)."""
    if not record.value:
        return None  # a tombstone
    try:
        return view_from_dict(orjson.loads(record.value))
    except (ValueError, KeyError, TypeError):
        return None  # another format: a rebuild (omium projections rebuild) will tell


class ChangelogReader:
    """A :class:`~omium.processors.reader.ProjectionReader` over the faust table changelog."""

    topic = VIEWS_CHANGELOG.name

    def __init__(
        self,
        log: EventLog,
        *,
        window: int = WINDOW,
        first_window: int = FIRST_WINDOW,
        clock_skew: timedelta = CLOCK_SKEW,
    ) -> None:
        self.log = log
        self.window = window
        self.first_window = first_window
        self.clock_skew = clock_skew

    async def _partitions(self) -> int:
        try:
            return await self.log.partitions(self.topic)
        except TopicNotFound:
            raise NoViews(
                f"no execution views on {self.log.url} yet",
                hint="start `omium processors` (or `omium worker`) against it",
            ) from None

    async def execution(self, execution_id: str) -> ExecutionView | None:
        """See :class:`~omium.processors.reader.ProjectionReader`."""
        newest = await self.newest_record(execution_id)
        return None if newest is None else view_of(newest)

    async def newest_record(self, execution_id: str) -> Record | None:
        """The changelog's last record of ``execution_id`` (maybe a tombstone), or None."""
        partitions = await self._partitions()
        partition = partition_for(execution_id, partitions)
        end = (await self.log.end_offsets(self.topic)).get(partition, 0)
        while end > 0:
            start = max(0, end - self.window)
            records = await self.log.read(self.topic, partition, start, end)
            mine = [r for r in records if r.key == execution_id]
            if mine:
                return mine[-1]
            end = start
        return None

    async def executions(self, status: str | None = None) -> list[ExecutionView]:
        """Every execution: the whole changelog (at scale, ask analytics instead)."""
        latest: dict[str, Record] = {}
        await self._partitions()
        for partition, end in (await self.log.end_offsets(self.topic)).items():
            for record in await self.log.read(self.topic, partition, 0, end):
                if record.key is not None and not record.key.startswith("__omium"):
                    latest[record.key] = record
        views = [v for v in map(view_of, latest.values()) if v is not None]
        views = [v for v in views if status is None or v.status == status]
        return sorted(views, key=lambda v: (v.submitted_at is None, v.submitted_at, v.execution_id))

    async def newest(self, listing: Listing) -> list[ExecutionView]:
        """See :class:`~omium.processors.reader.ProjectionReader`.

        Reads every partition backwards, a window at a time (all in one fetch), until no
        unread view can rank (:mod:`~omium.processors.listing`).
        """
        await self._partitions()
        ends = {p: end for p, end in (await self.log.end_offsets(self.topic)).items() if end}
        window = self.first_window
        frontier: dict[int, int] = {}  # per partition, the oldest timestamp read so far
        scan = NewestViews(listing, self.clock_skew)
        while ends:
            ranges = {p: (max(0, end - window), end) for p, end in ends.items()}
            newest: dict[str, Record] = {}  # per key, its newest version this round
            for partition, records in (await self.log.read_many(self.topic, ranges)).items():
                frontier[partition] = min(r.timestamp_ms for r in records)
                for record in reversed(records):
                    key = record.key
                    if key is None or key.startswith("__omium") or key in scan.seen:
                        continue  # a marker, or a view met in a newer window
                    newest.setdefault(key, record)
            # newest write first: parsing stops where no older write can rank (and the keys
            # left unparsed are met: an older version of one must not stand in for it)
            scan.seen.update(newest)
            for key, record in sorted(newest.items(), key=lambda kv: -kv[1].timestamp_ms):
                if scan.complete(record.timestamp_ms):
                    break
                scan.offer(key, record.value)
            # read on only where an unread view could still rank
            ends = {
                p: start
                for p, (start, _) in ranges.items()
                if start > 0 and not scan.complete(frontier[p])
            }
            window = min(self.window, window * 2)
        return scan.page()

    async def close(self) -> None:
        """Nothing to release: the log belongs to the caller."""
