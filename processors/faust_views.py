"""How the faust app keeps its views: decoded in a cache, written to the changelog in flushes.

The fold is cheap next to what faust does per changelog message (its producer machinery
costs about as much per record as its consumer's), so the agents do not write a view per
batch: :class:`ViewWriter` keeps every view changed since the last flush and writes each
once per flush, with each partition's applied-offset marker after its views. A flush
starts at once when the stream has caught up with its partitions (a live stream's views
stay fresh), otherwise :data:`FLUSH_EVERY` seconds after the first change it holds or at
:data:`FLUSH_RECORDS` records (a backlog: an execution's view is written once for many of
its events).

Nothing waits for the changelog in the agent: each record's faust message holds one
more reference (``Message.incref``) until the flush holding its effects is acknowledged
by Kafka; only then is the record acknowledged, so faust never commits an offset whose
views could still be lost (a SIGKILL re-delivers them, and the offset marker or the
fold's seq check makes the second pass change nothing). A flush that fails replaces the
process (``on_failure``): nothing after it is acknowledged.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

import orjson

from omium.projections import ExecutionView, view_from_dict, view_to_dict

#: a backlog's flush: this long after the first unwritten change (each of 500 interleaved
#: executions then gains several events per write), or at this many records
FLUSH_EVERY, FLUSH_RECORDS = 2.0, 20_000

#: flushes on their way to Kafka before an agent waits for the oldest (bounds memory)
IN_FLIGHT = 4

#: the table key of a partition's applied-offset marker (never an execution id)
MARKER = "__omium_next_offset__:{}"


def stripped(view: ExecutionView) -> ExecutionView:
    """``view`` without checkpoint snapshots, copying only the checkpoints that hold one.

    A stored view keeps no snapshots (they stay in the log); a fold adds at most a few
    checkpoints per batch, so the others are kept as they are.
    """
    if all(c.state is None for c in view.checkpoints):
        return view
    checkpoints = tuple(c if c.state is None else replace(c, state=None) for c in view.checkpoints)
    return replace(view, checkpoints=checkpoints)


class ViewCache:
    """Decoded views by execution id, valid while the table still holds the very bytes.

    Decoding a stored view costs more than folding an event into it. The table's memory
    store keeps the object it was given, so an identity check tells whether the table
    still holds what this process wrote (after a rebalance or recovery it holds other
    objects, and the view is decoded again). Bounded: the oldest entries go first.
    """

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._views: OrderedDict[str, tuple[bytes, ExecutionView]] = OrderedDict()

    def get(self, execution_id: str, stored: bytes) -> ExecutionView:
        """The view ``stored`` holds, decoded at most once."""
        hit = self._views.get(execution_id)
        if hit is not None and hit[0] is stored:
            self._views.move_to_end(execution_id)
            return hit[1]
        view = view_from_dict(orjson.loads(stored))
        self.put(execution_id, stored, view)
        return view

    def put(self, execution_id: str, stored: bytes, view: ExecutionView) -> None:
        """Remember that ``stored`` is ``view`` (as stored: without checkpoint snapshots)."""
        self._views[execution_id] = (stored, stripped(view))
        self._views.move_to_end(execution_id)
        while len(self._views) > self.size:
            self._views.popitem(last=False)


class ViewWriter:
    """The views changed since the last flush, and the records whose acks wait for it."""

    def __init__(
        self,
        table: Any,
        cache: ViewCache,
        on_failure: Callable[[BaseException], None],
        *,
        every: float = FLUSH_EVERY,
        records: int = FLUSH_RECORDS,
    ) -> None:
        self.table, self.cache, self.on_failure = table, cache, on_failure
        self.every, self.records = every, records
        self.dirty: dict[str, ExecutionView] = {}
        self.markers: dict[int, int] = {}
        self.sent: list[Awaitable[Any]] = []  # e.g. dead letters, due with the next flush
        self.held: list[Any] = []  # faust events whose ack waits for the next flush
        self.since: float | None = None  # when the first unwritten change was made
        self.in_flight: deque[asyncio.Future[Any]] = deque()
        # a loop callback, not a faust timer: faust stops its timers before it waits for
        # the records in hand to be acknowledged (on shutdown), which would then never end
        self._timer: asyncio.TimerHandle | None = None

    def load(self, execution_id: str) -> ExecutionView | None:
        """The newest view of ``execution_id``: unwritten, else the table's."""
        view = self.dirty.get(execution_id)
        if view is not None:
            return view
        stored = self.table.get(execution_id.encode())
        return self.cache.get(execution_id, stored) if stored is not None else None

    def expected(self, partition: int) -> int | None:
        """The next offset of ``partition`` to fold (None before its first batch)."""
        stored = self.table.get(MARKER.format(partition).encode())
        return int(stored) if stored is not None else None

    def hold(
        self,
        events: Sequence[Any],
        views: dict[str, ExecutionView],
        markers: dict[int, int] | None = None,
        sent: Iterable[Awaitable[Any]] = (),
    ) -> None:
        """Take a batch's changes; its ``events`` are acknowledged once they are written."""
        for event in events:
            event.message.incref()
        self.held.extend(events)
        self.dirty.update(views)
        for partition, offset in (markers or {}).items():
            # in the table at once: the next batch's duplicate check reads it
            self.table.data[MARKER.format(partition).encode()] = str(offset).encode()
            self.markers[partition] = offset
        self.sent.extend(sent)
        if self.since is None and (views or markers or self.held):
            self.since = time.monotonic()
            self._timer = asyncio.get_running_loop().call_later(self.every, self.flush)

    def due(self, caught_up: bool) -> bool:
        """Whether to flush now (``caught_up``: the stream has nothing more to deliver)."""
        if self.since is None:
            return False
        return (
            caught_up
            or len(self.held) >= self.records
            or time.monotonic() - self.since >= self.every
        )

    def flush(self) -> asyncio.Future[Any] | None:
        """Write every unwritten view once, then the markers; None if nothing was held.

        All of it happens in one step of the event loop, so an agent never sees a view
        half written. The returned future resolves once Kafka has acknowledged it all and
        the held records are acknowledged to faust.
        """
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.since is None:
            return None
        sent, held = self.sent, self.held
        for execution_id, view in self.dirty.items():
            stored, key = orjson.dumps(view_to_dict(view)), execution_id.encode()
            self.table.data[key] = stored
            # partition None: the table's partitioner puts it beside the execution's events
            sent.append(self.table.send_changelog(None, key, stored))
            self.cache.put(execution_id, stored, view)
        for partition, offset in self.markers.items():
            key = MARKER.format(partition).encode()
            sent.append(self.table.send_changelog(partition, key, str(offset).encode()))
        self.dirty, self.markers, self.sent, self.held, self.since = {}, {}, [], [], None
        done: asyncio.Future[Any] = asyncio.ensure_future(asyncio.gather(*sent))
        done.add_done_callback(lambda future: self._written(future, held))
        self.in_flight.append(done)
        return done

    def _written(self, done: asyncio.Future[Any], held: list[Any]) -> None:
        self.in_flight.remove(done)
        failure = None if done.cancelled() else done.exception()
        if done.cancelled() or failure is not None:
            self.on_failure(failure or asyncio.CancelledError())
            return
        for event in held:
            event.ack()

    async def settle(self) -> None:
        """Wait while too many flushes are on their way (back-pressure for the agents)."""
        while len(self.in_flight) >= IN_FLIGHT:
            await asyncio.wait([self.in_flight[0]])

    async def drain(self) -> None:
        """Flush what is held and wait until every flush is acknowledged."""
        self.flush()
        while self.in_flight:
            await asyncio.wait(list(self.in_flight))
