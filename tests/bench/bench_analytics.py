"""Analytics: sink throughput against a raw insert, and each question over 1M and 10M steps.

Prints two tables; never asserts anything about time.

1. Sink throughput: --events events (a synthetic workload: runs with steps, LLM and tool
   calls, failures) in an embedded SQLite log; ``AnalyticsSink.sync()`` into an empty chDB
   store, end to end (read the log, decode, build rows, insert every table, plan and commit
   positions), against a raw clickhouse-connect insert of the same rows (built beforehand,
   column-oriented, one insert per table) into another empty store, in the same run. The
   issue's goal: sink >= 0.5 x raw.
2. Questions: steps rows generated in chDB itself (``INSERT … SELECT … FROM numbers(N)``), with
   N/3 LLM calls, N/4 tool calls and N/8 executions, for N in --steps (1M and 10M by
   default); each named question's SQL timed in a warm session (median of --repeat), and
   the cost of opening a session (the engine start an ``omium analytics`` command pays on
   chDB) on its own. The issue's goal: every question over 10M steps <= 1 s.

Usage: python tests/bench/bench_analytics.py [--events 200000] [--steps 1000000,10000000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analytics"))

from analytics_workload import workload  # noqa: E402

from omium.processors.analytics import AnalyticsSink, migrate, open_place  # noqa: E402
from omium.producers import open_log  # noqa: E402
from omium.producers.pricing import cost_usd  # noqa: E402
from omium.projections.analytics import analytics_rows  # noqa: E402
from omium.schemas.topics import EVENTS  # noqa: E402
from omium.services import analytics_sql as sql  # noqa: E402
from omium.services.analytics import Scope  # noqa: E402


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def sink_throughput(events: int, folder: Path) -> list[tuple[str, float, float]]:
    runs = max(1, events // 14)
    recorded = workload(runs, seed=1)[:events]
    log = open_log(f"sqlite:///{folder / 'log.db'}")
    await log.append_batch(recorded)
    n = len(recorded)
    say(f"sink: {n} events in the log")

    place = open_place(url=f"chdb://{folder / 'sink'}")
    sink = AnalyticsSink(log, place)
    start = time.perf_counter()
    assert await sink.sync() == n
    sink_s = time.perf_counter() - start
    place.close()

    records = []
    for partition, end in (await log.end_offsets(EVENTS.name)).items():
        records += await log.read(EVENTS.name, partition, 0, end)
    pairs = [(r.event(), (r.position.topic, r.position.partition, r.position.offset))
             for r in records]  # fmt: skip
    rows = analytics_rows(pairs, {}, cost_usd).tables()
    raw = open_place(url=f"chdb://{folder / 'raw'}")
    async with raw.session() as store:
        migrate(store)
        start = time.perf_counter()
        for table, columns in rows.items():
            store.insert(table, columns, token=f"raw:{table}")
        raw_s = time.perf_counter() - start
    await log.close()
    return [("raw clickhouse-connect insert (rows prebuilt)", n / raw_s, raw_s),
            ("omium sink, log to tables, with positions", n / sink_s, sink_s)]  # fmt: skip


T0 = "toDateTime64('2026-11-01 00:00:00', 3, 'UTC')"
WF = "['research','support','billing'][number % 3 + 1]"
GENERATE = {
    "steps": f"""INSERT INTO steps SELECT 'default', {WF}, 'v1',
        concat('ex-', toString(intDiv(number, 8))), 1, concat('step-', toString(number % 40)),
        concat('agent-', toString(number % 12)), 'python',
        if(number % 23 = 0, 'failed', 'completed'), if(number % 23 = 0, 'ValueError', ''),
        {T0} + toIntervalMillisecond(number * 250),
        {T0} + toIntervalMillisecond(number * 250 + 90),
        (number * 7919) % 10000 / 3.0, generateUUIDv4(), 0, number,
        1, if(number % 23 = 0, 1, 0) FROM numbers({{n}})""",
    "llm_calls": f"""INSERT INTO llm_calls SELECT 'default', {WF},
        concat('ex-', toString(intDiv(number * 3, 8))), 1,
        ['gpt-4o','gpt-4o-mini','claude-3-5-haiku','o3-mini'][number % 4 + 1], 'openai',
        concat('agent-', toString(number % 12)), concat('step-', toString(number % 40)),
        number % 5000, number % 800, (number % 5000) * 2.5e-6, (number * 31) % 3000, '',
        {T0} + toIntervalMillisecond(number * 750),
        generateUUIDv4(), 0, number FROM numbers(intDiv({{n}}, 3))""",
    "tool_calls": f"""INSERT INTO tool_calls SELECT 'default', {WF},
        concat('ex-', toString(intDiv(number * 4, 8))), 1,
        ['web_search','read_file','send_mail'][number % 3 + 1],
        concat('agent-', toString(number % 12)), concat('step-', toString(number % 40)),
        (number * 13) % 900, if(number % 17 = 0, 'OSError', ''),
        {T0} + toIntervalMillisecond(number * 1000),
        generateUUIDv4(), 0, number FROM numbers(intDiv({{n}}, 4))""",
    "executions": f"""INSERT INTO executions SELECT 'default', concat('ex-', toString(number)),
        {WF}, 'v1', 'python', if(number % 11 = 0, 'failed', 'completed'), 1,
        {T0} + toIntervalMillisecond(number * 2000),
        {T0} + toIntervalMillisecond(number * 2000 + 5),
        {T0} + toIntervalMillisecond(number * 2000 + 5 + (number * 7919) % 60000),
        8, if(number % 11 = 0, 1, 0), 3, 9000, 2000, 0.01,
        if(number % 11 = 0, 'ValueError', ''), '', map(), number, map()
        FROM numbers(intDiv({{n}}, 8))""",
}


def questions() -> dict[str, str]:
    return {
        "latency --by agent": sql.LATENCY.replace("{key}", "agent"),
        "latency --by step": sql.LATENCY.replace("{key}", "step"),
        "cost --by model": sql.COST.replace("{key}", "model"),
        "cost --by day": sql.COST.replace("{key}", "toDate(ts)"),
        "failures --by workflow": sql.FAILURES["workflow"],
        "failures --by step": sql.FAILURES["step"],
        # the same question as it was asked before 0007 (distinct ids counted when asked),
        # for the before/after ratio in one run
        "  before: distinct ids": sql.FAILURES["step"]
        .replace("sum(first_run)", "uniqExact(execution_id)")
        .replace("sum(first_failure)", "uniqExactIf(execution_id, status = 'failed')"),
        "slowest --limit 10": sql.SLOWEST,
        "tools": sql.TOOLS,
    }


async def question_latency(n: int, folder: Path, repeat: int) -> tuple[dict[str, float], float]:
    place = open_place(url=f"chdb://{folder / f'q{n}'}")
    async with place.session() as store:
        migrate(store)
        for table, text in GENERATE.items():
            start = time.perf_counter()
            store.command(text.replace("{n}", str(n)))
            say(f"{n:,} steps: {table} generated in {time.perf_counter() - start:.1f} s")
        store.command("OPTIMIZE TABLE executions FINAL")
    opens = []
    for _ in range(3):
        start = time.perf_counter()
        async with place.session() as store:
            opens.append(time.perf_counter() - start)
    out = {}
    params = {**Scope("default").params(), "limit": 10}
    async with place.session() as store:
        for name, text in questions().items():
            store.query(text, params)  # warm
            times = []
            for _ in range(repeat):
                start = time.perf_counter()
                store.query(text, params)
                times.append(time.perf_counter() - start)
            out[name] = statistics.median(times)
        store.command("DROP TABLE IF EXISTS steps SYNC")  # free the disk before the next size
    return out, statistics.median(opens)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--steps", default="1000000,10000000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="omium-bench-analytics-") as tmp:
        folder = Path(tmp)
        rows = await sink_throughput(args.events, folder)
        raw_rate = rows[0][1]
        print("\n1. Sink throughput (events/s; ratio to the raw insert; goal >= 0.5)\n")
        print(f"{'path':<48} {'events/s':>10} {'seconds':>8} {'ratio':>6}")
        for name, rate, secs in rows:
            print(f"{name:<48} {rate:>10,.0f} {secs:>8.2f} {rate / raw_rate:>6.2f}")
        sizes = [int(s) for s in args.steps.split(",")]
        results = {n: await question_latency(n, folder, args.repeat) for n in sizes}
        print("\n2. Question latency in chDB (ms, median of warm runs; goal <= 1000 at 10M)\n")
        header = "".join(f"{f'{n:,} steps':>18}" for n in sizes)
        print(f"{'question':<26}{header}{'ratio':>8}")
        for name in questions():
            cells = "".join(f"{results[n][0][name] * 1000:>18.0f}" for n in sizes)
            ratio = results[sizes[-1]][0][name] / results[sizes[0]][0][name]
            print(f"{name:<26}{cells}{ratio:>8.1f}")
        opens = "".join(f"{results[n][1] * 1000:>18.0f}" for n in sizes)
        print(f"{'(opening a session)':<26}{opens}")


if __name__ == "__main__":
    asyncio.run(main())
