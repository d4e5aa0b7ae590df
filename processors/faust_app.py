"""The Kafka runtime's projections: a faust-streaming app folding ``omium.events`` into a Table.

One agent consumes the events topic in batches; for each batch it calls the shared
:func:`~omium.processors.projector.fold_records` and writes each changed execution's view
once into the ``executions`` table (raw bytes: the stored view as JSON). faust writes the
table's changelog to the partition of the source record, so a view sits on the same
partition number as its execution's events, where :class:`ChangelogReader` looks for it.

Guarantees: at-least-once. faust commits source offsets every ``commit_interval`` after
flushing the changelog writes; a crash re-delivers what followed the last commit and the
fold's per-attempt seq check makes the second pass change nothing. faust's
``exactly_once`` is not used (open duplicate bugs). A record the fold cannot read goes to
``omium.dlq``; any other error ends the process at once (``os._exit``) so that nothing past
the last commit is acknowledged: faust would otherwise ack the failing batch and go on.

Pitfalls measured here (see README): the memory store rebuilds the table by replaying the
changelog on every start (about 4,000 records/s); without a static
``consumer_group_instance_id`` a restarted worker waits for the dead member's session to
expire; an id shared by two live processes makes them fence each other.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import faust
import orjson

from omium.infra.topics import DLQ, EVENTS, VIEWS_APP, VIEWS_CHANGELOG
from omium.processors.projector import Folded, fold_records
from omium.producers import Position, Record
from omium.projections import ExecutionView, view_from_dict, view_to_dict

logger = logging.getLogger("omium.processors")

#: records folded per batch, and how long a batch may wait to fill (seconds)
BATCH, WITHIN = 500, 0.05


def build_app(
    bootstrap: str,
    *,
    prefix: str = "",
    instance_id: str | None = None,
    datadir: Path = Path(".omium/faust"),
    commit_interval: float = 1.0,
    session_timeout: float = 10.0,
) -> faust.App:
    """The projections app for a cluster (``prefix``: the log's topic prefix)."""
    extra: dict[str, Any] = {}
    if instance_id:
        # static membership: a restarted worker gets its partitions back at once
        extra["consumer_group_instance_id"] = instance_id
    app = faust.App(
        prefix + VIEWS_APP,
        broker=[f"kafka://{host}" for host in bootstrap.split(",")],
        store="memory://",
        datadir=str(datadir),
        web_enabled=False,
        topic_partitions=EVENTS.partitions,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_interval=commit_interval,
        broker_session_timeout=session_timeout,
        broker_heartbeat_interval=min(3.0, session_timeout / 3),
        **extra,
    )
    raw = {**raw_types(), "key_serializer": "raw", "value_serializer": "raw"}
    events = app.topic(prefix + EVENTS.name, **raw)
    dlq = app.topic(prefix + DLQ.name, **raw)
    # use_partitioner: a batch mixes partitions, and faust would otherwise write every
    # view of the batch to the partition of its last record; murmur2 of the execution id
    # is the partition of the execution's events, as it must be for recovery and readers
    table = app.Table(
        "executions",
        partitions=VIEWS_CHANGELOG.partitions,
        use_partitioner=True,
        **raw_types(),
    )
    name = f"{VIEWS_APP}:{instance_id or os.getpid()}"
    cache = ViewCache()

    @app.agent(events)
    async def fold(stream: faust.StreamT[bytes]) -> None:
        # take_events exists on faust's Stream, not on the StreamT protocol it is typed as
        async for batch in stream.take_events(BATCH, within=WITHIN):  # type: ignore[attr-defined]
            try:
                await _fold_batch(batch, table, dlq, name, cache)
            except Exception:  # not a poison record (those go to the DLQ): stop unacked
                logger.exception("omium projections: cannot fold a batch; exiting unacked")
                logging.shutdown()
                os._exit(70)

    return app


def raw_types() -> dict[str, Any]:
    """Table codecs: faust picks them from the types (bytes means raw)."""
    return {"key_type": bytes, "value_type": bytes}


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
        if any(c.state is not None for c in view.checkpoints):
            checkpoints = tuple(replace(c, state=None) for c in view.checkpoints)
            view = replace(view, checkpoints=checkpoints)
        self._views[execution_id] = (stored, view)
        self._views.move_to_end(execution_id)
        while len(self._views) > self.size:
            self._views.popitem(last=False)


async def _fold_batch(
    batch: Sequence[Any], table: Any, dlq: Any, name: str, cache: ViewCache
) -> None:
    records = [
        Record(
            Position(EVENTS.name, e.message.partition, e.message.offset),
            e.key.decode() if e.key is not None else None,
            e.value,
            int(e.message.timestamp * 1000),
        )
        for e in batch
    ]

    def load(execution_id: str) -> ExecutionView | None:
        stored = table.get(execution_id.encode())
        return cache.get(execution_id, stored) if stored is not None else None

    folded: Folded = fold_records(records, load, processor=name)
    for execution_id, view in folded.views.items():
        stored = orjson.dumps(view_to_dict(view))
        table[execution_id.encode()] = stored
        cache.put(execution_id, stored, view)
    for dead in folded.dead:
        logger.warning(
            "omium projections: %s@%s to the DLQ: %s", dead.partition, dead.offset, dead.reason
        )
        await dlq.send(
            key=dead.key.encode() if dead.key is not None else None,
            value=orjson.dumps(dead.model_dump(mode="json")),
        )
