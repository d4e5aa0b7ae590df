"""The executor's cost: per-step overhead on each log, and executions/s with 1 and 2 workers.

(a) 1,000 trivial steps run by omium (step.started, step.completed and a checkpoint per step,
    all durable) against the same 1,000 calls made bare; the difference per step is
    omium's overhead. Async steps, and sync steps (each runs on its own thread).
(b) 200 short executions (3 trivial steps each) submitted at once to 1 and then 2
    `omium worker` processes on Kafka; executions/s from the first submit to the last
    completion.

Prints tables; asserts nothing about time. Medians of --repeat runs.

usage: python tests/bench/bench_executor.py [--kafka HOST:PORT] [--steps N] [--repeat R]
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
from typing import Any

from omium.adapters.python import resolve_steps
from omium.processors.control import Control
from omium.processors.execution import ExecutionRunner
from omium.producers import EventLog, open_log
from omium.schemas import Run, from_dict
from omium.schemas.workflow import WorkflowSpec
from omium.services import runs as service

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "bench.yaml"  # need not exist: bench_steps resolves from this folder


def workflow(steps: int, call: str) -> WorkflowSpec:
    return WorkflowSpec.model_validate(
        {
            "name": "bench",
            "steps": [{"name": f"s{i}", "call": f"bench_steps:{call}"} for i in range(steps)],
        }
    )


async def bare(spec: WorkflowSpec) -> float:
    """Seconds to call every step the way the runner does, with nothing recorded."""
    from omium.adapters.python import run_step

    steps = resolve_steps(spec, HERE, "bench.yaml")
    state: dict[str, Any] = {}
    t = time.perf_counter()
    for step in steps:
        state.update(await run_step(step, state, None))
    return time.perf_counter() - t


async def with_omium(log: EventLog, spec: WorkflowSpec) -> float:
    """Seconds for the runner to execute the same steps, every event durable."""
    command = from_dict(
        {
            "type": "run",
            "execution_id": f"bench-{uuid.uuid4().hex[:8]}",
            "payload": {
                "workflow": spec.name,
                "spec": spec.model_dump(mode="json"),
                "source": str(SOURCE),
            },
        }
    )
    assert isinstance(command, Run)
    runner = ExecutionRunner(log, command, Control())
    t = time.perf_counter()
    status = await runner.run()
    elapsed = time.perf_counter() - t
    assert status == "completed", status
    return elapsed


async def overhead_table(kafka: str, steps: int, repeat: int) -> None:
    print(f"(a) per-step overhead, {steps:,} trivial steps, median of {repeat}\n")
    print("| log | step kind | bare µs/step | omium µs/step | overhead µs/step |")
    print("|---|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        logs = {
            "SQLite file": f"sqlite:///{tmp}/bench.db",
            "SQLite memory": "sqlite:///:memory:",
            "Kafka": f"kafka://{kafka}?topic_prefix=bench-{uuid.uuid4().hex[:6]}.&timeout=30",
        }
        for label, url in logs.items():
            log = open_log(url)
            await log.create_topics()
            for kind in ("tick", "tick_sync"):
                spec = workflow(steps, kind)
                await with_omium(log, workflow(20, kind))  # warm up connections and imports
                bare_s = statistics.median([await bare(spec) for _ in range(repeat)])
                omium_s = statistics.median([await with_omium(log, spec) for _ in range(repeat)])
                per_bare, per_omium = bare_s / steps * 1e6, omium_s / steps * 1e6
                print(
                    f"| {label} | {'async' if kind == 'tick' else 'sync (thread)'} | "
                    f"{per_bare:,.1f} | {per_omium:,.1f} | {per_omium - per_bare:,.1f} |",
                    flush=True,
                )
            await log.close()


def start_workers(url: str, count: int) -> list[subprocess.Popen[bytes]]:
    code = "import sys; from omium.cli import main; sys.exit(main(sys.argv[1:]))"
    return [
        subprocess.Popen(
            [sys.executable, "-c", code, "worker", "--url", url, "--concurrency", "16"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=HERE,
        )
        for _ in range(count)
    ]


async def throughput(kafka: str, workers: int, executions: int) -> tuple[float, float]:
    """(executions/s, seconds) for ``executions`` runs on ``workers`` worker processes."""
    url = f"kafka://{kafka}?topic_prefix=bench-{uuid.uuid4().hex[:6]}.&timeout=30"
    log = open_log(url)
    await log.create_topics()
    procs = start_workers(url, workers)
    try:
        await asyncio.sleep(8)  # let the group form before the clock starts
        spec = workflow(3, "tick")
        async with log.subscribe(
            f"bench-{uuid.uuid4().hex[:6]}", ["omium.events"], from_beginning=False
        ) as events:
            await events.poll(timeout=5)  # join before submitting
            t = time.perf_counter()
            pending = {await service.submit(log, spec, SOURCE, {}) for _ in range(executions)}
            deadline = time.monotonic() + 600
            while pending:  # completions, from the stream rather than by asking per run
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{len(pending)} executions unfinished after 600 s")
                for record in await events.poll(timeout=1):
                    if record.event().type in ("execution.completed", "execution.failed"):
                        pending.discard(record.key or "")
        elapsed = time.perf_counter() - t
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
        await log.close()
    return executions / elapsed, elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kafka", default=os.environ.get("OMIUM_TEST_KAFKA", "127.0.0.1:19092"))
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--executions", type=int, default=200)
    args = parser.parse_args()
    kafka = args.kafka.removeprefix("kafka://")
    await overhead_table(kafka, args.steps, args.repeat)
    print(f"\n(b) {args.executions} executions of 3 trivial steps on Kafka\n")
    print("| workers | executions/s | seconds | × 1 worker |")
    print("|---:|---:|---:|---:|")
    base = None
    for workers in (1, 2):
        rate, seconds = await throughput(kafka, workers, args.executions)
        base = base or rate
        print(f"| {workers} | {rate:,.1f} | {seconds:,.1f} | {rate / base:.2f} |", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
