"""The raw log, for operators: read records at positions, tail the events, manage topics.

Records come back as :class:`~omium.services.models.RecordOut`, the shape
``GET /executions/{id}/events`` has too.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

from omium.schemas.topics import EVENTS, TOPICS
from omium.services.context import Omium
from omium.services.models import RecordOut


async def read(
    app: Omium,
    *,
    topic: str = EVENTS.name,
    execution: str | None = None,
    partition: int | None = None,
    start: int = 0,
    end: int | None = None,
) -> list[RecordOut]:
    """Records of ``topic`` with ``start <= offset < end``.

    Of one execution, of one partition, or of every partition in turn.
    """
    if execution is not None:
        found = await app.log.read_execution(execution, topic=topic, start=start, end=end)
        return [RecordOut.of(r) for r in found]
    parts = [partition] if partition is not None else range(await app.log.partitions(topic))
    out: list[RecordOut] = []
    for p in parts:
        out += [RecordOut.of(r) for r in await app.log.read(topic, p, start, end)]
    return out


async def tail(
    app: Omium,
    *,
    execution: str | None = None,
    from_beginning: bool = False,
    max_events: int | None = None,
    idle: float | None = None,
) -> AsyncIterator[RecordOut]:
    """The events as they are recorded, until ``max_events`` or ``idle`` seconds of quiet.

    A consumer group of its own: tailing never moves a worker's offsets.
    """
    seen = 0
    last = time.monotonic()
    group = f"omium-tail-{uuid.uuid4().hex[:8]}"
    async with app.log.subscribe(group, [EVENTS.name], from_beginning=from_beginning) as sub:
        while max_events is None or seen < max_events:
            records = await sub.poll(timeout=0.5)
            if not records and idle is not None and time.monotonic() - last > idle:
                return
            for record in records:
                if execution is not None and record.key != execution:
                    continue
                last = time.monotonic()
                seen += 1
                yield RecordOut.of(record)
                if max_events is not None and seen >= max_events:
                    return


async def create_topics(app: Omium) -> list[str]:
    """Create every omium topic that does not exist yet (idempotent); their names."""
    await app.log.create_topics(TOPICS)
    return [t.name for t in TOPICS]


async def topic_ends(app: Omium) -> dict[str, dict[int, int]]:
    """Each topic's end offset per partition (how many records it holds)."""
    return {t.name: await app.log.end_offsets(t.name) for t in TOPICS}
