"""faust-streaming works against the Kafka 4.4 broker: a worker consumes, counts, forwards.

The worker runs as a subprocess (``_faust_app.py worker``): faust's ``Worker`` owns its
event loop and installs signal handlers, which does not mix with pytest-asyncio's loop.
Half the records exist before the worker starts (read from the earliest offset), half are
produced while it runs. The agent keeps a per-key count in a Table (changelog topic created
by faust itself) and forwards each record as ``<value>:<count>`` to a sink topic, which the
test reads with aiokafka.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from procs import tail, wait_for_line

pytestmark = pytest.mark.kafka

APP = Path(__file__).with_name("_faust_app.py")
PARTITIONS = 2
KEYS = [f"k{i}" for i in range(5)]
N = 60  # records in all; half before the worker starts, half while it runs


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def listening_sockets(pid: int) -> set[str]:
    """The TCP ports process ``pid`` listens on (Linux /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A = LISTEN
                ports.add(fields[1])
    return ports


async def test_faust_worker__processes_every_record_and_stops_cleanly(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    app_id, source, sink = fresh("faust-smoke"), fresh("faust-in"), fresh("faust-out")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=20000)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(t, PARTITIONS, 1) for t in (source, sink)], timeout_ms=20000
        )
    finally:
        await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    sent: dict[str, list[str]] = defaultdict(list)

    async def produce(numbers: range) -> None:
        for i in numbers:
            key = KEYS[i % len(KEYS)]
            await producer.send_and_wait(source, key=key.encode(), value=str(i).encode())
            sent[key].append(str(i))

    log_file = tmp_path / "worker.log"
    env = {
        **os.environ,
        "FAUST_SMOKE_BROKER": kafka_bootstrap,
        "FAUST_SMOKE_APP_ID": app_id,
        "FAUST_SMOKE_SOURCE": source,
        "FAUST_SMOKE_SINK": sink,
        "FAUST_SMOKE_PARTITIONS": str(PARTITIONS),
        "FAUST_SMOKE_DATADIR": str(tmp_path / "faust-data"),
    }
    consumer = AIOKafkaConsumer(
        sink, bootstrap_servers=kafka_bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await producer.start()
    await consumer.start()
    proc: subprocess.Popen[bytes] | None = None
    try:
        await produce(range(N // 2))
        with log_file.open("wb") as out:
            # `worker` ignores App(web_enabled=False) (its --with-web flag defaults to on and
            # overwrites the setting): --without-web is what keeps port 6066 closed.
            proc = subprocess.Popen(
                [sys.executable, str(APP), "worker", "-l", "info", "--without-web"],
                env=env,
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        await wait_for_line(log_file, proc, "[^Worker]: Ready")
        await produce(range(N // 2, N))

        seen: dict[str, list[str]] = defaultdict(list)
        deadline = time.monotonic() + 60
        while sum(map(len, seen.values())) < N and time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"faust worker exited ({proc.returncode}):\n{tail(log_file)}")
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                for m in messages:
                    seen[m.key.decode()].append(m.value.decode())
        assert sum(map(len, seen.values())) == N, tail(log_file)

        # Per key (one partition each), every record went through the agent once, in
        # order, and the table's count grew by one per record.
        for key in KEYS:
            assert seen[key] == [f"{v}:{n}" for n, v in enumerate(sent[key], start=1)], key
        assert listening_sockets(proc.pid) == set(), "the worker opened a listening port"

        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 30)
        output = log_file.read_text(errors="replace")
        assert code == 0, tail(log_file)
        assert "Traceback" not in output and "[ERROR]" not in output, tail(log_file)
        assert "[^Worker]: Closing event loop" in output

        # The table wrote one changelog record per update to a topic faust created itself.
        changelog = f"{app_id}-counts-changelog"
        ends = await consumer.end_offsets([TopicPartition(changelog, p) for p in range(PARTITIONS)])
        assert sum(ends.values()) == N
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)
        await consumer.stop()
        await producer.stop()
