"""A :class:`~omium.producers.port.Tail` on Kafka: one topic followed from its end, no group.

The consumer is assigned every partition (``group_id=None``), so it needs no consumer
group rights, never commits and never rebalances: each gateway replica follows the whole
views changelog on its own. :meth:`KafkaTail.positions` comes from the consumer's own
positions, which step over compacted gaps and transaction markers that a record's
``offset + 1`` would not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from omium.producers.port import Position, Record
from omium.schemas import LogUnavailable

if TYPE_CHECKING:
    from omium.producers.kafka import KafkaLog

T = TypeVar("T")

#: how long a fetch waits on the broker for new records: a new view is seen this late
FETCH_WAIT_MS = 10


class KafkaTail:
    """Every partition of ``topic`` on ``log``'s cluster, read from the end onwards."""

    def __init__(self, log: KafkaLog, topic: str) -> None:
        self.log, self.topic = log, topic
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []
        self._positions: dict[int, int] = {}

    async def _wait(self, what: str, aw: Awaitable[T]) -> T:
        try:
            return await asyncio.wait_for(aw, self.log.timeout)
        except (TimeoutError, KafkaError) as exc:
            cause = "no answer" if isinstance(exc, TimeoutError) else str(exc)
            raise LogUnavailable(
                f"Kafka at {self.log.bootstrap} failed while {what} ({cause}) "
                f"within {self.log.timeout:g} s",
                hint="check the broker with `infra/kafka/broker.sh status`",
            ) from None

    async def start(self) -> None:
        """See :class:`~omium.producers.port.Tail`."""
        count = await self.log.partitions(self.topic)
        physical = self.log.physical(self.topic)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.log.bootstrap,
            client_id=f"omium-tail-{self.topic}",
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=FETCH_WAIT_MS,
            request_timeout_ms=int(self.log.timeout * 1000),
            **self.log.security.client_options(),
        )
        try:
            await self._wait(f"tailing {self.topic}", consumer.start())
            self._partitions = [TopicPartition(physical, p) for p in range(count)]
            consumer.assign(self._partitions)
            ends = await self._wait("reading end offsets", consumer.end_offsets(self._partitions))
        except BaseException:
            await consumer.stop()
            raise
        for tp in self._partitions:
            consumer.seek(tp, ends[tp])
            self._positions[tp.partition] = ends[tp]
        self._consumer = consumer

    def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("KafkaTail.start() was not awaited")
        return self._consumer

    async def poll(self, timeout: float = 1.0) -> list[Record]:
        """See :class:`~omium.producers.port.Tail`."""
        consumer = self._started()
        try:
            batches = await consumer.getmany(timeout_ms=int(timeout * 1000))
        except KafkaError as exc:
            raise LogUnavailable(
                f"Kafka at {self.log.bootstrap} failed while tailing {self.topic}: {exc}",
                hint="check the broker with `infra/kafka/broker.sh status`",
            ) from None
        out = [
            Record(
                Position(self.topic, tp.partition, m.offset),
                m.key.decode() if m.key is not None else None,
                m.value,
                m.timestamp,
            )
            for tp, messages in batches.items()
            for m in messages
        ]
        for tp in self._partitions:  # also past markers and gaps that came with no record
            self._positions[tp.partition] = await consumer.position(tp)
        return out

    def positions(self) -> dict[int, int]:
        """See :class:`~omium.producers.port.Tail`."""
        return dict(self._positions)

    async def end_offsets(self) -> dict[int, int]:
        """See :class:`~omium.producers.port.Tail`."""
        consumer = self._started()
        ends = await self._wait("reading end offsets", consumer.end_offsets(self._partitions))
        return {tp.partition: int(end) for tp, end in ends.items()}

    async def close(self) -> None:
        """See :class:`~omium.producers.port.Tail`."""
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()
