"""omium against the systems users would pick instead, each row's durability named.

(a) Per-step overhead: one run of N trivial steps (async, and sync), µs per step over the
    same N calls made plainly in a loop (the "bare" row: the step functions alone).
(b) Runs/s: R runs of 3 trivial async steps, one after another, from one caller.
(c) What each run cost the disk: write transactions committed, and fsync/fdatasync calls
    (counted with strace when it is installed), for one N-step run and one 3-step run
    (:mod:`bench_disk`, in a child process per system).
(d) LangGraph per-superstep overhead: OmiumSaver on the SQLite log (synchronous NORMAL and
    FULL) against InMemorySaver, SqliteSaver and AsyncSqliteSaver (:mod:`bench_langgraph`),
    and (e) what a superstep costs the disk through ``invoke``, as in (c).

The peer for (a)-(c) is DBOS (``pip install 'omium[bench]'``) on its SQLite system
database, with its defaults: a ``@DBOS.workflow()`` calling ``@DBOS.step()`` functions in
process, each step's output committed before the next step starts. omium's side is the
same shape: its executor's ``ExecutionRunner`` running a workflow spec of Python steps in
this process on the embedded SQLite log (step.started, step.completed and a checkpoint per
step), as ``bench_executor.py`` does. Not a ``Worker``: DBOS's workflow here is a function
call with no queue in front of it, so the runner alone is the like-for-like part (a
worker adds the command log and polling, which DBOS would add with a ``Queue``). Not the
``omium.step`` SDK either: it records each event with its own write and has no
durability mode, so it compares with neither of omium's promises.

omium's durability modes (the workflow spec's ``durability:``):
- ``batched``: a step's events wait up to 20 ms to share one write with what follows;
- ``step``: a step's step.completed and checkpoint are written before the next step;
each on the SQLite log's ``synchronous=NORMAL`` (WAL: survives a process crash; the
default) and ``synchronous=FULL`` (WAL, fsync per commit: survives power loss).

Configurations run interleaved, one of each per round (the order rotating), so a busy
machine slows them alike; medians of the rounds, ratios against DBOS measured in the same
run. Wall and process CPU (every thread). Prints tables; asserts nothing about time.

    make bench-peers      # or:
    .venv/bin/python tests/bench/bench_peers.py [--steps 1000] [--runs 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import bench_disk
import bench_langgraph
from langgraph.checkpoint.sqlite import SqliteSaver

from omium.adapters.langgraph import OmiumSaver
from omium.processors.control import Control
from omium.processors.execution import ExecutionRunner
from omium.producers import open_log
from omium.schemas import Run, from_dict
from omium.schemas.workflow import WorkflowSpec

try:
    from dbos import DBOS
except ImportError:  # the peers are benchmark-only dependencies
    DBOS = None

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "bench.yaml"  # need not exist: bench_steps resolves from this folder
STEP_MODE = "durability" in WorkflowSpec.model_fields
Timing = tuple[float, float]  # seconds: wall, cpu


async def tick(n: int) -> int:
    return n + 1


def tick_sync(n: int) -> int:
    return n + 1


if DBOS is not None:
    # Registered at import: DBOS wants every workflow and step declared before launch().
    dbos_tick = DBOS.step(name="tick")(tick)
    dbos_tick_sync = DBOS.step(name="tick_sync")(tick_sync)

    @DBOS.workflow()
    async def dbos_flow(steps: int) -> int:
        n = 0
        for _ in range(steps):
            n = await dbos_tick(n)
        return n

    @DBOS.workflow()
    def dbos_flow_sync(steps: int) -> int:
        n = 0
        for _ in range(steps):
            n = dbos_tick_sync(n)
        return n


def timed(started: Timing) -> Timing:
    return time.perf_counter() - started[0], time.process_time() - started[1]


def clock() -> Timing:
    return time.perf_counter(), time.process_time()


class Target:
    """One system under test: ``run(kind, steps)`` runs one workflow of ``steps`` steps."""

    name: str
    durability: str

    async def run(self, kind: str, steps: int) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        return None


class Bare(Target):
    name, durability = "bare loop (the calls alone)", "none"

    async def run(self, kind: str, steps: int) -> None:
        n = 0
        if kind == "async":
            for _ in range(steps):
                n = await tick(n)
        else:
            for _ in range(steps):
                n = tick_sync(n)
        assert n == steps


class Omium(Target):
    def __init__(self, folder: Path, mode: str, synchronous: str) -> None:
        self.mode, self.synchronous = mode, synchronous
        self.name = f"omium {mode}, {synchronous}"
        window = "≤ 20 ms group commit" if mode == "batched" else "each step before the next"
        self.durability = f"{mode} ({window}); SQLite WAL, synchronous={synchronous}"
        self.url = (
            f"sqlite:///{folder / f'omium-{mode}-{synchronous}.db'}?synchronous={synchronous}"
        )
        self.log = open_log(self.url)
        self.specs: dict[tuple[str, int], dict[str, Any]] = {}

    def spec(self, kind: str, steps: int) -> dict[str, Any]:
        found = self.specs.get((kind, steps))
        if found is None:
            call = "bench_steps:tick" if kind == "async" else "bench_steps:tick_sync"
            raw: dict[str, Any] = {
                "name": "bench",
                "steps": [{"name": f"s{i}", "call": call} for i in range(steps)],
            }
            if STEP_MODE:
                raw["durability"] = self.mode
            found = self.specs[(kind, steps)] = WorkflowSpec.model_validate(raw).model_dump(
                mode="json"
            )
        return found

    async def run(self, kind: str, steps: int) -> None:
        command = from_dict(
            {
                "type": "run",
                "execution_id": f"bench-{uuid.uuid4().hex[:12]}",
                "payload": {
                    "workflow": "bench",
                    "spec": self.spec(kind, steps),
                    "source": str(SOURCE),
                },
            }
        )
        assert isinstance(command, Run)
        status = await ExecutionRunner(self.log, command, Control()).run()
        assert status == "completed", status

    async def close(self) -> None:
        await self.log.close()


class Dbos(Target):
    name = "DBOS"

    def __init__(self, folder: Path) -> None:
        assert DBOS is not None
        path = folder / "dbos.sqlite"
        config = {
            "name": "bench-peers",
            "system_database_url": f"sqlite:///{path}",
            "run_admin_server": False,
            "log_level": "WARNING",
        }
        DBOS(config=config)  # type: ignore[arg-type]
        DBOS.launch()
        # DBOS sets neither pragma, so a fresh connection shows what its connections use.
        with sqlite3.connect(path) as probe:
            journal = probe.execute("PRAGMA journal_mode").fetchone()[0]
            sync = bench_langgraph.SYNCHRONOUS[probe.execute("PRAGMA synchronous").fetchone()[0]]
        self.durability = (
            f"default (each step before the next); SQLite journal={journal}, synchronous={sync}"
        )

    async def run(self, kind: str, steps: int) -> None:
        if kind == "async":
            assert await dbos_flow(steps) == steps
        else:  # a sync workflow runs its steps inline, in the thread that calls it
            assert await asyncio.to_thread(dbos_flow_sync, steps) == steps

    async def close(self) -> None:
        assert DBOS is not None
        DBOS.destroy()


def targets(folder: Path, only: str | None = None) -> list[Target]:
    """Every system, or the one named ``only``."""
    made: list[Target] = [] if only else [Bare()]
    for mode in ("batched", "step") if STEP_MODE else ("batched",):
        for synchronous in ("NORMAL", "FULL"):
            if only in (None, f"omium {mode}, {synchronous}"):
                made.append(Omium(folder, mode, synchronous))
    if DBOS is not None and only in (None, Dbos.name):
        made.append(Dbos(folder))  # one per process: DBOS is a singleton
    return made


async def interleaved(
    pool: list[Target], rounds: int, job: Callable[[Target], Awaitable[Timing]]
) -> dict[str, list[Timing]]:
    results: dict[str, list[Timing]] = {t.name: [] for t in pool}
    for target in pool:  # warm-up: imports, connections, caches
        await job(target)
    for r in range(rounds):
        for target in pool[r % len(pool) :] + pool[: r % len(pool)]:
            results[target.name].append(await job(target))
    return results


def medians(timings: list[Timing]) -> Timing:
    return statistics.median(t[0] for t in timings), statistics.median(t[1] for t in timings)


Ratios = dict[str, float]  # "<system> <what>": × DBOS


async def overhead(pool: list[Target], steps: int, rounds: int, ratios: Ratios) -> None:
    print(f"\n(a) per-step overhead, one run of {steps:,} trivial steps, median of {rounds}\n")
    print("| system | durability | steps | µs/step | overhead µs/step | CPU µs/step | × DBOS |")
    print("|---|---|---|---:|---:|---:|---:|")
    for kind in ("async", "sync"):

        async def job(target: Target, kind: str = kind) -> Timing:
            started = clock()
            await target.run(kind, steps)
            return timed(started)

        results = await interleaved(pool, rounds, job)
        bare = medians(results[Bare.name])[0] / steps * 1e6
        added = {n: medians(r)[0] / steps * 1e6 - bare for n, r in results.items()}
        peer = added.get(Dbos.name)
        for target in pool:
            wall, cpu = (x / steps * 1e6 for x in medians(results[target.name]))
            ratio = ""
            if peer and target.name != Bare.name:
                ratios[f"{target.name} {kind}"] = added[target.name] / peer
                ratio = f"{added[target.name] / peer:.2f}"
            print(
                f"| {target.name} | {target.durability} | {kind} | {wall:,.1f} | "
                f"{added[target.name]:,.1f} | {cpu:,.1f} | {ratio} |",
                flush=True,
            )


async def throughput(pool: list[Target], runs: int, rounds: int, ratios: Ratios) -> None:
    print(f"\n(b) {runs} runs of 3 trivial async steps, one after another, median of {rounds}\n")
    print("| system | durability | runs/s | ms/run | CPU ms/run | × DBOS runs/s |")
    print("|---|---|---:|---:|---:|---:|")

    async def job(target: Target) -> Timing:
        started = clock()
        for _ in range(runs):
            await target.run("async", 3)
        return timed(started)

    engines = [t for t in pool if not isinstance(t, Bare)]
    results = await interleaved(engines, rounds, job)
    rates = {n: runs / medians(r)[0] for n, r in results.items()}
    peer = rates.get(Dbos.name)
    for target in engines:
        wall, cpu = medians(results[target.name])
        ratio = ""
        if peer:
            ratios[f"{target.name} runs/s"] = rates[target.name] / peer
            ratio = f"{rates[target.name] / peer:.2f}"
        print(
            f"| {target.name} | {target.durability} | {rates[target.name]:,.1f} | "
            f"{wall / runs * 1e3:,.2f} | {cpu / runs * 1e3:,.2f} | {ratio} |",
            flush=True,
        )


# -- (c) commits and fsyncs, one target per child process (bench_disk) --------------------


async def probe(name: str, steps: int, runs: int) -> None:
    """In a child: one N-step run and ``runs`` 3-step runs of ``name``, between marks."""
    bench_disk.count_commits()
    folder = Path(tempfile.mkdtemp(prefix="bench-peers-probe-"))
    (target,) = targets(folder, only=name)
    await target.run("async", 20)
    counts = {}
    for label, work in (("long", (steps,)), ("short", (3,) * runs)):
        with bench_disk.between_marks(label) as made:
            for n in work:
                await target.run("async", n)
            await asyncio.sleep(0.5)  # background checkpoints the work caused
        counts[label] = made[0]
    await target.close()
    shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(counts))


def disk_table(pool: list[Target], steps: int, runs: int) -> None:
    missing = "" if bench_disk.have_strace() else " (install strace to count fsyncs)"
    print(f"\n(c) what a run costs the disk: commits and fsync/fdatasync calls{missing}\n")
    print(
        f"| system | durability | commits / {steps:,}-step run | fsyncs "
        "| commits / 3-step run | fsyncs |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for target in pool:
        if isinstance(target, Bare):
            continue
        child = [sys.executable, __file__, "--probe", target.name, "--steps", str(steps)]
        counts, synced = bench_disk.traced([*child, "--probe-runs", str(runs)], HERE)
        long_f, short_f = synced["long"], synced["short"]
        print(
            f"| {target.name} | {target.durability} | {counts['long']:,.0f} | "
            f"{'' if long_f is None else f'{long_f:,}'} | {counts['short'] / runs:,.1f} | "
            f"{'' if short_f is None else f'{short_f / runs:,.1f}'} |",
            flush=True,
        )


def lg_probe(name: str, durability: str, steps: int) -> None:
    """In a child: one LangGraph run of ``steps`` supersteps through ``invoke``."""
    bench_disk.count_commits()
    folder = Path(tempfile.mkdtemp(prefix="bench-peers-lg-"))
    if name == "SqliteSaver":
        saver: Any = SqliteSaver(sqlite3.connect(folder / "lg.db", check_same_thread=False))
    else:
        level = name.rsplit(" ", 1)[1]
        saver = OmiumSaver.from_url(f"sqlite:///{folder / 'omium.db'}?synchronous={level}")
    bench_langgraph.run_sync(saver, 10, durability)
    with bench_disk.between_marks("run") as made:
        bench_langgraph.run_sync(saver, steps, durability)
        time.sleep(0.5)
    shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps({"run": made[0]}))


def lg_disk_table(steps: int) -> None:
    print(f"\n(e) what one LangGraph run of {steps:,} supersteps (invoke) costs the disk\n")
    print("| checkpointer | durability | commits / superstep | fsyncs / superstep |")
    print("|---|---|---:|---:|")
    for durability in ("async", "sync"):
        for name in ("SqliteSaver", "OmiumSaver NORMAL", "OmiumSaver FULL"):
            child = [sys.executable, __file__, "--probe-lg", name, "--lg-durability", durability]
            counts, synced = bench_disk.traced([*child, "--lg-steps", str(steps)], HERE)
            fsync = synced["run"]
            print(
                f"| {name} | {durability} | {counts['run'] / steps:.2f} | "
                f"{'' if fsync is None else f'{fsync / steps:.2f}'} |",
                flush=True,
            )


def goals(ratios: Ratios, savers: dict[tuple[str, str], float]) -> None:
    """Issue 16's goals against this run's ratios: printed, never asserted."""
    print("\nGoals at equal durability (printed, not asserted):")

    def show(label: str, value: float | None, goal: str) -> None:
        got = "not measured" if value is None else f"{value:.2f}"
        print(f"- {label}: {got} (goal {goal})")

    for kind in ("async", "sync"):
        show(
            f"omium step, FULL per-step overhead ({kind} steps) × DBOS's",
            ratios.get(f"omium step, FULL {kind}"),
            "≤ 0.5",
        )
    show("omium step, FULL runs/s × DBOS's", ratios.get("omium step, FULL runs/s"), "≥ 2")
    for durability in ("async", "sync"):
        show(
            f"OmiumSaver FULL via invoke, durability {durability}: overhead × SqliteSaver's",
            savers.get(("OmiumSaver.from_url sqlite FULL (invoke)", durability)),
            "≤ 0.8",
        )


async def peers(args: argparse.Namespace, ratios: Ratios) -> list[Target]:
    """Tables (a) and (b); the systems measured, closed."""
    if DBOS is None:
        print("DBOS is not installed (pip install 'omium[bench]'): its rows are left out")
    if not STEP_MODE:
        print("this tree's WorkflowSpec has no `durability`: only the batched rows")
    folder = Path(tempfile.mkdtemp(prefix="bench-peers-"))
    pool = targets(folder)
    try:
        await overhead(pool, args.steps, args.rounds, ratios)
        await throughput(pool, args.runs, args.rounds, ratios)
    finally:
        for target in pool:
            await target.close()
        shutil.rmtree(folder, ignore_errors=True)
    return pool


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lg-steps", type=int, default=1000)
    parser.add_argument("--probe-runs", type=int, default=20, help="3-step runs counted in (c)")
    parser.add_argument("--probe", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--probe-lg", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--lg-durability", default="sync", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        asyncio.run(probe(args.probe, args.steps, args.probe_runs))
        sys.exit()
    if args.probe_lg:
        lg_probe(args.probe_lg, args.lg_durability, args.lg_steps)
        sys.exit()
    # Each part on its own loop: DBOS makes its thread pool the loop's default executor and
    # shuts it down in destroy(), after which that loop's to_thread() refuses work.
    ratios: Ratios = {}
    pool = asyncio.run(peers(args, ratios))
    disk_table(pool, args.steps, args.probe_runs)
    print(f"\n(d) LangGraph, one trivial node looped {args.lg_steps:,} times")
    savers = asyncio.run(
        bench_langgraph.main(args.lg_steps, args.rounds, synchronous=("NORMAL", "FULL"))
    )
    lg_disk_table(args.lg_steps)
    goals(ratios, savers)
