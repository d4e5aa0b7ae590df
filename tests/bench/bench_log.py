"""Append throughput and latency of the event log, against Kafka's own producer tool.

Prints one table; never asserts anything about time. Rows:

  (a) Kafka's ProducerPerformance (Java) on the same broker, 1 KiB records, acks=all,
      idempotence on: the baseline every ratio is taken against (batched column);
  (b) raw aiokafka with the same settings (send() per record, then await the batch);
  (c) omium's KafkaLog: the same plus pydantic validation and JSON encoding;
  (d) omium's embedded SqliteLog on a file (WAL, synchronous=NORMAL);
  (e) raw sqlite3 inserting the same pre-encoded rows into the same table: (d)'s ceiling.

"batched" appends BATCH events per call; "one at a time" awaits each append before the next.
Latency: single appends issued open-loop at half of that row's one-at-a-time maximum,
measured from the scheduled send time (queueing included). Medians of REPEAT runs.

usage: python tests/bench/bench_log.py [--kafka HOST:PORT] [--events N] [--repeat R]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sqlite3
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiokafka import AIOKafkaProducer

from omium.producers import EventLog
from omium.producers.kafka import KafkaLog
from omium.producers.sqlite import SqliteLog
from omium.schemas import StepCompleted, encode

ROOT = Path(__file__).resolve().parents[2]
RECORD_SIZE = 1024
BATCH = 1000


def make_events(n: int, executions: int = 64) -> list[StepCompleted]:
    """``n`` step.completed events of ~1 KiB encoded, spread over ``executions`` keys."""
    probe = StepCompleted(
        execution_id="ex-000", seq=1, payload={"step": "s", "index": 0, "output": {"pad": ""}}
    )
    pad = "x" * (RECORD_SIZE - len(encode(probe)))
    return [
        StepCompleted(
            execution_id=f"ex-{i % executions:03d}",
            seq=i + 1,
            payload={"step": "s", "index": 0, "output": {"pad": pad}},
        )
        for i in range(n)
    ]


async def open_loop_latency(
    append: Callable[[], Awaitable[object]], rate: float, count: int
) -> tuple[float, float]:
    """p50/p99 ms of ``count`` appends scheduled at ``rate``/s, from the scheduled time."""
    latencies: list[float] = []
    start = time.perf_counter() + 0.05

    async def one(at: float) -> None:
        await append()
        latencies.append(time.perf_counter() - at)

    tasks = []
    for i in range(count):
        at = start + i / rate
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(at)))
    await asyncio.gather(*tasks)
    qs = statistics.quantiles(latencies, n=100)
    return qs[49] * 1000, qs[98] * 1000


class Row:
    def __init__(self, name: str) -> None:
        self.name = name
        self.batched: list[float] = []
        self.single: list[float] = []
        self.p50 = self.p99 = float("nan")


async def bench_eventlog(
    row: Row, log: EventLog, events: list[StepCompleted], repeat: int, single_n: int
) -> None:
    for _ in range(repeat):
        t = time.perf_counter()
        for i in range(0, len(events), BATCH):
            await log.append_batch(events[i : i + BATCH])
        row.batched.append(len(events) / (time.perf_counter() - t))
        t = time.perf_counter()
        for event in events[:single_n]:
            await log.append(event)
        row.single.append(single_n / (time.perf_counter() - t))
    rate = statistics.median(row.single) / 2
    it = iter(events * 4)
    row.p50, row.p99 = await open_loop_latency(
        lambda: log.append(next(it)), rate, int(min(single_n, rate * 4))
    )


async def bench_aiokafka(
    row: Row, bootstrap: str, topic: str, events: list[StepCompleted], repeat: int, single_n: int
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    # the same bytes omium would write, encoded up front: this row measures the client only
    records = [(e.execution_id.encode(), encode(e)) for e in events]
    try:
        for _ in range(repeat):
            t = time.perf_counter()
            for i in range(0, len(records), BATCH):
                futures = [
                    await producer.send(topic, value, key=key)
                    for key, value in records[i : i + BATCH]
                ]
                await asyncio.gather(*futures)
            row.batched.append(len(records) / (time.perf_counter() - t))
            t = time.perf_counter()
            for key, value in records[:single_n]:
                await producer.send_and_wait(topic, value, key=key)
            row.single.append(single_n / (time.perf_counter() - t))
        rate = statistics.median(row.single) / 2
        it = iter(records * 4)

        async def one() -> object:
            key, value = next(it)
            return await producer.send_and_wait(topic, value, key=key)

        row.p50, row.p99 = await open_loop_latency(one, rate, int(min(single_n, rate * 4)))
    finally:
        await producer.stop()


def bench_raw_sqlite(
    row: Row, path: Path, events: list[StepCompleted], repeat: int, single_n: int
) -> None:
    """The SQLite ceiling: the same rows (pre-encoded) into the same table, no omium code."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE records (id INTEGER PRIMARY KEY, key TEXT, ts_ms INTEGER, value BLOB)")
    db.execute("CREATE INDEX records_by_key ON records (key)")
    rows = [(i, e.execution_id, 0, encode(e)) for i, e in enumerate(events)]
    next_id = len(rows)
    for _ in range(repeat):
        t = time.perf_counter()
        for i in range(0, len(rows), BATCH):
            chunk = [(next_id + j, *r[1:]) for j, r in enumerate(rows[i : i + BATCH])]
            next_id += len(chunk)
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT INTO records VALUES (?, ?, ?, ?)", chunk)
            db.execute("COMMIT")
        row.batched.append(len(rows) / (time.perf_counter() - t))
        t = time.perf_counter()
        for r in rows[:single_n]:
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO records VALUES (?, ?, ?, ?)", (next_id, *r[1:]))
            db.execute("COMMIT")
            next_id += 1
        row.single.append(single_n / (time.perf_counter() - t))
    db.close()


def producer_performance(row: Row, bootstrap: str, topic: str, n: int, repeat: int) -> None:
    jars = (
        subprocess.run(
            [str(ROOT / "infra/kafka/broker.sh"), "jars"],
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )

    def run(throughput: float) -> dict[str, float]:
        out = subprocess.run(
            [
                "java",
                "-Xmx512m",
                "-cp",
                f"{jars}/*",
                "-Dlog4j2.configurationFile=" + str(ROOT / "infra/kafka/tools-log4j2.xml"),
                "org.apache.kafka.tools.ProducerPerformance",
                "--topic",
                topic,
                "--num-records",
                str(n),
                "--record-size",
                str(RECORD_SIZE),
                "--throughput",
                str(int(throughput)),
                "--command-property",
                f"bootstrap.servers={bootstrap}",
                "acks=all",
                "enable.idempotence=true",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        last = out.strip().splitlines()[-1]
        m = re.search(
            r"([\d.]+) records/sec.*?([\d.]+) ms 50th, ([\d.]+) ms 95th, "
            r"([\d.]+) ms 99th",
            last,
        )
        if not m:
            raise RuntimeError(f"unexpected ProducerPerformance output: {last}")
        return {"rate": float(m[1]), "p50": float(m[2]), "p99": float(m[4])}

    for _ in range(repeat):
        row.batched.append(run(-1)["rate"])
    half = run(statistics.median(row.batched) / 2)
    row.p50, row.p99 = half["p50"], half["p99"]


def ms(x: float) -> str:
    return "—" if x != x else f"{x:.2f}"


def fmt(x: float) -> str:
    return "—" if x != x else f"{x:,.0f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kafka", default=os.environ.get("OMIUM_TEST_KAFKA", "127.0.0.1:19092"))
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--single", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bootstrap = args.kafka.removeprefix("kafka://")
    events = make_events(args.events)
    prefix = f"bench-{uuid.uuid4().hex[:6]}."
    rows = {
        k: Row(k)
        for k in (
            "(a) Kafka ProducerPerformance (Java)",
            "(b) raw aiokafka",
            "(c) omium KafkaLog",
            "(d) omium SqliteLog (file)",
            "(e) raw sqlite3, same table (file)",
        )
    }
    a, b, c, d, e = rows.values()

    kafka_log = KafkaLog(bootstrap, topic_prefix=prefix, timeout=30)
    await kafka_log.create_topics()
    topic = kafka_log.physical("omium.events")
    print(
        f"broker {bootstrap}, topic {topic} (12 partitions), {args.events:,} events of "
        f"{RECORD_SIZE} B, batches of {BATCH}, {args.repeat} runs",
        flush=True,
    )
    # 5x the records: the JVM needs them to warm up, and the rate is per record anyway
    producer_performance(a, bootstrap, topic, args.events * 5, args.repeat)
    print("(a) done", flush=True)
    await bench_aiokafka(b, bootstrap, topic, events, args.repeat, args.single)
    print("(b) done", flush=True)
    await bench_eventlog(c, kafka_log, events, args.repeat, args.single)
    await kafka_log.close()
    print("(c) done", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_log = SqliteLog(Path(tmp) / "log.db")
        await bench_eventlog(d, sqlite_log, events, args.repeat, args.single)
        await sqlite_log.close()
    print("(d) done", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        bench_raw_sqlite(e, Path(tmp) / "raw.db", events, args.repeat, args.single)
    print("(e) done\n", flush=True)

    base = statistics.median(a.batched)
    print(
        "| log | batched events/s | × (a) | one at a time events/s | "
        "p50 ms @ ½ max | p99 ms @ ½ max |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows.values():
        batched = statistics.median(row.batched)
        single = statistics.median(row.single) if row.single else float("nan")
        print(
            f"| {row.name} | {fmt(batched)} | {batched / base:.2f} | {fmt(single)} | "
            f"{ms(row.p50)} | {ms(row.p99)} |"
        )
    ratio = statistics.median(c.batched) / statistics.median(b.batched)
    sqlite_ratio = statistics.median(d.batched) / statistics.median(e.batched)
    print(
        f"\n(c)/(b) batched = {ratio:.2f} (goal ≥ 0.5); (d)/(e) batched = {sqlite_ratio:.2f}; "
        f"(d) batched = {statistics.median(d.batched):,.0f}/s (goal ≥ 50,000)"
    )


if __name__ == "__main__":
    asyncio.run(main())
