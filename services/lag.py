"""Consumer lag: how many records of the log its consumers have not processed yet.

Measured where the log can tell, never guessed:

- embedded: the view store's position (the next offset it folds, per partition of
  ``omium.events``) against the end of the log — ``projections``. The store is read as the
  projector and the readers left it; nothing is caught up to measure it.
- Kafka: each consumer group's committed offsets against the end offsets, through an admin
  client that connects as the log does (``BrokerCluster``) — ``projections`` (the faust
  app's group, on ``omium.events``) and ``executor`` (the workers, on ``omium.commands``).
  A partition with no committed offset counts whole.

The executor group of the embedded log keeps its offsets inside the SQLite log, which
offers no way to read them yet: its lag is not reported there.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from omium.processors.reader import EmbeddedReader
from omium.processors.worker import GROUP
from omium.producers import BrokerCluster
from omium.schemas import OmiumError
from omium.schemas.topics import COMMANDS, EVENTS, VIEWS_APP
from omium.services.context import Omium
from omium.services.throttled import ThrottledReader


@dataclass(frozen=True, slots=True)
class Lag:
    """Records of ``topic`` that consumer group ``group`` has not processed."""

    group: str
    topic: str
    records: int


async def consumer_lag(app: Omium, timeout: float = 5.0) -> list[Lag]:
    """The lag of each consumer the log can report on (empty when it cannot in ``timeout``)."""
    try:
        return await asyncio.wait_for(_lag(app), timeout)
    except (TimeoutError, OSError, KafkaError, OmiumError):
        return []  # a scrape goes on without it


async def _lag(app: Omium) -> list[Lag]:
    log = app.log
    if isinstance(log, BrokerCluster):
        return await _kafka_lag(log)
    reader = app.reader
    if isinstance(reader, EmbeddedReader | ThrottledReader):
        applied = reader.store.applied(EVENTS.name)
        ends = await log.end_offsets(EVENTS.name)
        behind = sum(max(0, end - applied.get(p, 0)) for p, end in ends.items())
        return [Lag("projections", EVENTS.name, behind)]
    return []


async def _kafka_lag(log: BrokerCluster) -> list[Lag]:
    admin = AIOKafkaAdminClient(bootstrap_servers=log.bootstrap, **log.security.client_options())
    await admin.start()
    try:
        out = []
        for name, group, topic in (
            ("projections", VIEWS_APP, EVENTS.name),
            ("executor", GROUP, COMMANDS.name),
        ):
            committed = await admin.list_consumer_group_offsets(log.prefix + group)
            physical = log.prefix + topic
            done = {
                tp.partition: _offset(meta)
                for tp, meta in committed.items()
                if tp.topic == physical
            }
            ends = await log.end_offsets(topic)
            behind = sum(max(0, end - done.get(p, 0)) for p, end in ends.items())
            out.append(Lag(name, topic, behind))
        return out
    finally:
        await admin.close()


def _offset(meta: Any) -> int:
    """A committed offset (aiokafka gives -1 for none: then nothing is processed)."""
    return max(0, int(meta.offset))
