"""Per-superstep overhead of LangGraph checkpointers: one trivial node looped N times.

Prints, per configuration, µs per step of wall time and of process CPU time (every thread),
and what each adds over no checkpointer (median of the rounds; ``+min``: fastest run vs
fastest run). Configurations run interleaved, one of each per round, so a busy machine
slows them alike. Covered:
no checkpointer, InMemorySaver, SqliteSaver (``invoke``) and AsyncSqliteSaver (``ainvoke``),
both on a file in WAL mode with their default ``synchronous`` (shown), and OmiumSaver on the
embedded SQLite log (file, WAL; ``synchronous=NORMAL``, and with ``synchronous`` also
``FULL`` as bench_peers.py asks), each with durability "async" and "sync", through sync
``invoke`` (OmiumSaver.from_url: the log on the saver's own loop thread) and ``ainvoke``
(OmiumSaver(log) in the running loop). ``× Sqlite``: what a row adds over none, divided by
what (Async)SqliteSaver adds through the same call with the same durability. Asserts
nothing about time.

    .venv/bin/python tests/bench/bench_langgraph.py [--steps 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypedDict

import aiosqlite
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, StateGraph

from omium.adapters.langgraph import OmiumSaver
from omium.producers import open_log


class Count(TypedDict):
    n: int


def graph(saver: Any, steps: int) -> Any:
    builder = StateGraph(Count)
    builder.add_node("step", lambda state: {"n": state["n"] + 1})
    builder.set_entry_point("step")
    builder.add_conditional_edges("step", lambda state: "step" if state["n"] < steps else END)
    return builder.compile(checkpointer=saver)


def cfg(steps: int) -> dict[str, Any]:
    return {"configurable": {"thread_id": uuid.uuid4().hex}, "recursion_limit": steps + 10}


Timing = tuple[float, float]  # µs per step: wall, cpu


def run_sync(saver: Any, steps: int, durability: str | None) -> Timing:
    g = graph(saver, steps)
    extra = {"durability": durability} if durability else {}
    wall, cpu = time.perf_counter(), time.process_time()
    assert g.invoke({"n": 0}, cfg(steps), **extra)["n"] == steps
    return (time.perf_counter() - wall) / steps * 1e6, (time.process_time() - cpu) / steps * 1e6


async def run_async(saver: Any, steps: int, durability: str | None) -> Timing:
    g = graph(saver, steps)
    extra = {"durability": durability} if durability else {}
    wall, cpu = time.perf_counter(), time.process_time()
    assert (await g.ainvoke({"n": 0}, cfg(steps), **extra))["n"] == steps
    return (time.perf_counter() - wall) / steps * 1e6, (time.process_time() - cpu) / steps * 1e6


SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}  # PRAGMA synchronous's answers


async def main(
    steps: int,
    rounds: int,
    kafka: str | None = None,
    synchronous: tuple[str, ...] = ("NORMAL",),
) -> dict[tuple[str, str], float]:
    """``kafka``: host:port of a broker, to add OmiumSaver rows on Kafka (fresh topics).

    ``synchronous``: the SQLite log's settings to give OmiumSaver rows for. Returns each
    row's ``× Sqlite`` ratio, by (row, durability).
    """
    folder = Path(tempfile.mkdtemp(prefix="bench-lg-"))
    memory = InMemorySaver()
    lite = SqliteSaver(sqlite3.connect(folder / "lg.db", check_same_thread=False))
    alite = AsyncSqliteSaver(await aiosqlite.connect(folder / "alg.db"))
    # Neither saver sets it: SQLite's default on their connections.
    lite_sync = SYNCHRONOUS[lite.conn.execute("PRAGMA synchronous").fetchone()[0]]
    async with alite.conn.execute("PRAGMA synchronous") as cursor:
        alite_sync = SYNCHRONOUS[(await cursor.fetchone())[0]]
    closing: list[Any] = []

    def sync(saver: Any, durability: str | None) -> Callable[[], Awaitable[Timing]]:
        return lambda: asyncio.to_thread(run_sync, saver, steps, durability)

    def aio(saver: Any, durability: str | None) -> Callable[[], Awaitable[Timing]]:
        return lambda: run_async(saver, steps, durability)

    configs: dict[tuple[str, str], Callable[[], Awaitable[Timing]]] = {
        ("none (invoke)", "-"): sync(None, None),
        ("none (ainvoke)", "-"): aio(None, None),
    }
    omium: dict[str, tuple[Any, Any]] = {}
    for level in synchronous:
        query = f"?synchronous={level}"
        log = open_log(f"sqlite:///{folder / f'omium-loop-{level}.db'}{query}")
        threaded = OmiumSaver.from_url(f"sqlite:///{folder / f'omium-thread-{level}.db'}{query}")
        in_loop = OmiumSaver(log)
        omium[level] = threaded, in_loop
        closing += [in_loop, log, threaded]
    for durability in ("async", "sync"):
        configs[("InMemorySaver (invoke)", durability)] = sync(memory, durability)
        configs[(f"SqliteSaver file WAL {lite_sync} (invoke)", durability)] = sync(lite, durability)
        for level, (threaded, _) in omium.items():
            configs[(f"OmiumSaver.from_url sqlite {level} (invoke)", durability)] = sync(
                threaded, durability
            )
        configs[("InMemorySaver (ainvoke)", durability)] = aio(memory, durability)
        configs[(f"AsyncSqliteSaver file WAL {alite_sync} (ainvoke)", durability)] = aio(
            alite, durability
        )
        for level, (_, in_loop) in omium.items():
            configs[(f"OmiumSaver(log) sqlite {level} (ainvoke)", durability)] = aio(
                in_loop, durability
            )
    if kafka is not None:
        url = f"kafka://{kafka}?topic_prefix=bench-lg-{uuid.uuid4().hex[:8]}."
        kafka_log = open_log(url)
        await kafka_log.create_topics()
        on_kafka = OmiumSaver(kafka_log)
        kafka_thread = OmiumSaver.from_url(url)
        closing += [on_kafka, kafka_log, kafka_thread]
        for durability in ("async", "sync"):
            configs[("OmiumSaver.from_url kafka (invoke)", durability)] = sync(
                kafka_thread, durability
            )
            configs[("OmiumSaver(log) kafka (ainvoke)", durability)] = aio(on_kafka, durability)
    results: dict[tuple[str, str], list[Timing]] = {key: [] for key in configs}
    for run in configs.values():  # warm-up
        await run()
    for _ in range(rounds):
        for key, run in configs.items():
            results[key].append(await run())
    await alite.conn.close()
    for item in closing:
        await (item.aclose() if hasattr(item, "aclose") else item.close())

    def stat(key: tuple[str, str], pick: Callable[[list[float]], float]) -> Timing:
        return pick([t[0] for t in results[key]]), pick([t[1] for t in results[key]])

    print(f"\n{steps} steps, {rounds} interleaved rounds, µs per step: median (and min)")
    head = f"{'checkpointer':42} {'durab.':>6} {'wall':>8} {'+wall':>7} {'+min':>7}"
    print(f"{head} {'cpu':>8} {'+cpu':>7} {'× Sqlite':>8}")

    def added(key: tuple[str, str]) -> float:
        none = ("none (ainvoke)" if "ainvoke" in key[0] else "none (invoke)", "-")
        return stat(key, statistics.median)[0] - stat(none, statistics.median)[0]

    ratios: dict[tuple[str, str], float] = {}
    for name, durability in results:
        none = ("none (ainvoke)" if "ainvoke" in name else "none (invoke)", "-")
        base, low = stat(none, statistics.median), stat(none, min)
        wall, cpu = stat((name, durability), statistics.median)
        fastest = stat((name, durability), min)
        peer = next(
            (
                k
                for k in results
                if k[1] == durability
                and "SqliteSaver" in k[0]
                and ("ainvoke" in k[0]) == ("ainvoke" in name)
            ),
            None,
        )
        ratio = f"{'':8}"
        if peer is not None:
            ratios[(name, durability)] = added((name, durability)) / added(peer)
            ratio = f"{ratios[(name, durability)]:8.2f}"
        print(
            f"{name:42} {durability:>6} {wall:8.1f} {wall - base[0]:7.1f} "
            f"{fastest[0] - low[0]:7.1f} {cpu:8.1f} {cpu - base[1]:7.1f} {ratio}"
        )
    return ratios


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--kafka", default=None, help="host:port: also OmiumSaver on Kafka")
    args = parser.parse_args()
    asyncio.run(main(args.steps, args.rounds, args.kafka))
