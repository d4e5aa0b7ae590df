"""The Kafka runtime's projections: a faust-streaming app folding ``omium.events`` into a Table.

One agent consumes the events topic in batches and folds each with the shared
:func:`~omium.processors.projector.fold_records`; a :class:`~.faust_views.ViewWriter` keeps
the changed views and writes each once per flush into the ``executions`` table (raw bytes:
the stored view as JSON, without checkpoint snapshots) — at once when the stream has caught
up, every 2 s through a backlog. The table's partitioner puts a view on the
partition of its execution's events, where :class:`ChangelogReader` looks for it.
A second agent folds the ``run`` commands of ``omium.commands`` into ``queued`` views
(:func:`~omium.processors.projector.fold_commands`, idempotent by content, so it needs no
offset marker) through the same writer. faust assigns partition N of both topics (12
each) to the same process, and both agents fold and hand a batch to the writer in one step
of the event loop (no await between the read and the hold), so they never overwrite each
other's update. Several processes share the partitions (one consumer group); a partition
that moves is recovered from the changelog by its new owner.

Guarantees: at-least-once. A record is acknowledged to faust only once Kafka has the
flush holding its effects (the writer keeps a reference on its message until then), and
faust commits acknowledged offsets every ``commit_interval``; a crash re-delivers what
followed the last commit, and the per-partition offset marker (:class:`OffsetGuard`) or the
fold's per-attempt seq check makes the second pass change nothing. faust's
``exactly_once`` is not used (open duplicate bugs). A record the fold cannot read goes to
``omium.dlq``; any other error (a failed write, a hole in the offsets faust delivers)
replaces the process with a fresh one at once (:func:`restart_unacked`), so that nothing
past the last commit is acknowledged: faust would otherwise ack the failing batch and go on.

Pitfalls measured here (see docs/development.md): the memory store rebuilds the table by
replaying the changelog on every start (about 4,000 records/s); without a static
``consumer_group_instance_id`` a restarted worker waits for the dead member's session to
expire; an id shared by two live processes makes them fence each other.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import faust
import orjson

from omium.processors.alerts.faust_rules import alerts_log
from omium.processors.alerts.faust_rules import register as register_alerts
from omium.processors.faust_views import ViewCache, ViewWriter
from omium.processors.projector import Folded, fold_commands, fold_records
from omium.producers import KafkaSecurity, Position, Record, Settings, resolve_security
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
    writer = ViewWriter(table, ViewCache(), lambda failure: _restart_on(app, failure))
    offsets = OffsetGuard(writer)

    @app.agent(events)
    async def fold(stream: faust.StreamT[bytes]) -> None:
        # take_events exists on faust's Stream, not on the StreamT protocol it is typed as
        async for batch in stream.take_events(BATCH, within=WITHIN):  # type: ignore[attr-defined]
            try:
                fresh = offsets.new_records(batch)
                _fold_batch(batch, fresh, writer, dlq, name)
                if writer.due(caught_up(app, batch)):
                    writer.flush()
                await writer.settle()
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
                folded = fold_commands(_records(batch, COMMANDS.name), writer.load)
                writer.hold(batch, folded.views)
                if writer.due(caught_up(app, batch)):
                    writer.flush()
                await writer.settle()
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

    def __init__(self, writer: ViewWriter) -> None:
        self.writer = writer

    def new_records(self, batch: Sequence[Any]) -> list[Any]:
        """The batch less what was folded already; raises :class:`SkippedRecords` on a hole."""
        fresh, nexts = [], dict[int, int]()
        for event in batch:
            partition, offset = event.message.partition, event.message.offset
            expected = nexts.get(partition, self.writer.expected(partition))
            if expected is not None and offset > expected:
                raise SkippedRecords(f"partition {partition}: got offset {offset}, not {expected}")
            if expected is None or offset == expected:
                fresh.append(event)
                nexts[partition] = offset + 1
        return fresh

    @staticmethod
    def markers(batch: Sequence[Any]) -> dict[int, int]:
        """Per partition of ``batch``, the next offset once it is folded."""
        return {e.message.partition: e.message.offset + 1 for e in batch}


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


def caught_up(app: faust.App, batch: Sequence[Any]) -> bool:
    """Whether ``batch`` reached the end of each partition it holds, as last fetched."""
    last = {e.message.tp: e.message.offset for e in batch}
    try:
        return all(offset + 1 >= app.consumer.highwater(tp) for tp, offset in last.items())
    except Exception:  # noqa: BLE001 - no highwater known yet: write at once, as if caught up
        return True


def _fold_batch(
    batch: Sequence[Any], fresh: Sequence[Any], writer: ViewWriter, dlq: Any, name: str
) -> None:
    """Fold ``fresh`` (the records of ``batch`` not folded yet) into the writer's views.

    No await from the first view read to the hold: the other agent cannot change a view
    in between, and a flush cannot split the batch.
    """
    folded: Folded = fold_records(_records(fresh, EVENTS.name), writer.load, processor=name)
    sent = []
    for dead in folded.dead:
        logger.warning(
            "omium projections: %s@%s to the DLQ: %s", dead.partition, dead.offset, dead.reason
        )
        sent.append(
            dlq.send_soon(
                key=dead.key.encode() if dead.key is not None else None,
                value=orjson.dumps(dead.model_dump(mode="json")),
            )
        )
    writer.hold(batch, folded.views, OffsetGuard.markers(fresh), sent)


def _restart_on(app: faust.App, failure: BaseException) -> None:
    if app.should_stop:  # stopping anyway: what was not written is folded again next start
        logger.warning("omium projections: a changelog write failed while stopping: %r", failure)
        return
    logger.error("omium projections: a changelog write failed (%r); restarting unacked", failure)
    restart_unacked()
