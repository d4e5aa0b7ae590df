"""Alerts: events/s through the alert processor against the projections' fold, and latency.

Prints two tables per runtime; never asserts anything about time. The embedded log (a
SQLite file) always; Kafka with --kafka HOST:PORT (or OMIUM_TEST_KAFKA), through the faust
path that ``omium worker`` runs (``omium processors`` with the alert agents registered).

1. Throughput: --executions executions of ~14 events each (started, step pairs, tool and
   LLM calls, a handoff, completed or failed), already in omium.events. Rows: the
   projector folding them into a fresh view store (Projector.catch_up), and the alert
   evaluator with all default rules (infra/alerts.yaml) over the same events into a fresh
   alert store (AlertEvaluator.catch_up, no sinks). The ratio is the issue's goal (>= 0.8).

2. Latency: --samples times, an execution records the same tool call three times (the
   default tool-loop rule fires); the time from the third append's return until the
   alert.raised is readable on omium.alerts, with the evaluator running (poll 0.1 s).

3. Kafka (with --kafka): the same events appended to fresh topics while ``omium
   processors`` runs, once with no rules (the projections alone) and once with all default
   rules. A processor's progress is read from the next-offset markers each agent writes to
   its changelog at the end of a batch (the projections' and the alert agents'): events/s
   from the first append to the last event evaluated, for the fold alone, the fold beside
   the alerts, and the alerts, all in the same run; then the latency of (2) through faust.

usage: python tests/bench/bench_alerts.py [--executions N] [--samples N] [--kafka HOST:PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from omium.processors.alerts import (
    ALERT_TOPICS,
    DEFAULT_RULES,
    AlertEvaluator,
    AlertStore,
    load_rules,
)
from omium.processors.projector import Projector
from omium.processors.view_store import SqliteViews
from omium.producers import EventLog, Recorder, open_log
from omium.schemas import AlertRaised
from omium.schemas.topics import ALERTS, EVENTS, VIEWS_CHANGELOG


async def record(log: EventLog, executions: int) -> int:
    events = []
    for i in range(executions):
        rec = Recorder(log, f"ex-bench-{i}")
        events.append(rec.prepare("execution.started", workflow="bench"))
        for step in range(3):
            events.append(rec.prepare("step.started", step=f"s{step}", index=step))
            events.append(
                rec.prepare("step.completed", step=f"s{step}", index=step, duration_ms=10.0 + i % 7)
            )
        events.append(rec.prepare("tool.call", tool="search", arguments={"q": i % 5}))
        events.append(
            rec.prepare("llm.call", model="gpt-4o-mini", input_tokens=900, output_tokens=100)
        )
        events.append(rec.prepare("agent.handoff", from_agent="a", to_agent="b"))
        events.append(rec.prepare("tool.call", tool="search", arguments={"q": i % 5}))
        if i % 10 == 0:
            events.append(rec.prepare("execution.failed", error={"type": "E", "message": "no"}))
        else:
            events.append(rec.prepare("execution.completed"))
    for start in range(0, len(events), 5000):
        await log.append_batch(events[start : start + 5000])
    return len(events)


async def throughput(folder: Path, executions: int) -> None:
    log = open_log(f"sqlite:///{folder / 'through.db'}")
    await log.create_topics()
    n = await record(log, executions)
    rules = load_rules(DEFAULT_RULES).rules
    started = time.perf_counter()
    await Projector(log, SqliteViews(str(folder / "views.db"))).catch_up()
    fold = n / (time.perf_counter() - started)
    evaluator = AlertEvaluator(log, AlertStore(str(folder / "alerts.db")), rules)
    started = time.perf_counter()
    await evaluator.catch_up()
    alerts = n / (time.perf_counter() - started)
    print(f"\n1. throughput, {n:,} events, {len(rules)} default rules (embedded)")
    print(f"{'processor':<32}{'events/s':>12}")
    print(f"{'projector (fold into views)':<32}{fold:>12,.0f}")
    print(f"{'alert evaluator':<32}{alerts:>12,.0f}")
    print(f"{'ratio alerts / fold':<32}{alerts / fold:>12.2f}   (goal >= 0.8)")
    print(f"alert events appended: {evaluator.appended}")
    await log.close()


async def latency(folder: Path, samples: int) -> None:
    log = open_log(f"sqlite:///{folder / 'latency.db'}")
    await log.create_topics()
    rules = load_rules(DEFAULT_RULES).rules
    evaluator = AlertEvaluator(log, AlertStore(str(folder / "latency.alerts.db")), rules)
    stop = asyncio.Event()
    running = asyncio.create_task(evaluator.run(stop))
    seen = 0
    times = []
    for i in range(samples):
        rec = Recorder(log, f"ex-lat-{i}")
        await rec.emit("execution.started", workflow="bench")
        for _ in range(3):
            await rec.emit("tool.call", tool="search", arguments={"q": "same"})
        appended = time.perf_counter()
        while True:
            count = 0
            for p in range(await log.partitions(ALERTS.name)):
                count += sum(
                    isinstance(r.event(), AlertRaised) for r in await log.read(ALERTS.name, p)
                )
            if count > seen:
                seen = count
                break
            await asyncio.sleep(0.002)
        times.append((time.perf_counter() - appended) * 1000)
        await rec.emit("execution.completed")
    stop.set()
    await running
    times.sort()
    p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
    print(
        f"\n2. latency, append of the triggering event -> alert.raised readable ({samples} samples)"
    )
    print(f"{'runtime':<12}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    print(
        f"{'embedded':<12}{statistics.median(times):>10.1f}{p99:>10.1f}{times[-1]:>10.1f}"
        "   (goal p99 <= 100 ms)"
    )
    await log.close()


class Progress:
    """Per partition, the next offset a faust agent evaluated, from its changelog's markers."""

    def __init__(self, log: EventLog, topic: str, marker: str) -> None:
        self.log, self.topic, self.marker = log, topic, marker
        self.read: dict[int, int] = {}
        self.next: dict[int, int] = {}

    async def reached(self, ends: dict[int, int]) -> bool:
        """Whether every partition was evaluated up to ``ends``."""
        for partition in range(await self.log.partitions(self.topic)):
            records = await self.log.read(self.topic, partition, self.read.get(partition, 0))
            if records:
                self.read[partition] = records[-1].position.offset + 1
            for record in records:
                if record.key and record.key.startswith(self.marker):
                    self.next[int(record.key.split(":")[-1])] = int(record.value)
        return all(self.next.get(p, 0) >= end for p, end in ends.items() if end)


def processors(url: str, folder: Path, rules: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OMIUM_HOME": str(folder), "OMIUM_ALERTS": str(rules)}
    with (folder / "processors.log").open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "omium.cli", "processors", "--url", url, "--log-level", "info"],
            cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


async def ready(folder: Path, proc: subprocess.Popen[bytes]) -> None:
    log = folder / "processors.log"
    while "[^Worker]: Ready" not in log.read_text(errors="replace"):
        if proc.poll() is not None:
            raise SystemExit(log.read_text()[-3000:])
        await asyncio.sleep(0.2)


async def kafka_run(bootstrap: str, folder: Path, executions: int, rules: Path) -> dict[str, float]:
    """One processors process on fresh topics; events/s per agent from the first append."""
    folder.mkdir()
    url = f"kafka://{bootstrap}?topic_prefix=bench-{uuid.uuid4().hex[:8]}."
    log = open_log(url)
    await log.create_topics()
    proc = processors(url, folder, rules)
    try:
        await ready(folder, proc)
        watch = {"fold": Progress(log, VIEWS_CHANGELOG.name, "__omium_next_offset__:")}
        if load_rules(rules).rules:
            watch["alerts"] = Progress(log, ALERT_TOPICS[0].name, "__omium_alerts_next__:")
        started = time.perf_counter()
        n = await record(log, executions)
        ends = await log.end_offsets(EVENTS.name)
        rates: dict[str, float] = {}
        while len(rates) < len(watch):
            for name, progress in watch.items():
                if name not in rates and await progress.reached(ends):
                    rates[name] = n / (time.perf_counter() - started)
            await asyncio.sleep(0.05)
        if "alerts" in watch:
            rates["p50"], rates["p99"] = await kafka_latency(log)
        return rates
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 30)
        await log.close()


async def kafka_latency(log: EventLog, samples: int = 30) -> tuple[float, float]:
    """Append of the third same tool call -> its alert.raised readable, through faust."""
    offsets = await log.end_offsets(ALERTS.name)
    times = []
    for i in range(samples):
        rec = Recorder(log, f"ex-klat-{i}")
        await rec.emit("execution.started", workflow="bench")
        for _ in range(3):
            await rec.emit("tool.call", tool="search", arguments={"q": "same"})
        appended, found = time.perf_counter(), False
        while not found:
            for partition, start in offsets.items():
                records = await log.read(ALERTS.name, partition, start)
                if records:
                    offsets[partition] = records[-1].position.offset + 1
                    found = found or any(isinstance(r.event(), AlertRaised) for r in records)
            if not found:
                await asyncio.sleep(0.002)
        times.append((time.perf_counter() - appended) * 1000)
        await rec.emit("execution.completed")
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.99 * len(times)))]


async def kafka_bench(folder: Path, bootstrap: str, executions: int) -> None:
    none = folder / "no-rules.yaml"
    none.write_text("rules: []\n")
    alone = await kafka_run(bootstrap, folder / "kafka-fold", executions, none)
    both = await kafka_run(bootstrap, folder / "kafka-alerts", executions, DEFAULT_RULES)
    print(f"\n3. Kafka, faust (omium processors, 1 process), {executions:,} executions")
    print(f"{'agent':<44}{'events/s':>12}")
    print(f"{'projections alone (no rules)':<44}{alone['fold']:>12,.0f}")
    print(f"{'projections, beside the alert agents':<44}{both['fold']:>12,.0f}")
    print(f"{'alert agents, all default rules':<44}{both['alerts']:>12,.0f}")
    print(f"{'ratio alerts / fold (same run)':<44}{both['alerts'] / both['fold']:>12.2f}")
    print(
        f"{'ratio alerts / fold alone':<44}{both['alerts'] / alone['fold']:>12.2f}   (goal >= 0.8)"
    )
    print(
        f"latency, 3rd same tool call appended -> alert.raised readable: p50 "
        f"{both['p50']:.1f} ms, p99 {both['p99']:.1f} ms   (goal p99 <= 1000 ms)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--kafka", default=os.environ.get("OMIUM_TEST_KAFKA"))
    parser.add_argument("--skip-embedded", action="store_true")
    args = parser.parse_args()
    one, five, _ = os.getloadavg()
    print(f"load: {one:.1f} {five:.1f} (1, 5 min), {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_embedded:
            await throughput(Path(tmp), args.executions)
            await latency(Path(tmp), args.samples)
        if args.kafka:
            await kafka_bench(Path(tmp), args.kafka, args.executions)


if __name__ == "__main__":
    asyncio.run(main())
