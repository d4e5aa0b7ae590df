"""The executor's cost: per-step overhead, executions/s, and the wait before a run starts.

(a) 1,000 trivial steps run by omium (step.started, step.completed and a checkpoint per step,
    all durable) against the same 1,000 calls made bare; the difference per step is
    omium's overhead. Async steps, and sync steps (each runs on its own thread).
(b) 500 short executions (3 trivial steps each) submitted at once to 1 and then 2
    `omium worker` processes, on Kafka and on the embedded log; executions/s from the
    first submit to the last completion.
(c) submit -> first ``step.started`` with 1 worker, executions submitted one by one at a
    steady rate: when the step began (the event's ``ts``) and when it reached the log.

Prints tables; asserts nothing about time. Medians of --repeat runs. ``--profile DIR``
writes a cProfile of each worker of (b) (``python -m pstats DIR/…prof``).

usage: python tests/bench/bench_executor.py [--kafka HOST:PORT] [--logs kafka,sqlite]
       [--parts overhead,throughput,latency] [--executions N] [--repeat R] [--profile DIR]
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


PROFILED = (
    "import os, sys, cProfile\n"
    "from omium.cli import main\n"
    "profile = cProfile.Profile()\n"
    "profile.enable()\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "finally:\n"
    "    profile.disable()\n"
    "    profile.dump_stats(os.environ['BENCH_PROFILE'])\n"
)
PLAIN = "import sys; from omium.cli import main; sys.exit(main(sys.argv[1:]))"


def start_workers(
    url: str, count: int, *, processors: bool = True, profile: Path | None = None
) -> list[subprocess.Popen[bytes]]:
    """``count`` `omium worker` processes on ``url`` (each profiled into ``profile`` if set)."""
    procs = []
    for i in range(count):
        env = dict(os.environ)
        if profile is not None:
            env["BENCH_PROFILE"] = str(profile.with_suffix(f".{i}.prof"))
        args = ["worker", "--url", url, "--concurrency", "16"]
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", PROFILED if profile else PLAIN, *args]
                + ([] if processors else ["--no-processors"]),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=HERE,
                env=env,
            )
        )
    return procs


def log_url(kind: str, kafka: str, tmp: str) -> str:
    """A fresh log of ``kind`` (``kafka`` or ``sqlite``): its own topics or its own file."""
    if kind == "kafka":
        return f"kafka://{kafka}?topic_prefix=bench-{uuid.uuid4().hex[:6]}.&timeout=30"
    return f"sqlite:///{tmp}/bench-{uuid.uuid4().hex[:6]}.db"


async def throughput(url: str, workers: int, executions: int, **opts: Any) -> float:
    """Executions/s for ``executions`` runs submitted at once to ``workers`` processes."""
    log = open_log(url)
    await log.create_topics()
    procs = start_workers(url, workers, **opts)
    try:
        spec = workflow(3, "tick")
        async with log.subscribe(
            f"bench-{uuid.uuid4().hex[:6]}", ["omium.events"], from_beginning=False
        ) as events:
            await warm_up(log, events, spec)
            runs = [fresh_run(spec) for _ in range(executions)]
            t = time.perf_counter()
            for chunk in range(0, executions, 100):  # submitted at once, a batch per append
                await log.append_batch(runs[chunk : chunk + 100])
            await until_done(events, {run.execution_id for run in runs})
        elapsed = time.perf_counter() - t
    finally:
        await stop(procs)
        await log.close()
    return executions / elapsed


async def warm_up(log: EventLog, events: Any, spec: WorkflowSpec) -> None:
    """Let the workers form their group and load the workflow: one execution, to its end.

    A run command appended while the group still rebalances is read before it runs (it
    may have been delivered before, see ``omium.processors.deliveries``): not measured.
    """
    await asyncio.sleep(8)
    await events.poll(timeout=2)  # join before submitting
    first = await service.submit(log, spec, SOURCE, {})
    await until_done(events, {first}, limit=120)


async def until_done(events: Any, pending: set[str], limit: float = 600) -> None:
    """Wait for every execution of ``pending`` to end (from the stream, not by asking each)."""
    deadline = time.monotonic() + limit
    while pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} executions unfinished after {limit:g} s")
        for record in await events.poll(timeout=1):
            if record.event().type in ("execution.completed", "execution.failed"):
                pending.discard(record.key or "")


async def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        await asyncio.to_thread(p.wait, 60)


async def latency(url: str, executions: int, rate: float) -> tuple[list[float], list[float]]:
    """Per execution submitted at ``rate``/s to 1 worker: ms from submit to its first step.

    Two clocks: when the first ``step.started`` was prepared (its ``ts``, the step began)
    and when it reached the log (the record's timestamp, after the group commit).
    """
    log = open_log(url)
    await log.create_topics()
    procs = start_workers(url, 1)
    began: dict[str, float] = {}
    started: dict[str, float] = {}
    recorded: dict[str, float] = {}
    try:
        spec = workflow(3, "tick")
        async with log.subscribe(
            f"bench-{uuid.uuid4().hex[:6]}", ["omium.events"], from_beginning=False
        ) as events:
            await warm_up(log, events, spec)

            async def collect() -> None:
                while len(started) < executions:
                    for record in await events.poll(timeout=0.2):
                        event = record.event()
                        if event.type == "step.started" and record.key not in started:
                            started[record.key or ""] = event.ts.timestamp()
                            recorded[record.key or ""] = record.timestamp_ms / 1000

            collecting = asyncio.create_task(collect())
            for _ in range(executions):
                now = time.time()
                began[await service.submit(log, spec, SOURCE, {})] = now
                await asyncio.sleep(max(0.0, 1 / rate - (time.time() - now)))
            await asyncio.wait_for(collecting, 120)
    finally:
        await stop(procs)
        await log.close()
    ids = list(began)
    return (
        [(started[i] - began[i]) * 1000 for i in ids],
        [(recorded[i] - began[i]) * 1000 for i in ids],
    )


def fresh_run(spec: WorkflowSpec) -> Run:
    """The run command ``service.submit`` appends for a generated id."""
    return Run.model_validate(
        {
            "execution_id": f"ex-{uuid.uuid4().hex[:12]}",
            "payload": {
                "workflow": spec.name,
                "spec": spec.model_dump(mode="json"),
                "source": str(SOURCE.resolve()),
                "fresh_id": True,
            },
        }
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kafka", default=os.environ.get("OMIUM_TEST_KAFKA", "127.0.0.1:19092"))
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--executions", type=int, default=500)
    parser.add_argument("--logs", default="kafka,sqlite", help="kafka, sqlite or both")
    parser.add_argument("--parts", default="overhead,throughput,latency")
    parser.add_argument("--workers", default="1,2", help="worker counts for (b)")
    parser.add_argument("--latency-runs", type=int, default=200)
    parser.add_argument("--latency-rate", type=float, default=50.0, help="submits/s in (c)")
    parser.add_argument("--no-processors", action="store_true", help="(b): workers only")
    parser.add_argument("--profile", type=Path, help="(b): cProfile each worker into DIR")
    args = parser.parse_args()
    kafka = args.kafka.removeprefix("kafka://")
    parts, kinds = args.parts.split(","), args.logs.split(",")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    if "overhead" in parts:
        await overhead_table(kafka, args.steps, args.repeat)
    if "throughput" in parts:
        print(f"\n(b) {args.executions} executions of 3 trivial steps, median of {args.repeat}\n")
        print("| log | workers | executions/s | × 1 worker |")
        print("|---|---:|---:|---:|")
        with tempfile.TemporaryDirectory() as tmp:
            for kind in kinds:
                base = None
                for workers in map(int, args.workers.split(",")):
                    rates = []
                    for r in range(args.repeat):
                        profile = args.profile / f"{kind}-{workers}w-{r}" if args.profile else None
                        url = log_url(kind, kafka, tmp)
                        rates.append(
                            await throughput(
                                url,
                                workers,
                                args.executions,
                                processors=not args.no_processors,
                                profile=profile,
                            )
                        )
                    rate = statistics.median(rates)
                    base = base or rate
                    print(f"| {kind} | {workers} | {rate:,.1f} | {rate / base:.2f} |", flush=True)
    if "latency" in parts:
        print(
            f"\n(c) submit → first step.started, 1 worker, {args.latency_runs} executions "
            f"submitted at {args.latency_rate:g}/s (ms)\n"
        )
        print("| log | clock | p50 | p90 | p99 | max |")
        print("|---|---|---:|---:|---:|---:|")
        with tempfile.TemporaryDirectory() as tmp:
            for kind in kinds:
                url = log_url(kind, kafka, tmp)
                began, durable = await latency(url, args.latency_runs, args.latency_rate)
                for clock, values in (("step began", began), ("recorded", durable)):
                    print(
                        f"| {kind} | {clock} | {pct(values, 0.5):,.1f} | {pct(values, 0.9):,.1f} "
                        f"| {pct(values, 0.99):,.1f} | {max(values):,.1f} |",
                        flush=True,
                    )


if __name__ == "__main__":
    asyncio.run(main())
