"""The Kafka runtime's projections: a faust-streaming app folding ``omium.events`` into a Table.

One agent consumes the events topic in batches; for each batch it calls the shared
:func:`~omium.processors.projector.fold_records` and writes each changed execution's view
once into the ``executions`` table (raw bytes: the stored view as JSON). faust writes the
table's changelog to the partition of the source record, so a view sits on the same
partition number as its execution's events, where :class:`ChangelogReader` looks for it.
A second agent folds the ``run`` commands of ``omium.commands`` into ``queued`` views
(:func:`~omium.processors.projector.fold_commands`, idempotent by content, so it needs no
offset marker). faust assigns partition N of both topics (12 each) to the same process,
and both agents write a view in one step of the event loop (no await between the read and
the write), so they never overwrite each other's update.

Guarantees: at-least-once. Each batch's view writes are acknowledged by Kafka before its
events are (see :func:`_fold_batch`), and faust commits acknowledged offsets every
``commit_interval``; a crash re-delivers what followed the last commit and the fold's
per-attempt seq check makes the second pass change nothing. faust's
``exactly_once`` is not used (open duplicate bugs). A record the fold cannot read goes to
``omium.dlq``; any other error (or a hole in the offsets faust delivers) replaces the
process with a fresh one at once (:func:`restart_unacked`), so that nothing past the last
commit is acknowledged: faust would otherwise ack the failing batch and go on.

Pitfalls measured here (see docs/development.md): the memory store rebuilds the table by
replaying the changelog on every start (about 4,000 records/s); without a static
``consumer_group_instance_id`` a restarted worker waits for the dead member's session to
expire; an id shared by two live processes makes them fence each other.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import faust
import orjson

from omium.processors.alerts.faust_rules import alerts_log
from omium.processors.alerts.faust_rules import register as register_alerts
from omium.processors.projector import Folded, fold_commands, fold_records
from omium.producers import KafkaSecurity, Position, Record, Settings, resolve_security
from omium.projections import ExecutionView, view_from_dict, view_to_dict, without_states
from omium.schemas.topics import COMMANDS, DLQ, EVENTS, VIEWS_APP, VIEWS_CHANGELOG

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
    security: KafkaSecurity | None = None,
) -> faust.App:
    """The projections app for a cluster (``prefix``: the log's topic prefix).

    ``security`` is the log's (``KafkaLog.security``), so faust's clients connect exactly
    as the log's do; without it, it is resolved from this process's settings
    (``OMIUM_LOG_URL`` and ``OMIUM_KAFKA_*``, which a worker's processors inherit).
    """
    extra: dict[str, Any] = {}
    credentials = faust_credentials(security or settings_security())
    if credentials is not None:
        extra["broker_credentials"] = credentials
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
    commands = app.topic(prefix + COMMANDS.name, **raw)
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
    offsets = OffsetGuard(table)

    @app.agent(events)
    async def fold(stream: faust.StreamT[bytes]) -> None:
        # take_events exists on faust's Stream, not on the StreamT protocol it is typed as
        async for batch in stream.take_events(BATCH, within=WITHIN):  # type: ignore[attr-defined]
            try:
                fresh = offsets.new_records(batch)
                if fresh:
                    await _fold_batch(fresh, table, dlq, name, cache, offsets.markers(fresh))
            except SkippedRecords as hole:
                logger.warning("omium projections: %s; restarting unacked", hole)
                restart_unacked()
            except Exception:  # not a poison record (those go to the DLQ): stop unacked
                logger.exception("omium projections: cannot fold a batch; restarting unacked")
                restart_unacked()

    @app.agent(commands)
    async def queue_runs(stream: faust.StreamT[bytes]) -> None:
        async for batch in stream.take_events(BATCH, within=WITHIN):  # type: ignore[attr-defined]
            try:
                await _queue_batch(batch, table, cache)
            except Exception:  # as above: nothing of the batch is acknowledged
                logger.exception("omium projections: cannot fold run commands; restarting unacked")
                restart_unacked()

    # the alert rules (issue 14; processors/alerts/faust_rules.py), OMIUM_ALERTS or defaults
    log = alerts_log(bootstrap, prefix, security or settings_security())
    register_alerts(app, events, prefix=prefix, log=log, restart=restart_unacked)
    return app


def settings_security() -> KafkaSecurity:
    """The Kafka security this process's settings describe."""
    settings = Settings.load()
    url = settings.log_url or ""
    return resolve_security(url if url.startswith("kafka://") else "kafka://", settings)


def faust_credentials(security: KafkaSecurity) -> faust.types.auth.CredentialsT | None:
    """The faust credentials for ``security`` (None for PLAINTEXT).

    faust's aiokafka driver turns them back into the options that
    :meth:`KafkaSecurity.client_options` gives the log's own clients.
    """
    context = security.ssl_context()
    if security.sasl:
        password = security.password.get_secret_value() if security.password else None
        return faust.SASLCredentials(
            username=security.username,
            password=password,
            ssl_context=context,
            mechanism=security.mechanism,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def raw_types() -> dict[str, Any]:
    """Table codecs: faust picks them from the types (bytes means raw)."""
    return {"key_type": bytes, "value_type": bytes}


def restart_unacked() -> NoReturn:
    """Replace this process with a fresh run of the same command, acknowledging nothing.

    faust would ack a batch whose agent raised and go on; a new process image instead
    resumes every partition from its last commit (same pid, same static membership id,
    so it gets its partitions back at once). Exit code 70 if the exec fails.
    """
    logging.shutdown()
    try:
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    finally:
        os._exit(70)


class SkippedRecords(Exception):  # noqa: N818 - the stream did, not us
    """The stream delivered a partition's records with a hole in their offsets."""


#: the table key of a partition's applied-offset marker (never an execution id)
MARKER = "__omium_next_offset__:{}"


class OffsetGuard:
    """The next offset to fold per partition, kept in the table beside the views.

    Seen here: around the end of a restarted worker's recovery, faust delivered a
    partition's records 90, 91, 97, 100 and acknowledged them; it also goes back (59, then
    44) when it seeks to the commit. The fold's seq check cannot tell a hole from a legal
    gap in seq, so each batch also writes, to the changelog partition of its records, the
    next offset to fold. A record below it was folded already and is skipped (exactly
    once in effect); a record above it means records were skipped: the process restarts
    unacknowledged (:func:`restart_unacked`) and reads the partition again from its commit.
    """

    def __init__(self, table: Any) -> None:
        self.table = table

    def expected(self, partition: int) -> int | None:
        """The next offset to fold, or None before the first batch of the partition."""
        stored = self.table.get(MARKER.format(partition).encode())
        return int(stored) if stored is not None else None

    def new_records(self, batch: Sequence[Any]) -> list[Any]:
        """The batch less what was folded already; raises :class:`SkippedRecords` on a hole."""
        fresh, nexts = [], dict[int, int]()
        for event in batch:
            partition, offset = event.message.partition, event.message.offset
            expected = nexts.get(partition, self.expected(partition))
            if expected is not None and offset > expected:
                raise SkippedRecords(f"partition {partition}: got offset {offset}, not {expected}")
            if expected is None or offset == expected:
                fresh.append(event)
                nexts[partition] = offset + 1
        return fresh

    def markers(self, batch: Sequence[Any]) -> dict[int, int]:
        """Per partition of ``batch``, the next offset once it is folded."""
        return {e.message.partition: e.message.offset + 1 for e in batch}


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
        self._views[execution_id] = (stored, without_states(view))
        self._views.move_to_end(execution_id)
        while len(self._views) > self.size:
            self._views.popitem(last=False)


def _records(batch: Sequence[Any], topic: str) -> list[Record]:
    return [
        Record(
            Position(topic, e.message.partition, e.message.offset),
            e.key.decode() if e.key is not None else None,
            e.value,
            int(e.message.timestamp * 1000),
        )
        for e in batch
    ]


def _loader(table: Any, cache: ViewCache) -> Callable[[str], ExecutionView | None]:
    def load(execution_id: str) -> ExecutionView | None:
        stored = table.get(execution_id.encode())
        return cache.get(execution_id, stored) if stored is not None else None

    return load


def _write_views(table: Any, cache: ViewCache, folded: Folded) -> list[Awaitable[Any]]:
    """``table[key] = value`` for each view, keeping the changelog writes' futures."""
    sent: list[Awaitable[Any]] = []
    for execution_id, view in folded.views.items():
        stored, key = orjson.dumps(view_to_dict(view)), execution_id.encode()
        table.data[key] = stored
        sent.append(table.send_changelog(None, key, stored))
        cache.put(execution_id, stored, view)
    return sent


async def _queue_batch(batch: Sequence[Any], table: Any, cache: ViewCache) -> None:
    folded = fold_commands(_records(batch, COMMANDS.name), _loader(table, cache))
    await asyncio.gather(*_write_views(table, cache, folded))


async def _fold_batch(
    batch: Sequence[Any],
    table: Any,
    dlq: Any,
    name: str,
    cache: ViewCache,
    markers: dict[int, int],
) -> None:
    records = _records(batch, EVENTS.name)
    folded: Folded = fold_records(records, _loader(table, cache), processor=name)
    # What `table[key] = value` does, keeping the changelog write's future: the batch's
    # events are acknowledged (and later committed) only once Kafka has every view it
    # changed. faust's own flush before a commit gives up after 0.1 s per queued message,
    # and a message on its way from faust's buffer to aiokafka's is in neither; a kill
    # then lost views whose events were already committed (a view without a step's end).
    sent = _write_views(table, cache, folded)
    for partition, offset in markers.items():
        key, value = MARKER.format(partition).encode(), str(offset).encode()
        table.data[key] = value
        sent.append(table.send_changelog(partition, key, value))
    for dead in folded.dead:
        logger.warning(
            "omium projections: %s@%s to the DLQ: %s", dead.partition, dead.offset, dead.reason
        )
        sent.append(
            await dlq.send(
                key=dead.key.encode() if dead.key is not None else None,
                value=orjson.dumps(dead.model_dump(mode="json")),
            )
        )
    await asyncio.gather(*sent)
