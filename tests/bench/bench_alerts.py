"""Alerts: events/s through the alert processor against the projections' fold, and latency.

Prints two tables; never asserts anything about time. Embedded log (a SQLite file) only.

1. Throughput: --executions executions of ~14 events each (started, step pairs, tool and
   LLM calls, a handoff, completed or failed), already in omium.events. Rows: the
   projector folding them into a fresh view store (Projector.catch_up), and the alert
   evaluator with all default rules (infra/alerts.yaml) over the same events into a fresh
   alert store (AlertEvaluator.catch_up, no sinks). The ratio is the issue's goal (>= 0.8).

2. Latency: --samples times, an execution records the same tool call three times (the
   default tool-loop rule fires); the time from the third append's return until the
   alert.raised is readable on omium.alerts, with the evaluator running (poll 0.1 s).

usage: python tests/bench/bench_alerts.py [--executions N] [--samples N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from omium.processors.alerts import DEFAULT_RULES, AlertEvaluator, AlertStore, load_rules
from omium.processors.projector import Projector
from omium.processors.view_store import SqliteViews
from omium.producers import EventLog, Recorder, open_log
from omium.schemas import AlertRaised
from omium.schemas.topics import ALERTS


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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        await throughput(Path(tmp), args.executions)
        await latency(Path(tmp), args.samples)


if __name__ == "__main__":
    asyncio.run(main())
