"""Kafka's own Java clients and omium agree on key -> partition and on the record format.

(a) Kafka's console producer (the Java client's default partitioner: murmur2 of the key's
UTF-8 bytes) writes keyed omium events; omium reads them back where ``partition_for``
says they are, and decodes them. (b) omium appends events; Kafka's console consumer reads
them at the positions omium returned, with the keys omium set and values that are JSON.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest

from omium.producers import partition_for
from omium.producers.kafka import KafkaLog
from omium.schemas import StepStarted, encode
from omium.schemas.topics import TopicSpec

pytestmark = pytest.mark.kafka

#: The ``kafka_tool`` fixture (tests/integration/conftest.py).
KafkaTool = Callable[..., Awaitable[subprocess.CompletedProcess[bytes]]]

PRODUCER = "org.apache.kafka.tools.ConsoleProducer"
CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
SEP = "|"
PARTITIONS = 12

# Fixed keys (ASCII, UUIDs, and non-ASCII so the key's UTF-8 bytes matter), so that the
# partitions they cover are the same on every run.
KEYS = [
    *(f"exec-{i}" for i in range(10)),
    "00000000-0000-0000-0000-000000000000",
    "6f1c1f9e-2a4b-4d7e-9c3a-1b2c3d4e5f60",
    "exécution-7",
    "執行-8",
    "a" * 40,
]


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def step(execution_id: str, seq: int) -> StepStarted:
    return StepStarted(execution_id=execution_id, seq=seq, payload={"step": "s", "index": seq})


def tail(data: bytes, lines: int = 20) -> str:
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


async def test_java_producer__records_land_where_omium_puts_the_key(
    kafka_bootstrap: str, kafka_tool: KafkaTool
) -> None:
    log = KafkaLog(kafka_bootstrap, topic_prefix=f"{fresh('interop')}.", create_topics=False)
    topic = "interop.java-produced"
    try:
        await log.create_topics(
            [TopicSpec(name=topic, partitions=PARTITIONS, key="execution_id", description="t")]
        )
        assert await log.partitions(topic) == PARTITIONS
        # Two events per key (30 records), one per line as "key|compact json".
        events = [step(key, seq) for seq in (1, 2) for key in KEYS]
        lines = b"".join(
            key.encode() + SEP.encode() + encode(event) + b"\n"
            for key, event in ((e.execution_id, e) for e in events)
        )
        done = await kafka_tool(
            PRODUCER,
            [
                "--bootstrap-server",
                kafka_bootstrap,
                "--topic",
                log.physical(topic),
                "--reader-property",
                "parse.key=true",
                "--reader-property",
                f"key.separator={SEP}",
                "--producer-property",
                "acks=all",
            ],
            lines,
            60.0,
        )
        assert done.returncode == 0, tail(done.stderr)

        # (omium's KafkaLog.read costs ~1 s per call after the first: read only the
        # partitions that hold records.)
        ends = await log.end_offsets(topic)
        assert sum(ends.values()) == len(events)
        records = [r for p, end in ends.items() if end for r in await log.read(topic, p)]
        assert len(records) == len(events)
        for record in records:
            assert record.key is not None
            assert record.position.partition == partition_for(record.key, PARTITIONS), record.key
            assert record.event().execution_id == record.key
        # The keys spread over many partitions, so agreement is not a coincidence.
        assert len({r.position.partition for r in records}) >= 6
        # Every record arrived intact, and each key's records are in order on one partition.
        assert sorted(encode(r.event()) for r in records) == sorted(encode(e) for e in events)
        for key in KEYS:
            assert [r.event() for r in records if r.key == key] == [
                e for e in events if e.execution_id == key
            ]
        # omium finds an execution written by the Java client by its (non-ASCII) key.
        mine = await log.read_execution("執行-8", topic=topic)
        assert [r.event().seq for r in mine] == [1, 2]
    finally:
        await log.close()


async def test_java_consumer__reads_omium_events_at_omiums_positions(
    kafka_bootstrap: str, kafka_tool: KafkaTool
) -> None:
    log = KafkaLog(kafka_bootstrap, topic_prefix=f"{fresh('interop')}.")
    executions = [fresh("ex") for _ in range(6)]
    events = [step(ex, seq) for seq in range(1, 5) for ex in executions]
    try:
        positions = await log.append_batch(events)
        done = await kafka_tool(
            CONSUMER,
            [
                "--bootstrap-server",
                kafka_bootstrap,
                "--topic",
                log.physical("omium.events"),
                "--from-beginning",
                "--max-messages",
                str(len(events)),
                "--timeout-ms",
                "30000",
                "--formatter-property",
                "print.key=true",
                "--formatter-property",
                "print.partition=true",
                "--formatter-property",
                "print.offset=true",
                "--formatter-property",
                f"key.separator={SEP}",
            ],
            None,
            60.0,
        )
    finally:
        await log.close()
    assert done.returncode == 0, tail(done.stderr)

    seen: dict[tuple[int, int], tuple[str, dict[str, object]]] = {}
    for line in done.stdout.decode().splitlines():
        # Partition:4|Offset:0|key|value (the value is JSON and may itself contain "|")
        partition, offset, key, value = line.split(SEP, 3)
        assert partition.startswith("Partition:") and offset.startswith("Offset:"), line
        seen[(int(partition.removeprefix("Partition:")), int(offset.removeprefix("Offset:")))] = (
            key,
            json.loads(value),
        )
    assert len(seen) == len(events), tail(done.stdout)

    for event, position in zip(events, positions, strict=True):
        key, value = seen[(position.partition, position.offset)]
        assert key == event.execution_id
        assert value["type"] == "step.started"
        assert value["execution_id"] == event.execution_id
        assert value["seq"] == event.seq
        assert value == json.loads(encode(event))
    # omium spread the executions over partitions as the Java client would have.
    assert Counter(p for p, _ in seen) == Counter(
        partition_for(ex, PARTITIONS) for ex in executions for _ in range(4)
    )
