"""The event log on Apache Kafka, through aiokafka.

Producer: ``acks="all"`` and idempotence on (aiokafka defaults to ``acks=1`` without it),
the partition chosen by omium's murmur2 so it agrees with Kafka's Java default and with the
embedded log. Batches are packed per partition with ``create_batch``/``send_batch``, so an
execution's events keep their order and the per-record Python cost stays small.

Reads without a group use one long-lived assigned consumer (no group, no commits). Every
wait has a deadline: a broker that does not answer raises ``LogUnavailable`` naming the URL.
Topics are named logically; ``topic_prefix`` maps them to physical names (tests use a fresh
prefix each, so they never see each other's records).

Every client (producer, reader, group members, admin) connects with the same
:class:`~omium.producers.kafka_security.KafkaSecurity` (TLS, SASL); a connection the
broker refuses is explained by :mod:`omium.producers.kafka_errors` as one
``LogAccessDenied`` with a hint, never aiokafka's bare "Unable to bootstrap", and so is a
request the cluster's ACLs refuse.

The producer starts on the first append, never for a read: an idempotent producer needs
Write on some topic, and reads find partition counts with a metadata client of their own,
so a user with only Read and Describe on the topics can list, show and replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import CommitFailedError, KafkaError, KafkaTimeoutError

from omium.producers.kafka_errors import (
    AUTHORIZATION_ERRORS,
    bootstrap_failures,
    explain,
    last_reason,
    not_authorized,
)
from omium.producers.kafka_security import KafkaSecurity
from omium.producers.kafka_tail import KafkaTail
from omium.producers.partitioner import partition_for
from omium.producers.port import OnRevoked, Position, Record
from omium.schemas import (
    DEFAULT_MAX_EVENT_BYTES,
    Event,
    LogAccessDenied,
    LogError,
    LogUnavailable,
    TopicNotFound,
)
from omium.schemas import encode as encode_event
from omium.schemas.topics import EVENTS, TOPICS, TopicSpec

T = TypeVar("T")

_TOPIC_EXISTS = 36
#: CreateTopics answers for a user without Create (topic, cluster)
_CREATE_DENIED = (29, 31)
#: (ACL operation, resource type, broker-side name) a request needs: named when refused
Acl = tuple[str, str, str]


class KafkaLog:
    """An :class:`~omium.producers.port.EventLog` on a Kafka cluster.

    Also a :class:`~omium.producers.port.BrokerCluster`: ``bootstrap``, ``prefix`` and
    ``security`` are what a faust app needs to join the same cluster and topics. ``url``
    is the log's URL without its password (safe to print and to pass to a child process).
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        url: str | None = None,
        topic_prefix: str = "",
        timeout: float = 10.0,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        create_topics: bool = True,
        client_id: str = "omium",
        linger_ms: int = 0,
        session_timeout: float = 10.0,
        security: KafkaSecurity | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.security = security or KafkaSecurity()
        # one TLS context for every connection of this log (a context is built once)
        self._options = self.security.client_options()
        self._failures = bootstrap_failures()
        self.url = url or f"kafka://{bootstrap}"
        self.prefix = topic_prefix
        self.timeout = timeout
        self.max_event_bytes = max_event_bytes
        self.session_timeout = session_timeout
        self._auto_create = create_topics
        self._client_id = client_id
        self._linger_ms = linger_ms
        self._producer: AIOKafkaProducer | None = None
        self._reader: AIOKafkaConsumer | None = None
        self._metadata_client: AIOKafkaClient | None = None
        self._metadata_lock = asyncio.Lock()
        self._auto_created = False  # the topics were made (or tried) once: not again
        self._partitions: dict[str, int] = {}
        self._created: set[str] = set()  # topics this client created or found existing
        self._start_lock = asyncio.Lock()
        self._read_lock = asyncio.Lock()

    # -- plumbing ---------------------------------------------------------------------

    def physical(self, topic: str) -> str:
        """The broker-side name of a logical topic."""
        return self.prefix + topic

    def logical(self, topic: str) -> str:
        """The logical name of a broker-side topic."""
        return topic.removeprefix(self.prefix)

    async def _wait(self, what: str, aw: Awaitable[T], *, acl: Acl | None = None) -> T:
        """Await ``aw`` within the timeout; turn broker trouble into one clear error.

        ``acl``: what the request needs granted, for the error if the cluster refuses it.
        """
        since = self._failures.mark()
        try:
            return await asyncio.wait_for(aw, self.timeout)
        except TimeoutError:
            if denied := explain(self.bootstrap, self.security, since):
                raise denied from None
            raise LogUnavailable(
                f"Kafka at {self.bootstrap} did not answer within {self.timeout:g} s ({what})",
                hint="start it with `infra/kafka/broker.sh up` or set OMIUM_LOG_URL",
            ) from None
        except KafkaError as exc:
            if isinstance(exc, AUTHORIZATION_ERRORS) and acl is not None:
                raise not_authorized(self.bootstrap, self.security, *acl, self.prefix) from None
            if denied := explain(self.bootstrap, self.security, since):
                raise denied from None
            # a batch that expired unacknowledged (KafkaTimeoutError) is worth retrying too
            transient = getattr(exc, "retriable", False) or isinstance(exc, KafkaTimeoutError)
            error = LogUnavailable if transient else LogError
            # aiokafka's "Unable to bootstrap" names no cause; the attempt's own error does
            cause = last_reason(self.bootstrap, since) or exc
            raise error(
                f"Kafka at {self.bootstrap} failed while {what}: {cause}",
                hint="check the broker with `infra/kafka/broker.sh status`",
            ) from None

    async def _started(self, topic: str) -> AIOKafkaProducer:
        """The producer, started on the first append (to ``topic``, named if refused)."""
        if self._producer is not None:
            return self._producer
        async with self._start_lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.bootstrap,
                    client_id=self._client_id,
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=self._linger_ms,
                    max_request_size=max(self.max_event_bytes * 2, 1 << 20),
                    request_timeout_ms=int(self.timeout * 1000),
                    **self._options,
                )
                try:
                    # an idempotent producer asks for an id first: refused without Write
                    write = ("Write", "topic", self.physical(topic))
                    await self._wait("connecting", producer.start(), acl=write)
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
                if self._auto_create:
                    self._auto_created = True
                    await self.create_topics(TOPICS)
        return self._producer

    async def _cluster(self) -> Any:
        """Every topic's metadata, in one request.

        From the producer's client or, before any append, a client of its own that needs
        no Write. (Waiting on one topic that does not exist would end at the timeout.)
        """
        client = self._producer.client if self._producer is not None else None
        if client is None:
            async with self._metadata_lock:  # two first callers would each make a client
                client = await self._metadata()
        return await self._wait("reading metadata", client.fetch_all_metadata())

    async def _metadata(self) -> AIOKafkaClient:
        """The client of :meth:`_cluster` when there is no producer (made on first use)."""
        if self._metadata_client is None:
            fresh = AIOKafkaClient(
                bootstrap_servers=self.bootstrap,
                client_id=f"{self._client_id}-metadata",
                request_timeout_ms=int(self.timeout * 1000),
                **self._options,
            )
            try:
                await self._wait("connecting", fresh.bootstrap())
            except BaseException:
                await fresh.close()
                raise
            self._metadata_client = fresh
        return self._metadata_client

    async def _lookup(self, name: str) -> set[int] | None:
        """The partitions of topic ``name``, creating the topics first on a fresh log.

        Like the first append, the first read of a missing topic creates the topics when
        ``create_topics`` is on; a user the cluster does not let create simply finds the
        topic missing. A topic created by this log is waited for (metadata lags a little).
        """
        found = (await self._cluster()).partitions_for_topic(name)
        if not found and self._auto_create and not self._auto_created:
            self._auto_created = True
            with contextlib.suppress(LogAccessDenied):
                await self.create_topics(TOPICS)
        deadline = asyncio.get_running_loop().time() + self.timeout
        while not found and name in self._created:
            if asyncio.get_running_loop().time() > deadline:
                raise LogUnavailable(f"topic {name!r} was created but did not appear in time")
            await asyncio.sleep(0.05)
            found = (await self._cluster()).partitions_for_topic(name)
        return set(found) if found else None

    async def _reader_consumer(self) -> AIOKafkaConsumer:
        if self._reader is None:
            reader = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap,
                client_id=f"{self._client_id}-reader",
                enable_auto_commit=False,
                group_id=None,
                request_timeout_ms=int(self.timeout * 1000),
                # A seek waits for the fetch already in flight, and a read of a partition's
                # tail waits one whole fetch wait: 50 ms made resolving a workflow's version
                # (a read of the small registry topic) take 65 ms; 5 ms, 15 ms.
                fetch_max_wait_ms=5,
                **self._options,
            )
            try:
                await self._wait("connecting a reader", reader.start())
            except BaseException:
                await reader.stop()
                raise
            self._reader = reader
        return self._reader

    # -- topics -----------------------------------------------------------------------

    async def create_topics(self, specs: Sequence[TopicSpec] = TOPICS) -> None:
        """Create missing topics (replication min(3, brokers) unless a spec says)."""
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap,
            request_timeout_ms=int(self.timeout * 1000),
            **self._options,
        )
        try:
            await self._wait("connecting the admin client", admin.start())
            cluster = await self._wait("describing the cluster", admin.describe_cluster())
            brokers = len(cluster["brokers"])
            new = []
            for spec in specs:
                rf = spec.replication_factor or min(3, brokers)
                new.append(
                    NewTopic(
                        name=self.physical(spec.name),
                        num_partitions=spec.partitions,
                        replication_factor=rf,
                        topic_configs=spec.kafka_config(rf),
                    )
                )
            response = await self._wait("creating topics", admin.create_topics(new))
            for name, code, *message in response.topic_errors:
                if code in _CREATE_DENIED:
                    raise not_authorized(
                        self.bootstrap, self.security, "Create", "topic", name, self.prefix
                    )
                if code not in (0, _TOPIC_EXISTS):
                    raise LogError(
                        f"Kafka refused to create topic {name!r}: error {code} "
                        f"{message[0] if message else ''}".rstrip()
                    )
                self._created.add(name)
        finally:
            await admin.close()

    async def partitions(self, topic: str) -> int:
        """How many partitions ``topic`` has (cached: it never shrinks)."""
        count = self._partitions.get(topic)
        if count is None:
            name = self.physical(topic)
            if self._producer is not None and name in self._created:
                # just created here: its metadata may take a moment to appear, so wait for it
                found = await self._wait(
                    f"waiting for topic {name}", self._producer.partitions_for(name)
                )
            else:
                found = await self._lookup(name)
            if not found:
                raise TopicNotFound(
                    f"topic {name!r} does not exist on {self.bootstrap}",
                    hint="create it with `omium topics create`",
                )
            count = self._partitions[topic] = len(found)
        return count

    # -- writes -----------------------------------------------------------------------

    async def append(self, event: Event, *, topic: str | None = None) -> Position:
        """Durably append one event (acknowledged by all in-sync replicas)."""
        return (await self.append_batch([event], topic=topic))[0]

    async def append_batch(
        self, events: Sequence[Event], *, topic: str | None = None
    ) -> list[Position]:
        """Durably append many events, packed into one batch per partition."""
        return await self.append_records(
            [
                (topic or e.TOPIC, e.key, encode_event(e, max_bytes=self.max_event_bytes))
                for e in events
            ]
        )

    async def append_records(
        self, records: Sequence[tuple[str, str | None, bytes]]
    ) -> list[Position]:
        """Durably append raw ``(topic, key, value)`` records, unvalidated, in order per key."""
        if not records:
            return []
        producer = await self._started(records[0][0])
        slots: dict[tuple[str, int], list[tuple[int, bytes | None, bytes]]] = defaultdict(list)
        for i, (name, key, value) in enumerate(records):
            partition = partition_for(key or "", await self.partitions(name))
            slots[(name, partition)].append((i, key.encode() if key is not None else None, value))
        positions: list[Position | None] = [None] * len(records)
        pending = []
        for (name, partition), items in slots.items():
            pending.extend(await self._send_partition(producer, name, partition, items))
        for name, partition, indexes, future in pending:
            write = ("Write", "topic", self.physical(name))
            metadata = await self._wait("waiting for acks", future, acl=write)
            for n, i in enumerate(indexes):
                positions[i] = Position(name, partition, metadata.offset + n)
        return [p for p in positions if p is not None]

    async def _send_partition(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        partition: int,
        items: list[tuple[int, bytes | None, bytes]],
    ) -> list[tuple[str, int, list[int], asyncio.Future[Any]]]:
        """Queue ``items`` as as few batches as fit; each future resolves to its base offset."""
        sent = []
        batch, indexes = producer.create_batch(), list[int]()
        for i, key, value in items:
            if batch.append(key=key, value=value, timestamp=None) is None:
                if not indexes:
                    raise LogError(f"a {len(value):,}-byte record does not fit in a batch")
                sent.append(
                    (
                        topic,
                        partition,
                        indexes,
                        await self._submit(producer, batch, topic, partition),
                    )
                )
                batch, indexes = producer.create_batch(), []
                if batch.append(key=key, value=value, timestamp=None) is None:
                    raise LogError(f"a {len(value):,}-byte record does not fit in a batch")
            indexes.append(i)
        sent.append(
            (topic, partition, indexes, await self._submit(producer, batch, topic, partition))
        )
        return sent

    async def _submit(
        self, producer: AIOKafkaProducer, batch: Any, topic: str, partition: int
    ) -> asyncio.Future[Any]:
        batch.close()
        name = self.physical(topic)
        future: asyncio.Future[Any] = await self._wait(
            "queueing a batch",
            producer.send_batch(batch, name, partition=partition),
            acl=("Write", "topic", name),
        )
        return future

    # -- reads ------------------------------------------------------------------------

    async def read(
        self, topic: str, partition: int, start: int = 0, end: int | None = None
    ) -> list[Record]:
        """Records of one partition with ``start <= offset < end``."""
        count = await self.partitions(topic)
        if not 0 <= partition < count:
            raise TopicNotFound(f"topic {topic!r} has partitions 0..{count - 1}, not {partition}")
        return await self._scan(topic, partition, start, end, key=None)

    async def read_many(
        self, topic: str, ranges: Mapping[int, tuple[int, int]]
    ) -> dict[int, list[Record]]:
        """Per partition, its records with ``start <= offset < end``: one fetch for all.

        Reading partitions one by one costs a fetch round each (a seek waits for the fetch
        in flight); assigned together they share every fetch.
        """
        count = await self.partitions(topic)
        out: dict[int, list[Record]] = {p: [] for p in ranges}
        wanted = {p: r for p, r in ranges.items() if r[0] < r[1]}
        if any(not 0 <= p < count for p in wanted):
            raise TopicNotFound(f"topic {topic!r} has partitions 0..{count - 1}")
        if not wanted:
            return out
        async with self._read_lock:
            reader = await self._reader_consumer()
            tps = {TopicPartition(self.physical(topic), p): r for p, r in wanted.items()}
            reader.assign(list(tps))
            for tp, (start, _) in tps.items():
                reader.seek(tp, start)
            try:
                while tps:
                    batch = await self._wait(
                        f"reading {topic}",
                        reader.getmany(*tps, timeout_ms=int(self.timeout * 1000)),
                        acl=("Read", "topic", self.physical(topic)),
                    )
                    if not batch:
                        raise LogUnavailable(
                            f"Kafka at {self.bootstrap} returned nothing for {topic} "
                            f"within {self.timeout:g} s"
                        )
                    for tp, messages in batch.items():
                        end = tps[tp][1]
                        out[tp.partition] += [_record(topic, m) for m in messages if m.offset < end]
                        if messages[-1].offset + 1 >= end:
                            del tps[tp]
                            reader.pause(tp)  # nothing more wanted from it
            finally:
                # paused, not unassigned: aiokafka's fetcher cancels its fetch in flight on
                # an unassign, and swallows a stop() that comes meanwhile (close would hang)
                reader.pause(*reader.assignment())  # no fetching between reads
        return out

    async def read_execution(
        self,
        execution_id: str,
        *,
        topic: str = EVENTS.name,
        start: int = 0,
        end: int | None = None,
        since_ms: int | None = None,
    ) -> list[Record]:
        """One execution's records: its partition from ``start``, filtered by key.

        Kafka has no per-key index: pass ``start`` (e.g. the offset of the execution's first
        event, which projections record) or ``since_ms`` (no record of the execution is
        older) so the scan covers only the execution's lifetime, not the partition's.
        """
        partition = partition_for(execution_id, await self.partitions(topic))
        if since_ms is not None:
            start = max(start, await self._offset_for_time(topic, partition, since_ms))
        return await self._scan(topic, partition, start, end, key=execution_id.encode())

    async def _offset_for_time(self, topic: str, partition: int, ts_ms: int) -> int:
        """The first offset whose timestamp is ``ts_ms`` or later (the end if none is)."""
        async with self._read_lock:
            reader = await self._reader_consumer()
            tp = TopicPartition(self.physical(topic), partition)
            found = await self._wait("looking up offsets", reader.offsets_for_times({tp: ts_ms}))
            if found.get(tp) is not None:
                return int(found[tp].offset)
            return int((await self._wait("reading end offsets", reader.end_offsets([tp])))[tp])

    async def _scan(
        self, topic: str, partition: int, start: int, end: int | None, key: bytes | None
    ) -> list[Record]:
        async with self._read_lock:
            reader = await self._reader_consumer()
            tp = TopicPartition(self.physical(topic), partition)
            if end is None:
                end = (await self._wait("reading end offsets", reader.end_offsets([tp])))[tp]
            out: list[Record] = []
            if start >= end:
                return out
            reader.assign([tp])
            reader.seek(tp, start)
            try:
                return await self._drain(reader, tp, topic, start, end, key)
            finally:
                reader.pause(*reader.assignment())  # no fetching between reads

    async def _drain(
        self,
        reader: AIOKafkaConsumer,
        tp: TopicPartition,
        topic: str,
        start: int,
        end: int,
        key: bytes | None,
    ) -> list[Record]:
        out: list[Record] = []
        partition, offset = tp.partition, start
        while offset < end:
            batch = await self._wait(
                f"reading {topic}/{partition}@{offset}",
                reader.getmany(tp, timeout_ms=int(self.timeout * 1000), max_records=2000),
                acl=("Read", "topic", tp.topic),
            )
            messages = batch.get(tp, [])
            if not messages:
                raise LogUnavailable(
                    f"Kafka at {self.bootstrap} returned nothing for {topic}/{partition} "
                    f"at offset {offset} within {self.timeout:g} s"
                )
            for m in messages:
                offset = m.offset + 1
                if m.offset >= end:
                    break
                if key is None or m.key == key:
                    out.append(_record(topic, m))
        return out

    async def end_offsets(self, topic: str) -> dict[int, int]:
        """Per partition, the offset the next record will get."""
        count = await self.partitions(topic)
        tps = [TopicPartition(self.physical(topic), p) for p in range(count)]
        async with self._read_lock:  # two callers at once would each start a reader
            reader = await self._reader_consumer()
            found = await self._wait(
                "reading end offsets",
                reader.end_offsets(tps),
                acl=("Read", "topic", self.physical(topic)),
            )
        return {tp.partition: off for tp, off in found.items()}

    def subscribe(
        self,
        group: str,
        topics: Sequence[str],
        *,
        from_beginning: bool = True,
        on_revoked: OnRevoked | None = None,
    ) -> KafkaSubscription:
        """Join consumer group ``group`` (explicit commits, no auto-commit).

        The group id carries the log's ``topic_prefix`` like the topics do, so one prefix
        names everything a deployment uses (ACLs can be granted on it).
        """
        return KafkaSubscription(
            self,
            self.prefix + group,
            list(topics),
            from_beginning=from_beginning,
            session_timeout=self.session_timeout,
            on_revoked=on_revoked,
        )

    def tail(self, topic: str) -> KafkaTail:
        """See :class:`~omium.producers.port.Tailing`: ``topic`` followed without a group."""
        return KafkaTail(self, topic)

    async def close(self) -> None:
        """Flush the producer and close every connection. Safe to call twice."""
        producer, reader, metadata = self._producer, self._reader, self._metadata_client
        self._producer = self._reader = self._metadata_client = None
        if producer is not None:
            await producer.stop()
        if reader is not None:
            await reader.stop()
        if metadata is not None:
            await metadata.close()


def _record(logical_topic: str, message: Any) -> Record:
    key = message.key.decode() if message.key is not None else None
    return Record(
        Position(logical_topic, message.partition, message.offset),
        key,
        message.value,
        message.timestamp,
    )


class _Revocations(ConsumerRebalanceListener):  # type: ignore[misc]
    """Hands partitions a member is losing to ``on_revoked`` (logical names)."""

    def __init__(self, log: KafkaLog, on_revoked: OnRevoked | None) -> None:
        self._log = log
        self._on_revoked = on_revoked

    async def on_partitions_revoked(self, revoked: Any) -> None:
        if self._on_revoked is not None and revoked:
            await self._on_revoked(
                frozenset((self._log.logical(tp.topic), tp.partition) for tp in revoked)
            )

    async def on_partitions_assigned(self, assigned: Any) -> None:
        return None


class KafkaSubscription:
    """A member of a Kafka consumer group (aiokafka's group coordinator protocol)."""

    def __init__(
        self,
        log: KafkaLog,
        group: str,
        topics: list[str],
        *,
        from_beginning: bool = True,
        session_timeout: float = 10.0,
        on_revoked: OnRevoked | None = None,
    ) -> None:
        self.group = group
        self._log = log
        self._topics = topics
        self._from_beginning = from_beginning
        self.session_timeout = session_timeout
        self._listener = _Revocations(log, on_revoked)
        self._consumer = self._new_consumer()
        self._started = False
        self._closed = False

    def _new_consumer(self) -> AIOKafkaConsumer:
        log = self._log
        consumer = AIOKafkaConsumer(
            bootstrap_servers=log.bootstrap,
            client_id=f"omium-{self.group}-{uuid.uuid4().hex[:8]}",
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest" if self._from_beginning else "latest",
            session_timeout_ms=int(self.session_timeout * 1000),
            heartbeat_interval_ms=min(3000, int(self.session_timeout * 1000) // 3),
            request_timeout_ms=int(log.timeout * 1000) + 5000,
            **log._options,
        )
        # aiokafka awaits the listener before the group rebalances: the hand-over point
        consumer.subscribe(topics=[log.physical(t) for t in self._topics], listener=self._listener)
        return consumer

    async def _start(self) -> None:
        if not self._started:
            try:
                await self._log._wait(f"joining group {self.group!r}", self._consumer.start())
            except BaseException:
                # a start cut half-way cannot be resumed: the next try starts a fresh member
                failed, self._consumer = self._consumer, self._new_consumer()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(failed.stop(), self._log.timeout)
                raise
            self._started = True

    def assignment(self) -> frozenset[tuple[str, int]]:
        """The partitions this member owns right now."""
        if not self._started:
            return frozenset()
        return frozenset(
            (self._log.logical(tp.topic), tp.partition) for tp in self._consumer.assignment()
        )

    async def poll(self, timeout: float = 1.0, max_records: int = 500) -> list[Record]:
        """Return the next records of the assigned partitions (empty at timeout)."""
        await self._start()
        batches = await self._log._wait(
            "polling",
            self._consumer.getmany(timeout_ms=int(timeout * 1000), max_records=max_records),
        )
        return [
            _record(self._log.logical(tp.topic), m)
            for tp, messages in batches.items()
            for m in messages
        ]

    async def commit(self, offsets: Mapping[tuple[str, int], int] | None = None) -> bool:
        """Commit ``offsets`` (default: the position after every record returned so far)."""
        if not self._started:
            return True
        chosen = None
        if offsets is not None:
            owned = self._consumer.assignment()
            chosen = {
                tp: off
                for (topic, p), off in offsets.items()
                if (tp := TopicPartition(self._log.physical(topic), p)) in owned
            }
            if not chosen:
                return True
        try:
            await self._log._wait(
                f"committing for group {self.group!r}", self._consumer.commit(chosen)
            )
        except LogError as exc:
            if not isinstance(exc.__context__, CommitFailedError):
                raise
            # the group rebalanced since the poll (this member stalled past its session):
            # its partitions moved on; like the embedded log, commit nothing for them. The
            # next owner resumes from the last commit, at least once.
            return False
        return True

    async def close(self) -> None:
        """Leave the group (within the log's timeout: the cluster may be down). Safe twice."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._consumer.stop(), self._log.timeout)

    async def __aenter__(self) -> Self:
        await self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
