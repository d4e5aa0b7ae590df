"""The alert evaluator: follows ``omium.events``, appends alerts once, hands them to sinks.

It reads each partition from the offset its :class:`~.store.AlertStore` says it evaluated,
applies the pure rules (:func:`~omium.projections.alerts.evaluate`), lets the timers run
(:func:`~omium.projections.alerts.tick`) with the wall clock once every partition is
caught up, and writes state, offsets and alerts in one store transaction. Then it appends
the outbox to ``omium.alerts`` and gives what the log has to the :class:`~.sinks.Dispatcher`.

Timers only tick when caught up: a run half-read from a backlog is not stuck, its next
events are just not read yet. Several evaluators on one embedded log take turns through
the store's transaction; each reloads the state when another one moved it on. On Kafka,
``partitions`` keeps an evaluator to a member's share of the partitions
(:mod:`.members`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from omium.processors.alerts.sinks import Dispatcher, Sink
from omium.processors.alerts.store import AlertStore
from omium.producers import EventLog
from omium.producers.clock import now_ms
from omium.producers.pricing import cost_usd
from omium.projections.alerts import Alert, Pricer, evaluate, tick
from omium.schemas import InvalidEvent, decode
from omium.schemas.alert_rules import Rule
from omium.schemas.topics import ALERTS, EVENTS

#: records read per partition per transaction
CHUNK = 2000


class AlertEvaluator:
    """The embedded runtime's alert processor (see the module docs)."""

    name = "omium-alerts"

    def __init__(
        self,
        log: EventLog,
        store: AlertStore,
        rules: Sequence[Rule],
        *,
        sinks: dict[str, list[Sink]] | None = None,
        clock: Callable[[], int] = now_ms,
        price: Pricer | None = cost_usd,
        chunk: int = CHUNK,
        lease: float = 300.0,
        tick_every: float = 0.5,
        partitions: Callable[[int], bool] | None = None,
    ) -> None:
        self.log = log
        self.store = store
        self.rules = list(rules)
        self.clock = clock
        self.price = price
        self.chunk = chunk
        self.lease_ms = int(lease * 1000)
        self.tick_ms = int(tick_every * 1000)
        #: which partitions of omium.events this evaluator reads (a member's share)
        self.partitions = partitions or (lambda _: True)
        self._ticked_ms = 0
        self.dispatcher = Dispatcher(log, sinks or {}, self._delivered)
        self.state = store.state()
        self._version = -1  # unknown: load the stored state before the first chunk
        self._lock = asyncio.Lock()
        self._recovered = False
        self.appended = 0  # alert events this evaluator appended to the log

    async def catch_up(self) -> int:
        """Evaluate every record not evaluated yet, append, deliver; how many were read."""
        async with self._lock:
            total = 0
            while True:
                read = await self._chunk()
                total += read
                if read == 0:
                    break
            await self.flush()
            self.deliver()
            return total

    async def _chunk(self) -> int:
        ends = {
            p: e for p, e in (await self.log.end_offsets(EVENTS.name)).items() if self.partitions(p)
        }
        clock = self.clock()
        now = datetime.fromtimestamp(clock / 1000, UTC)
        idle = all(self.store.applied().get(p, 0) >= end for p, end in ends.items())
        if idle and clock - self._ticked_ms < self.tick_ms:
            return 0  # nothing to read, no tick due: no write transaction either
        with self.store.transaction():
            try:
                version = self.store.version()
                if version != self._version:
                    self.state, self._version = self.store.state(), version
                applied = self.store.applied()
                alerts: list[Alert] = []
                moved: dict[int, int] = {}
                for partition, end in sorted(ends.items()):
                    start = applied.get(partition, 0)
                    if start >= end:
                        continue
                    stop = min(end, start + self.chunk)
                    for record in await self.log.read(EVENTS.name, partition, start, stop):
                        try:
                            event = record.event()
                        except InvalidEvent:
                            continue  # poison: the projector sets it aside on omium.dlq
                        alerts += evaluate(self.rules, self.state, event, price=self.price)
                    moved[partition] = stop
                caught_up = all(moved.get(p, applied.get(p, 0)) >= end for p, end in ends.items())
                if caught_up:
                    alerts += tick(self.rules, self.state, now)
                    self._ticked_ms = clock
                if moved or alerts:
                    self._version = self.store.save(self.state, moved, alerts)
            except BaseException:
                self._version = -1  # the state in memory is ahead of the store: reload it
                raise
        return sum(moved[p] - applied.get(p, 0) for p in moved)

    async def flush(self) -> int:
        """Append outbox rows the log does not have yet; how many were appended."""
        if self._recovered and not self.store.unappended():
            return 0
        with self.store.transaction():
            rows = self.store.unappended()
            if not rows:
                self._recovered = True
                return 0
            present: list[int] = []
            if not self._recovered:  # did a previous process append them, then die?
                present = await self._already_appended(rows)
            fresh = [(n, body) for n, body in rows if n not in present]
            events = [decode(body) for _, body in fresh]
            positions = await self.log.append_batch(events) if events else []
            ends = self.store.alerts_end()
            for position in positions:
                ends[position.partition] = max(ends.get(position.partition, 0), position.offset + 1)
            self.store.mark_appended([n for n, _ in rows], ends)
        self._recovered = True
        self.appended += len(fresh)
        return len(fresh)

    async def _already_appended(self, rows: list[tuple[int, bytes]]) -> list[int]:
        wanted = {decode(body).event_id: n for n, body in rows}
        found = []
        for partition, start in sorted((await self._alerts_from()).items()):
            for record in await self.log.read(ALERTS.name, partition, start):
                try:
                    n = wanted.get(record.event().event_id)
                except InvalidEvent:
                    continue
                if n is not None:
                    found.append(n)
        return found

    async def _alerts_from(self) -> dict[int, int]:
        known = self.store.alerts_end()
        partitions = await self.log.partitions(ALERTS.name)
        return {p: known.get(p, 0) for p in range(partitions)}

    def deliver(self) -> None:
        """Hand the log's alerts that no sink has finished to the dispatcher."""
        if self.store.pending_deliveries() <= self.dispatcher.in_flight:
            return  # all of them are in flight here already (or there are none)
        with self.store.transaction():
            claimed = self.store.claim(self.clock(), self.lease_ms)
        for n, rule, body in claimed:
            self.dispatcher.submit(n, rule, decode(body))

    def _delivered(self, n: int) -> None:
        with self.store.transaction():
            self.store.mark_delivered(n)

    async def run(self, stop: asyncio.Event, interval: float = 0.05, drain: float = 5.0) -> None:
        """Keep evaluating until ``stop`` is set; then give deliveries ``drain`` seconds."""
        try:
            while not stop.is_set():
                await self.catch_up()
                try:
                    await asyncio.wait_for(stop.wait(), interval)
                except TimeoutError:
                    pass
        finally:
            await self.dispatcher.drain(drain)
