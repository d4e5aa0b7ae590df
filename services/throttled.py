"""A view reader for a busy gateway on the embedded log: catch up at most every few ms.

The embedded reader folds whatever the log gained into the view store before every read
(a write transaction per partition of two topics: about 1 ms on this machine, most of a
``GET /executions/{id}``). Under hundreds of reads a second one catch-up serves them all:
:class:`ThrottledReader` runs it at most once per ``interval`` and otherwise reads the
store as it is. A view is then at most ``interval`` older than the log — the worker's
events reach a view asynchronously anyway — and an execution the store does not have yet
(just submitted) is always caught up for, so a caller reads its own submission at once.

Past the interval, the log's end offsets are compared with the store's positions first
(one read per partition, no write transaction): when the log gained nothing, the store is
read as it is. Before even that, a :class:`~omium.producers.Versioned` log (the SQLite
one) is asked whether anything was committed since the last such check: one PRAGMA
instead of 24 partition reads, most of the cost of a ``GET`` at a few hundred a second.
"""

from __future__ import annotations

import time

from omium.processors.listing import Listing
from omium.processors.reader import EmbeddedReader
from omium.processors.view_store import SqliteViews
from omium.producers import EventLog, Versioned
from omium.projections import ExecutionView
from omium.schemas.topics import COMMANDS, EVENTS


class ThrottledReader:
    """An :class:`EmbeddedReader` whose catch-up runs at most once per ``interval`` s."""

    def __init__(self, inner: EmbeddedReader, log: EventLog, interval: float) -> None:
        self.inner, self.log, self.interval = inner, log, interval
        self._caught_up = float("-inf")
        self._versioned = log if isinstance(log, Versioned) else None
        self._unchanged_at: tuple[int, int] | None = None  # the log's version when last equal

    @property
    def store(self) -> SqliteViews:
        """The view store read (and caught up) underneath."""
        return self.inner.store

    def _fresh(self) -> bool:
        return time.monotonic() - self._caught_up < self.interval

    async def _unchanged(self) -> bool:
        """Whether the store has folded everything the log holds (then: fresh from now)."""
        version = self._versioned.version() if self._versioned is not None else None
        if version is None or version != self._unchanged_at:
            for topic in (EVENTS.name, COMMANDS.name):
                applied = self.inner.store.applied(topic)
                ends = await self.log.end_offsets(topic)
                if any(end > applied.get(p, 0) for p, end in ends.items()):
                    return False
            self._unchanged_at = version  # taken before the offsets: no commit slips by
        self._caught_up = time.monotonic()
        return True

    async def execution(self, execution_id: str) -> ExecutionView | None:
        """See :class:`~omium.processors.reader.ProjectionReader`."""
        if self._fresh() or await self._unchanged():
            found = self.inner.store.get(execution_id)
            if found is not None and found.status != "unknown":
                return found
        self._caught_up = time.monotonic()
        return await self.inner.execution(execution_id)

    async def executions(self, status: str | None = None) -> list[ExecutionView]:
        """See :class:`~omium.processors.reader.ProjectionReader`."""
        if self._fresh() or await self._unchanged():
            return self.inner.store.all(status)
        self._caught_up = time.monotonic()
        return await self.inner.executions(status)

    async def newest(self, listing: Listing) -> list[ExecutionView]:
        """See :class:`~omium.processors.reader.ProjectionReader`."""
        if self._fresh() or await self._unchanged():
            return self.inner.store.newest(listing)
        self._caught_up = time.monotonic()
        return await self.inner.newest(listing)

    async def close(self) -> None:
        """See :class:`~omium.processors.reader.ProjectionReader`."""
        await self.inner.close()
