"""The gateway's view reads on Kafka: the changelog followed live, so a read costs no fetch.

:class:`~omium.processors.changelog.ChangelogReader` answers ``GET /executions/{id}`` with
two broker round trips (the end offsets, then a window of the key's partition), one read
at a time on the log's reader: about 100 reads a second, far below a gateway's load.
:class:`TailedReader` keeps, beside it, the newest changelog record of each execution it
has seen, in memory, bounded by bytes (least recently used out first):

- a :class:`~omium.producers.port.Tail` follows every partition of the changelog from the
  moment the reader starts, so every view written since is kept as it is written;
- an execution not met since then is read once through the changelog reader and kept;
  the newer of that record and the tail's wins (offsets order one key's records);
- a read is as fresh as the embedded gateway's: at most once per ``fresh_within`` s, the
  changelog's end offsets are fetched (one request, shared by every read waiting) and the
  read waits until the tail has passed them — at most :data:`CATCH_UP_S`, after which it
  reads the changelog itself.

A failed tail is dropped with everything it kept (records written meanwhile were missed):
reads go to the changelog reader alone, and after :data:`RETRY_S` a new tail starts. Each
replica keeps its own copy of views it reads, all from the same changelog, so replicas
stay interchangeable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

from omium.processors.changelog import ChangelogReader, view_of
from omium.processors.listing import Listing
from omium.producers import Record, Tail, Tailing
from omium.projections import ExecutionView
from omium.schemas import OmiumError

log = logging.getLogger(__name__)

#: the changelog bytes kept (a view is a few KB: some tens of thousands of executions)
CACHE_BYTES = 64 << 20
#: after a tail fails, reads go to the changelog alone this long before a new tail starts
RETRY_S = 1.0
#: how long a read waits for the tail to reach the end offsets before reading the changelog
CATCH_UP_S = 1.0


@dataclass(slots=True)
class _Kept:
    record: Record
    view: ExecutionView | None = None
    parsed: bool = False

    def parsed_view(self) -> ExecutionView | None:
        if not self.parsed:
            self.view, self.parsed = view_of(self.record), True
        return self.view


class TailedReader:
    """A :class:`ChangelogReader` whose single-execution reads come from a live tail."""

    def __init__(
        self,
        inner: ChangelogReader,
        log: Tailing,
        fresh_within: float,
        *,
        cache_bytes: int = CACHE_BYTES,
    ) -> None:
        self.inner, self.log = inner, log
        self.fresh_within, self.cache_bytes = fresh_within, cache_bytes
        self._kept: OrderedDict[str, _Kept] = OrderedDict()
        self._bytes = 0
        self._tail: Tail | None = None
        self._following: asyncio.Task[None] | None = None
        self._failed_at = float("-inf")
        self._fresh_at = float("-inf")  # when the tail was last seen at the changelog's end
        self._checking: asyncio.Task[bool] | None = None
        self._moved = asyncio.Event()  # set after every poll of the tail

    # -- the tail -------------------------------------------------------------------------

    async def _tailing(self) -> Tail | None:
        """The live tail (started now if none is), or None while tails fail."""
        if self._following is not None and not self._following.done():
            return self._tail
        if time.monotonic() - self._failed_at < RETRY_S:
            return None
        self._drop()
        tail = self.log.tail(self.inner.topic)
        try:
            await tail.start()
        except OmiumError as exc:  # no changelog yet, or the broker is away
            self._failed_at = time.monotonic()
            log.info("views read from the changelog only (%s)", exc)
            await tail.close()
            return None
        self._tail = tail
        self._following = asyncio.create_task(self._follow(tail), name="omium-views-tail")
        return tail

    async def _follow(self, tail: Tail) -> None:
        try:
            while True:
                for record in await tail.poll(0.5):
                    self._keep(record)
                self._moved.set()
                self._moved = asyncio.Event()
        except Exception as exc:  # noqa: BLE001 - any failure: reads go to the changelog
            self._failed_at = time.monotonic()
            log.warning("stopped following the views changelog: %s", exc)
        finally:
            self._moved.set()  # waiters see the tail gone
            with contextlib.suppress(Exception):
                await tail.close()

    def _drop(self) -> None:
        self._kept.clear()
        self._bytes, self._fresh_at, self._tail = 0, float("-inf"), None

    def _keep(self, record: Record) -> _Kept:
        """Keep ``record`` unless a newer one of its key is kept; returns what is kept."""
        key = record.key
        if key is None or key.startswith("__omium"):
            return _Kept(record)
        kept = self._kept.get(key)
        if kept is not None and kept.record.position.offset >= record.position.offset:
            return kept
        if kept is not None:
            self._bytes -= len(kept.record.value or b"")
        fresh = self._kept[key] = _Kept(record)
        self._kept.move_to_end(key)
        self._bytes += len(record.value or b"")
        while self._bytes > self.cache_bytes and len(self._kept) > 1:
            _, old = self._kept.popitem(last=False)
            self._bytes -= len(old.record.value or b"")
        return fresh

    async def _current(self, tail: Tail) -> bool:
        """Whether the tail holds what the changelog held when this read began."""
        if time.monotonic() - self._fresh_at < self.fresh_within:
            return True
        if self._checking is None or self._checking.done():
            self._checking = asyncio.create_task(self._check(tail))
        return await asyncio.shield(self._checking)

    async def _check(self, tail: Tail) -> bool:
        asked = time.monotonic()
        try:
            ends = await tail.end_offsets()
        except OmiumError:
            return False
        deadline = asked + CATCH_UP_S
        while any(tail.positions().get(p, 0) < end for p, end in ends.items()):
            left = deadline - time.monotonic()
            if left <= 0 or self._following is None or self._following.done():
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._moved.wait(), left)
        self._fresh_at = asked
        return True

    @property
    def kept(self) -> tuple[int, int]:
        """How many executions' records are kept, and their bytes."""
        return len(self._kept), self._bytes

    # -- ProjectionReader -----------------------------------------------------------------

    async def execution(self, execution_id: str) -> ExecutionView | None:
        """See :class:`~omium.processors.reader.ProjectionReader`."""
        tail = await self._tailing()
        if tail is None or not await self._current(tail):
            return await self.inner.execution(execution_id)
        kept = self._kept.get(execution_id)
        if kept is None:
            record = await self.inner.newest_record(execution_id)
            if record is None or self._tail is not tail:
                # None is not kept (it may be written any moment); nor is a record read
                # while the tail was replaced: the new one may have started after it
                return None if record is None else view_of(record)
            kept = self._keep(record)
        else:
            self._kept.move_to_end(execution_id)
        return kept.parsed_view()

    async def executions(self, status: str | None = None) -> list[ExecutionView]:
        """See :class:`~omium.processors.reader.ProjectionReader`."""
        return await self.inner.executions(status)

    async def newest(self, listing: Listing) -> list[ExecutionView]:
        """See :class:`~omium.processors.reader.ProjectionReader`."""
        return await self.inner.newest(listing)

    async def close(self) -> None:
        """Stop following the changelog; see :class:`ProjectionReader`."""
        following, self._following = self._following, None
        if following is not None:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following
        self._drop()
        await self.inner.close()
