"""The ClickHouse sink: ``omium.events`` into the analytics tables, in batches, exactly once.

The sink reads the log by position (``EventLog.read``) from where the store says it is: the
positions are kept in the store itself (``sink_batches``), beside the rows they produced.
Each batch (up to ``rows`` records, 10,000 by default) is written in three moves:

1. a ``planned`` row with the batch's exact ranges per partition;
2. the rows of every table, each insert with ``insert_deduplication_token``
   ``"<consumer>:<batch>:<table>"``;
3. a ``committed`` row.

A sink killed anywhere in between finds its newest batch planned but not committed, reads
those same ranges again and writes them with the same tokens: the engine drops the inserts
that had landed, and adds the ones that had not. So ``count()`` of ``events`` stays equal to
``uniqExact(event_id)`` however often the sink dies (``tests/analytics`` kills it).

Why not a consumer group (aiokafka's, or a faust agent)? Its committed offsets would be a
second record of progress that a crash can leave behind the store's; the store's own
positions are the one truth here, and ``EventLog.read`` serves them on both logs. One sink
per store reads every partition.

Worker loop (:meth:`AnalyticsSink.run`): a batch is written once ``rows`` records wait, or
``within`` seconds (1 s) after the first one arrived. On chDB every batch is one
:meth:`~omium.processors.analytics.store.AnalyticsPlace.session`: the folder is free
between batches, and readers catch the store up themselves under the same lock.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omium.processors.analytics.migrations import migrate
from omium.processors.analytics.rows import (
    ModelPrices,
    decoded,
    execution_changes,
    ids_of,
    rows_of,
)
from omium.processors.analytics.store import AnalyticsPlace, AnalyticsStore
from omium.producers import BrokerCluster, EventLog, LocalFile, Record
from omium.projections.analytics import EXECUTION_COLUMNS, AnalyticsRows, ExecutionRow, Pricer
from omium.schemas import OmiumError
from omium.schemas.topics import EVENTS

logger = logging.getLogger("omium.processors")

CONSUMER = "omium-analytics"
#: records per batch, and how long the first waiting record may wait (seconds)
BATCH_ROWS, BATCH_SECONDS = 50_000, 1.0

#: (partition, start, end): one partition's half-open range of a batch
Range = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Batch:
    """A batch's number and the ranges of the log it covers."""

    number: int
    ranges: tuple[Range, ...]


@dataclass
class Progress:
    """Where the sink stands in the store: per partition the next offset, and a batch to redo."""

    positions: dict[int, int] = field(default_factory=dict)
    last: int = 0
    pending: Batch | None = None


def progress(store: AnalyticsStore, consumer: str = CONSUMER) -> Progress:
    """Read the sink's progress from ``sink_batches``."""
    params = {"c": consumer}
    _, rows = store.query(
        "SELECT p, max(e) FROM sink_batches ARRAY JOIN partitions AS p, ends AS e "
        "WHERE consumer = {c:String} AND state = 'committed' GROUP BY p",
        params,
    )
    out = Progress(positions={int(p): int(e) for p, e in rows})
    _, last = store.query(
        "SELECT batch, max(toInt8(state)), any(partitions), any(starts), any(ends) "
        "FROM sink_batches WHERE consumer = {c:String} GROUP BY batch ORDER BY batch DESC LIMIT 1",
        params,
    )
    if last:
        number, state, parts, starts, ends = last[0]
        out.last = int(number)
        if state == 1:  # planned, never committed: a crash cut it short
            out.pending = Batch(int(number), tuple(zip(parts, starts, ends, strict=True)))
    return out


def record_batch(store: AnalyticsStore, consumer: str, batch: Batch, state: str) -> None:
    """Write the ``planned`` or ``committed`` row of ``batch``."""
    parts = [r[0] for r in batch.ranges]
    starts = [r[1] for r in batch.ranges]
    ends = [r[2] for r in batch.ranges]
    store.insert(
        "sink_batches",
        {
            "consumer": [consumer],
            "batch": [batch.number],
            "state": [state],
            "topic": [EVENTS.name],
            "partitions": [parts],
            "starts": [starts],
            "ends": [ends],
            "at": [datetime.now(UTC)],
        },
        token=f"{consumer}:{batch.number}:{state}",
    )


def load_executions(store: AnalyticsStore, ids: list[str]) -> dict[str, ExecutionRow]:
    """The stored rows of executions ``ids`` (the newest version of each)."""
    if not ids:
        return {}
    names, rows = store.query(
        f"SELECT {', '.join(EXECUTION_COLUMNS)} FROM executions FINAL "
        "WHERE execution_id IN {ids:Array(String)}",
        {"ids": ids},
    )
    return {r[1]: ExecutionRow(**_row(names, r)) for r in rows}


def _row(names: list[str], row: tuple[Any, ...]) -> dict[str, Any]:
    kinds = {f.name: f.type for f in fields(ExecutionRow)}
    out = dict(zip(names, row, strict=True))
    for name, value in out.items():
        if isinstance(value, datetime) and value.tzinfo is None:
            out[name] = value.replace(tzinfo=UTC)
        if kinds[name] == "int":
            out[name] = int(value)
    out["step_agents"] = dict(out["step_agents"])
    out["step_runs"] = {step: int(bits) for step, bits in out["step_runs"].items()}
    return out


def consumer_for(log: EventLog) -> str:
    """The name the sink keeps its positions under: one per log, whatever its URL's spelling.

    Positions only mean something in the log they were read from; a store fed from two logs
    keeps two sets of positions instead of skipping one log's events.
    """
    if isinstance(log, LocalFile):
        where = log.path if log.path == ":memory:" else str(Path(log.path).resolve())
    elif isinstance(log, BrokerCluster):
        where = f"kafka://{log.bootstrap}/{log.prefix}"
    else:
        where = log.url
    return f"{CONSUMER}:{where}"


class AnalyticsSink:
    """Writes ``omium.events`` into the analytics store (see the module docs).

    Args:
        log: the event log.
        place: where the analytics live.
        consumer: the name the sink's progress is kept under (default: one per log).
        rows: records per batch.
        within: seconds the worker loop lets the first waiting record wait.
        price: prices ``llm.call`` events that carry no cost (default: omium's table,
            :class:`~.rows.ModelPrices`).
        stage: called with ``"planned"``, each table's name and ``"committed"`` after each
            move of a batch (tests kill the process there).
    """

    def __init__(
        self,
        log: EventLog,
        place: AnalyticsPlace,
        *,
        consumer: str | None = None,
        rows: int = BATCH_ROWS,
        within: float = BATCH_SECONDS,
        price: Pricer | None = None,
        stage: Callable[[str], None] | None = None,
    ) -> None:
        self.log = log
        self.place = place
        self.consumer = consumer or consumer_for(log)
        self.rows = rows
        self.within = within
        self.price = price or ModelPrices()
        self.stage = stage or (lambda _: None)
        self.positions: dict[int, int] = {}
        self.batches = 0

    async def sync(self) -> int:
        """Catch the store up with the log in one session; returns the records written."""
        async with self.place.session() as store:
            await asyncio.to_thread(migrate, store)
            return await self.catch_up(store)

    async def catch_up(self, store: AnalyticsStore, start: int = 0) -> int:
        """Write every record not written yet (``start``: where a new partition begins)."""
        now = await asyncio.to_thread(progress, store, self.consumer)
        written = 0
        if now.pending is not None:  # finish what a killed sink began, with its tokens
            written += await self._write(store, now.pending)
            for partition, _, end in now.pending.ranges:
                now.positions[partition] = max(now.positions.get(partition, 0), end)
        number = max(now.last, now.pending.number if now.pending else 0)
        ends = await self.log.end_offsets(EVENTS.name)
        while True:
            ranges = _plan(now.positions, ends, self.rows, start)
            if not ranges:
                break
            number += 1
            written += await self._write(store, Batch(number, ranges))
            for partition, _, end in ranges:
                now.positions[partition] = end
        self.positions = now.positions
        return written

    async def _write(self, store: AnalyticsStore, batch: Batch) -> int:
        records: list[Record] = []
        for partition, begin, end in batch.ranges:
            records += await self.log.read(EVENTS.name, partition, begin, end)
        await asyncio.to_thread(self._insert, store, batch, records)
        self.batches += 1
        return len(records)

    def build_rows(
        self, store: AnalyticsStore, records: list[Record]
    ) -> tuple[AnalyticsRows, dict[str, ExecutionRow]]:
        """The rows of ``records``, and the stored rows of the executions they touch.

        Records that do not validate are left out (they are the projector's DLQ's).
        """
        facts = decoded(records)
        prior = load_executions(store, ids_of(facts))
        return rows_of(facts, prior, self.price), prior

    def tables(self, store: AnalyticsStore, records: list[Record]) -> dict[str, dict[str, Any]]:
        """Each table's columns for ``records``, in the order they are written.

        ``execution_changes`` goes just before ``executions``: a batch redone after a crash
        between the two reads the executions as they were before it, and so writes the same
        changes (dropped by their token) — see 0009_daily_rollups.sql.
        """
        with _gc_paused():
            rows, prior = self.build_rows(store, records)
            tables: dict[str, dict[str, Any]] = rows.tables()
            runs = tables.pop("executions")
            tables["execution_changes"] = execution_changes(prior, rows.executions)
            tables["executions"] = runs
        return tables

    def _insert(self, store: AnalyticsStore, batch: Batch, records: list[Record]) -> None:
        tables = self.tables(store, records)
        record_batch(store, self.consumer, batch, "planned")
        self.stage("planned")
        for table, columns in tables.items():
            store.insert(table, columns, token=f"{self.consumer}:{batch.number}:{table}")
            self.stage(table)
        record_batch(store, self.consumer, batch, "committed")
        self.stage("committed")

    async def waiting(self) -> int:
        """How many records of the log are past the positions this sink last saw."""
        ends = await self.log.end_offsets(EVENTS.name)
        return sum(max(0, end - self.positions.get(p, 0)) for p, end in ends.items())

    async def run(self, stop: asyncio.Event, interval: float = 0.1) -> None:
        """Write batches as records arrive until ``stop`` is set (see the module docs)."""
        # the positions are unknown until the first pass, which catches up at once
        first_seen: float | None = time.monotonic() - self.within
        while not stop.is_set():
            waiting = await self.waiting()
            if not waiting:
                first_seen = None
            elif first_seen is None:
                first_seen = time.monotonic()
            due = first_seen is not None and time.monotonic() - first_seen >= self.within
            if waiting >= self.rows or (waiting and due):
                try:
                    await self.sync()
                    first_seen = None
                except OmiumError as error:  # the store is away: the records wait in the log
                    logger.warning("analytics sink: %s; trying again", error)
                    interval = max(interval, self.within)
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass


def _plan(
    positions: Mapping[int, int], ends: Mapping[int, int], rows: int, start: int
) -> tuple[Range, ...]:
    """The next batch: up to ``rows`` records, partitions in order, from the positions."""
    ranges: list[Range] = []
    room = rows
    for partition, end in sorted(ends.items()):
        begin = positions.get(partition, start)
        if begin >= end or room <= 0:
            continue
        stop = min(end, begin + room)
        ranges.append((partition, begin, stop))
        room -= stop - begin
    return tuple(ranges)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch's rows are built.

    A batch makes some 40 objects per record and keeps them: each makes the collector walk
    the whole heap (chDB, pandas, pydantic…) again, which took 20-40 % of the sink's time.
    The rows hold no cycles; whatever cyclic garbage another thread makes meanwhile is
    collected after the batch. Another thread's pause is left as it was.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
