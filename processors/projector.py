"""Folding ``omium.events`` into stored views, shared by both runtimes, and the embedded runner.

:func:`fold_records` is the one place a record becomes a view update: it decodes, checks
the record belongs where it sits, applies the pure fold, and turns anything it cannot fold
into a :class:`DeadLetter` instead of stopping. The faust agents and the embedded
:class:`Projector` both call it.

The embedded projector reads each partition from the offset its store says it applied,
folds a chunk, and writes the views with the new offsets in one transaction; a crash
re-reads the chunk, and the fold's seq check makes the second pass change nothing.

Both also read ``omium.commands``: a ``run`` command with no events yet is folded into a
``queued`` view (:func:`~omium.projections.queue`, idempotent), so listings show work that
waits for a worker without a scan of the commands on every list. Other commands, and
records of it that do not decode, are the worker's business and are skipped here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson

from omium.processors.view_store import SqliteViews
from omium.producers import EventLog, Record
from omium.projections import ExecutionView, apply_at, queue
from omium.schemas import DeadLetter, InvalidEvent, Run
from omium.schemas.topics import COMMANDS, DLQ, EVENTS

CHUNK = 2000


@dataclass
class Folded:
    """What a chunk of records did: the views it changed and the records it set aside."""

    views: dict[str, ExecutionView] = field(default_factory=dict)
    dead: list[DeadLetter] = field(default_factory=list)


def fold_records(
    records: Iterable[Record],
    load: Callable[[str], ExecutionView | None],
    *,
    processor: str,
    into: Folded | None = None,
) -> Folded:
    """Fold ``records`` into their executions' views (``load`` gives the stored ones)."""
    out = into or Folded()
    for record in records:
        position = record.position
        try:
            event = record.event()
            if record.key is not None and record.key != event.execution_id:
                raise InvalidEvent(
                    f"record key {record.key!r} is not its execution id {event.execution_id!r}"
                )
            view = out.views.get(event.execution_id)
            if view is None:
                view = load(event.execution_id) or ExecutionView(execution_id=event.execution_id)
            out.views[event.execution_id] = apply_at(
                event, view, (position.topic, position.partition, position.offset)
            )
        except Exception as exc:  # poison, or a fold bug: set it aside, keep the stream going
            out.dead.append(dead_letter(record, exc, processor))
    return out


def fold_commands(
    records: Iterable[Record],
    load: Callable[[str], ExecutionView | None],
    *,
    into: Folded | None = None,
) -> Folded:
    """Fold the ``run`` commands among ``records`` into ``queued`` views (see the module docs).

    Only views that change are returned: a run whose execution has events changes nothing.
    """
    out = into or Folded()
    for record in records:
        try:
            command = record.event()
        except Exception:  # noqa: BLE001 - the worker sets bad commands aside, not us
            continue
        if not isinstance(command, Run):
            continue
        view = out.views.get(command.execution_id)
        if view is None:
            view = load(command.execution_id) or ExecutionView(execution_id=command.execution_id)
        queued = queue(command, view)
        if queued is not view:
            out.views[command.execution_id] = queued
    return out


def dead_letter(record: Record, error: Exception, processor: str) -> DeadLetter:
    """The DLQ entry for a record that could not be folded."""
    reason = str(error) if isinstance(error, InvalidEvent) else f"{type(error).__name__}: {error}"
    return DeadLetter(
        topic=record.position.topic,
        partition=record.position.partition,
        offset=record.position.offset,
        key=record.key,
        value=record.value.decode("utf-8", errors="replace"),
        reason=reason,
        processor=processor,
    )


async def send_dead(log: EventLog, dead: list[DeadLetter]) -> None:
    """Append dead letters to ``omium.dlq``, keyed by the original key."""
    if dead:
        await log.append_records(
            [(DLQ.name, d.key, orjson.dumps(d.model_dump(mode="json"))) for d in dead]
        )


class Projector:
    """The embedded runtime's processor: folds the log into a :class:`SqliteViews` store."""

    name = "omium-projector"

    def __init__(self, log: EventLog, store: SqliteViews, *, chunk: int = CHUNK) -> None:
        self.log = log
        self.store = store
        self.chunk = chunk
        self._lock = asyncio.Lock()
        self.dead_letters = 0
        self.send_dead = True  # a rebuild only counts them

    async def catch_up(self, until: Callable[[Record], bool] | None = None) -> int:
        """Fold every record not folded yet; returns how many records were read.

        ``until``: stop a partition at the first record for which it is true (a rebuild
        as of a point).
        """
        async with self._lock:
            total = 0
            for topic in (EVENTS.name, COMMANDS.name):
                ends = await self.log.end_offsets(topic)
                for partition, end in sorted(ends.items()):
                    while True:
                        read = await self._chunk(topic, partition, end, until)
                        total += read
                        if read == 0:
                            break
            return total

    async def _chunk(
        self, topic: str, partition: int, end: int, until: Callable[[Record], bool] | None
    ) -> int:
        with self.store.transaction():  # other processes' projectors wait here
            start = self.store.applied(topic).get(partition, 0)
            if start >= end:
                return 0
            records = await self.log.read(topic, partition, start, min(end, start + self.chunk))
            if until is not None:
                kept = [r for r in records if not until(r)]
                if len(kept) < len(records):
                    end = start + len(kept)  # nothing after the point in this partition
                records = kept
            if not records:
                return 0
            if topic == COMMANDS.name:
                folded = fold_commands(records, self.store.get)
            else:
                folded = fold_records(records, self.store.get, processor=self.name)
            if self.send_dead:
                await send_dead(self.log, folded.dead)
            self.dead_letters += len(folded.dead)
            self.store.save(folded.views, {partition: records[-1].position.offset + 1}, topic)
            return len(records)

    async def run(self, stop: asyncio.Event, interval: float = 0.2) -> None:
        """Keep the store caught up until ``stop`` is set."""
        while not stop.is_set():
            await self.catch_up()
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass
