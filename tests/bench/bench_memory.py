"""Memory of a worker holding many executions that wait for a person, and how fast one resumes.

N runs of a LangGraph workflow (``bench_graphs:approval``: ``ask`` calls ``interrupt()``,
then ``act``) are appended as ``run`` commands, then one in-process :class:`Worker` (its
concurrency set to N: a run waiting for input keeps its slot) starts them all, until
every one is parked waiting for its answer. Printed:

- the process's RSS before the worker started (imports, log open) and with N waiting,
  and the difference per waiting execution;
- for --resumes of them, one after another: a ``resume`` command with the answer
  appended → the next ``step.started`` of that execution readable in the log (polled
  every 2 ms): p50 and max;
- with --trace: tracemalloc's top allocation sites (by line) of the N waiting runs,
  traced from before the worker started (slower: use a smaller N).

Goals (issue 18): RSS ≤ 300 MB with 10,000 waiting, resume → step start ≤ 100 ms.

usage: python tests/bench/bench_memory.py [--executions N] [--resumes R] [--kafka HOST:PORT]
           [--trace]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

from omium.processors.worker import Worker
from omium.producers import EventLog, open_log
from omium.producers.sqlite import SqliteLog
from omium.schemas import Resume, Run
from omium.schemas.workflow import WorkflowSpec

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "bench.yaml"  # need not exist: the graph resolves from this folder
CHUNK = 2_000


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def runs(n: int) -> list[Run]:
    spec = WorkflowSpec.model_validate(
        {"name": "approval", "framework": "langgraph", "graph": "bench_graphs:approval"}
    )
    out = []
    for i in range(n):
        execution_id = f"wait-{uuid.uuid4().hex[:12]}"
        out.append(
            Run.model_validate(
                {
                    "execution_id": execution_id,
                    "payload": {
                        "workflow": spec.name,
                        "spec": spec.model_dump(mode="json"),
                        "inputs": {"doc": f"doc {i}", "run_key": execution_id},
                        "source": str(SOURCE),
                        "fresh_id": True,
                    },
                }
            )
        )
    return out


def waiting(worker: Worker) -> int:
    return sum(1 for r in worker.running.values() if r.control.parked)


async def step_started_after(log: EventLog, execution_id: str, seq: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        for record in await log.read_execution(execution_id):
            event = record.event()
            if event.type == "step.started" and event.seq > seq:
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{execution_id}: no step started {timeout} s after the resume")
        await asyncio.sleep(0.002)


async def resume_one(log: EventLog, execution_id: str) -> float:
    seq = max(r.event().seq for r in await log.read_execution(execution_id))
    t = time.perf_counter()
    await log.append(Resume(execution_id=execution_id, payload={"input": {"ok": True}}))
    await step_started_after(log, execution_id, seq, timeout=60)
    return time.perf_counter() - t


async def bench(log: EventLog, n: int, resumes: int, trace: bool) -> None:
    commands = runs(n)
    for i in range(0, n, CHUNK):
        await log.append_batch(commands[i : i + CHUNK])
    gc.collect()
    before = rss_mb()
    if trace:
        tracemalloc.start()
    stop = asyncio.Event()
    worker = Worker(log, concurrency=n + resumes, poll_timeout=0.05)
    task = asyncio.create_task(worker.run(stop))
    t = time.perf_counter()
    try:
        shown = t
        while (count := waiting(worker)) < n:
            if task.done():
                task.result()
            if time.perf_counter() - shown >= 30:
                shown = time.perf_counter()
                say(f"  {count:,}/{n:,} waiting ({shown - t:.0f} s, {rss_mb():.0f} MB)")
            await asyncio.sleep(0.5)
        took = time.perf_counter() - t
        gc.collect()
        after = rss_mb()
        snapshot = tracemalloc.take_snapshot() if trace else None
        latencies = [await resume_one(log, c.execution_id) for c in commands[:resumes]]
    finally:
        stop.set()
        await asyncio.wait_for(task, 120)
    print(f"## Memory: {n:,} executions waiting for input in one worker ({log.url})\n")
    print("| measure | value |")
    print("|---|---:|")
    print(f"| RSS before the worker started | {before:,.0f} MB |")
    print(f"| RSS with {n:,} waiting | {after:,.0f} MB |")
    print(f"| per waiting execution | {(after - before) * 1024 / n:,.1f} KiB |")
    print(f"| time to park them all | {took:,.0f} s |")
    p50, worst = statistics.median(latencies) * 1000, max(latencies) * 1000
    print(f"| resume → next step.started, p50 of {resumes} | {p50:,.1f} ms |")
    print(f"| the same, max | {worst:,.1f} ms |")
    ok = after <= 300 and p50 <= 100
    print(f"\nGoals: RSS ≤ 300 MB, resume → step ≤ 100 ms: {'met' if ok else 'NOT met'}.")
    if snapshot is not None:
        total = sum(s.size for s in snapshot.statistics("filename"))
        print(f"\ntracemalloc: {total / 2**20:,.1f} MiB traced with the runs waiting; top files:\n")
        for stat in snapshot.statistics("filename")[:15]:
            frame = stat.traceback[0]
            print(f"- {stat.size / 2**20:,.1f} MiB in {stat.count:,} blocks: {frame.filename}")
        print("\ntop lines:\n")
        for stat in snapshot.statistics("lineno")[:10]:
            frame = stat.traceback[0]
            print(
                f"- {stat.size / 2**20:,.1f} MiB in {stat.count:,} blocks: "
                f"{frame.filename}:{frame.lineno}"
            )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=10_000)
    parser.add_argument("--resumes", type=int, default=20)
    parser.add_argument("--kafka", help="HOST:PORT (default: an embedded SQLite log)")
    parser.add_argument("--trace", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))  # bench_graphs, as the worker resolves it
    with tempfile.TemporaryDirectory() as tmp:
        if args.kafka:
            prefix = f"bench-mem-{uuid.uuid4().hex[:6]}."
            log = open_log(f"kafka://{args.kafka}?topic_prefix={prefix}&timeout=30")
            await log.create_topics()
        else:
            log = SqliteLog(Path(tmp) / "log.db")
        try:
            await bench(log, args.executions, args.resumes, args.trace)
        finally:
            await log.close()


if __name__ == "__main__":
    asyncio.run(main())
