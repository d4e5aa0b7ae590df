"""The ``EventLog`` port: what every log adapter offers, and the data it speaks in.

A record's place is a :class:`Position` ``(topic, partition, offset)``. Topics are named
logically (``omium.events``); an adapter may map them to prefixed physical names. Ranges
are half-open, like Python slices: ``start`` included, ``end`` excluded.

What only some logs can do is a sub-protocol of :class:`EventLog`, asked for with
``isinstance(log, Capability)`` (never by the log's URL or class):

- :class:`LiveMembers`: counts the live members of a consumer group;
- :class:`LocalFile`: kept in a local file (or in memory); stores of its own go beside it;
- :class:`BrokerCluster`: a broker cluster other clients (the faust processors) can join;
- :class:`RunsInline`: its coroutines never suspend, so any thread can drive them without
  an event loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import ClassVar, Literal, Protocol, Self, runtime_checkable

from omium.producers.kafka_security import KafkaSecurity
from omium.schemas import Event, decode
from omium.schemas.topics import EVENTS, TOPICS, TopicSpec

#: Called with the ``(topic, partition)`` pairs a group member is about to lose.
OnRevoked = Callable[[frozenset[tuple[str, int]]], Awaitable[None]]


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Where one record sits in the log."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}/{self.partition}@{self.offset}"


@dataclass(frozen=True, slots=True)
class Record:
    """One stored record: its position, key, raw value and the log's timestamp."""

    position: Position
    key: str | None
    value: bytes
    timestamp_ms: int

    def event(self) -> Event:
        """Decode the value (upcasting old versions); raises ``InvalidEvent`` if poisoned."""
        return decode(self.value)


class Subscription(Protocol):
    """A consumer-group member: polls its share of partitions, commits explicitly."""

    group: str
    #: seconds without a heartbeat after which the group hands this member's partitions on
    session_timeout: float

    async def poll(self, timeout: float = 1.0, max_records: int = 500) -> list[Record]:
        """Return the next records of the assigned partitions (may be empty at timeout)."""
        ...

    async def commit(self, offsets: Mapping[tuple[str, int], int] | None = None) -> bool:
        """Commit, for the group, the next offset to read per ``(topic, partition)``.

        Without ``offsets``: the position after every record ``poll`` returned. Offsets of
        partitions this member no longer owns are not committed.

        Returns:
            False when the group refused the commit because this member lost partitions
            it thought it owned (it stood still past its session): a round trip that
            proves membership, which a worker asks for after a freeze.
        """
        ...

    def assignment(self) -> frozenset[tuple[str, int]]:
        """The ``(topic, partition)`` pairs this member currently owns."""
        ...

    async def close(self) -> None:
        """Leave the group (its partitions move to the other members at once)."""
        ...

    async def __aenter__(self) -> Self: ...  # noqa: D105

    async def __aexit__(  # noqa: D105
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class EventLog(Protocol):
    """An append-only, partitioned log of events (Kafka, or the embedded SQLite twin).

    Writes of one key (an execution) go to one partition, in order. Every method that waits
    on a network has a timeout and raises ``LogUnavailable`` when it runs out.
    """

    url: str
    #: events encoding to more bytes are refused (``EventTooLarge``)
    max_event_bytes: int

    async def append(self, event: Event, *, topic: str | None = None) -> Position:
        """Durably append one event (to ``event.TOPIC`` unless ``topic`` is given)."""
        ...

    async def append_batch(
        self, events: Sequence[Event], *, topic: str | None = None
    ) -> list[Position]:
        """Durably append many events; positions come back in the order given."""
        ...

    async def append_records(
        self, records: Sequence[tuple[str, str | None, bytes]]
    ) -> list[Position]:
        """Durably append raw ``(topic, key, value)`` records without validating them.

        For what is not an event: dead letters on ``omium.dlq``, and tests of poison records.
        """
        ...

    async def read(
        self, topic: str, partition: int, start: int = 0, end: int | None = None
    ) -> list[Record]:
        """Records of one partition with ``start <= offset < end`` (``end``: the current end)."""
        ...

    async def read_many(
        self, topic: str, ranges: Mapping[int, tuple[int, int]]
    ) -> dict[int, list[Record]]:
        """Per partition, its records with ``start <= offset < end``.

        ``ranges``: partition -> (start, end). One round trip where the log can (a Kafka
        fetch spans partitions).
        """
        ...

    async def read_execution(
        self,
        execution_id: str,
        *,
        topic: str = EVENTS.name,
        start: int = 0,
        end: int | None = None,
        since_ms: int | None = None,
    ) -> list[Record]:
        """One execution's records, in order, with ``start <= offset < end``.

        ``since_ms``: no record of the execution is older than this (epoch ms), a hint that
        lets a log without a key index skip the older part of the partition.
        """
        ...

    def subscribe(
        self,
        group: str,
        topics: Sequence[str],
        *,
        from_beginning: bool = True,
        on_revoked: OnRevoked | None = None,
    ) -> Subscription:
        """Join consumer group ``group``; resumes from its committed offsets.

        ``on_revoked`` is awaited with the partitions this member is losing *before* any
        other member may take them: finish or stop their work there.
        """
        ...

    async def end_offsets(self, topic: str) -> dict[int, int]:
        """Per partition, the offset the next record will get."""
        ...

    async def partitions(self, topic: str) -> int:
        """How many partitions ``topic`` has."""
        ...

    async def create_topics(self, specs: Sequence[TopicSpec] = TOPICS) -> None:
        """Create the topics that do not exist yet; existing ones are left as they are."""
        ...

    async def close(self) -> None:
        """Flush and release connections. Safe to call twice."""
        ...


@runtime_checkable
class LiveMembers(EventLog, Protocol):
    """A log that can tell how many members of a consumer group are alive."""

    async def live_members(self, group: str) -> int:
        """How many members of consumer group ``group`` are alive (polled recently)."""
        ...


@runtime_checkable
class LocalFile(EventLog, Protocol):
    """A log kept in one local file; whatever it keeps beside itself goes next to ``path``.

    ``path`` is ``":memory:"`` for a log that lives in this process only.
    """

    path: str


class Tail(Protocol):
    """Every partition of one topic read from its end onwards, in no consumer group.

    Each process that tails sees every new record (nothing is shared or committed), so
    replicas of a reader each keep their own copy of what they follow.
    """

    async def start(self) -> None:
        """Connect, and take the topic's current end as where reading starts."""
        ...

    async def poll(self, timeout: float = 1.0) -> list[Record]:
        """The records written since the last poll (empty when ``timeout`` passes first)."""
        ...

    def positions(self) -> dict[int, int]:
        """Per partition, the next offset :meth:`poll` will return."""
        ...

    async def close(self) -> None:
        """Disconnect."""
        ...


@runtime_checkable
class Tailing(EventLog, Protocol):
    """A log other processes write to that a reader can follow live (see :class:`Tail`)."""

    def tail(self, topic: str) -> Tail:
        """A :class:`Tail` of ``topic`` (not started)."""
        ...


@runtime_checkable
class Versioned(EventLog, Protocol):
    """A log that can tell cheaply whether it may have gained records since a look.

    Comparing two :meth:`version` values costs far less than :meth:`EventLog.end_offsets`
    on every partition; a busy reader checks it first and reads the offsets only when it
    changed. A change need not mean new records (other writes count too); no change does
    mean none.
    """

    def version(self) -> tuple[int, int]:
        """A value that differs after any commit to the log since it was last taken."""
        ...


@runtime_checkable
class BrokerCluster(EventLog, Protocol):
    """A log on a broker cluster that other clients (the faust processors) can join."""

    #: the cluster's bootstrap servers, ``host:port[,host:port…]``
    bootstrap: str
    #: prepended to every logical topic name on the brokers
    prefix: str
    #: how every client connects (TLS, SASL): the faust processors use it too
    security: KafkaSecurity


@runtime_checkable
class RunsInline(EventLog, Protocol):
    """A log whose coroutines complete without ever suspending (the embedded SQLite log).

    Any thread can drive them to completion with ``coroutine.send(None)``, no event loop
    needed, as long as one call runs at a time: a LangGraph saver that owns such a log runs
    it on its callers' threads instead of handing each call to a loop thread.
    """

    runs_inline: ClassVar[Literal[True]]
