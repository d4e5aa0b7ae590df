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

"before" rows are measured in the same run: the sink that validated every record into an
event (``ValidatingSink``), and the questions' earlier SQL over the same rows.

Usage: python tests/bench/bench_analytics.py [--events 200000] [--steps 1000000,10000000]
    [--repeat 5] [--sink-repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analytics"))

from analytics_workload import workload  # noqa: E402

from omium.processors.analytics import (  # noqa: E402
    AnalyticsSink,
    AnalyticsStore,
    migrate,
    open_place,
)
from omium.processors.analytics.rows import execution_changes  # noqa: E402
from omium.processors.analytics.sink import load_executions  # noqa: E402
from omium.producers import EventLog, Record, open_log  # noqa: E402
from omium.producers.pricing import cost_usd  # noqa: E402
from omium.projections.analytics import AnalyticsRows, ExecutionRow, analytics_rows  # noqa: E402
from omium.schemas.topics import EVENTS  # noqa: E402
from omium.services import analytics_sql as sql  # noqa: E402
from omium.services.analytics import Scope  # noqa: E402


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class ValidatingSink(AnalyticsSink):
    """The sink as it was before rows were built from the JSON: a validated event per record."""

    def build_rows(
        self, store: AnalyticsStore, records: list[Record]
    ) -> tuple[AnalyticsRows, dict[str, ExecutionRow]]:
        pairs = []
        for r in records:
            try:
                event = r.event()
            except Exception:  # noqa: BLE001, S112 - left out, as that sink did
                continue
            pairs.append((event, (r.position.topic, r.position.partition, r.position.offset)))
        ids = sorted({event.execution_id for event, _ in pairs})
        prior = load_executions(store, ids)
        return analytics_rows(pairs, prior, self.price), prior


async def _timed_sink(kind: type[AnalyticsSink], log: EventLog, folder: Path, n: int) -> float:
    """Seconds ``kind`` takes to write the log into a fresh, migrated store (session open)."""
    place = open_place(url=f"chdb://{folder}")
    sink = kind(log, place)
    async with place.session() as store:
        migrate(store)
        start = time.perf_counter()
        assert await sink.catch_up(store) == n
        seconds = time.perf_counter() - start
    place.close()
    return seconds


async def sink_throughput(
    events: int, folder: Path, repeat: int
) -> tuple[int, list[tuple[str, float]]]:
    """Median seconds of the raw insert, the sink before, and the sink (see the module docs)."""
    runs = max(1, events // 14)
    recorded = workload(runs, seed=1)[:events]
    log = open_log(f"sqlite:///{folder / 'log.db'}")
    await log.append_batch(recorded)
    n = len(recorded)
    say(f"sink: {n} events in the log")

    records = []
    for partition, end in (await log.end_offsets(EVENTS.name)).items():
        records += await log.read(EVENTS.name, partition, 0, end)
    pairs = [(r.event(), (r.position.topic, r.position.partition, r.position.offset))
             for r in records]  # fmt: skip
    built = analytics_rows(pairs, {}, cost_usd)
    rows = built.tables()  # with the changes the sink writes beside executions (0009)
    rows = {**rows, "execution_changes": execution_changes({}, built.executions)}
    times: dict[str, list[float]] = {"raw": [], "before": [], "after": []}
    for i in range(repeat):  # interleaved, so a change in the machine's load hits all three
        raw = open_place(url=f"chdb://{folder / f'raw{i}'}")
        async with raw.session() as store:
            migrate(store)
            start = time.perf_counter()
            for table, columns in rows.items():
                store.insert(table, columns, token=f"raw:{table}")
            times["raw"].append(time.perf_counter() - start)
        raw.close()
        times["before"].append(await _timed_sink(ValidatingSink, log, folder / f"b{i}", n))
        times["after"].append(await _timed_sink(AnalyticsSink, log, folder / f"a{i}", n))
        say(f"sink run {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()))
    await log.close()
    return n, [
        ("raw clickhouse-connect insert (rows prebuilt)", statistics.median(times["raw"])),
        ("sink before (a validated event per record)", statistics.median(times["before"])),
        ("omium sink, log to tables, with positions", statistics.median(times["after"])),
    ]


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
    # what the sink writes beside each execution's row (0009): +1 on its one state here
    "execution_changes": """INSERT INTO execution_changes SELECT tenant_id,
        assumeNotNull(coalesce(started_at, submitted_at, ended_at)), workflow, status,
        error_type, 1 FROM executions""",
}


def questions() -> dict[str, str]:
    return {
        "latency --by agent": sql.LATENCY_ROLLUP.replace("{key}", "agent"),
        "  before: exact quantiles": sql.LATENCY.replace("{key}", "agent"),
        "latency --by step": sql.LATENCY_ROLLUP.replace("{key}", "step"),
        "  before: exact quantiles ": sql.LATENCY.replace("{key}", "step"),
        "cost --by model": sql.COST_ROLLUP.replace("{key}", "model"),
        "  before: llm_calls": sql.COST.replace("{key}", "model"),
        "cost --by day": sql.COST_ROLLUP.replace("{key}", "d"),
        "  before: llm_calls ": sql.COST.replace("{key}", "toDate(ts)"),
        "failures --by workflow": sql.FAILURES_ROLLUP["workflow"],
        "  before: executions FINAL": sql.FAILURES["workflow"],
        "failures --by step": sql.FAILURES_ROLLUP["step"],
        "  before: steps": sql.FAILURES["step"],
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
    params = {**Scope("default").params(), **Scope("default").days(), "limit": 10}
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
    parser.add_argument("--sink-repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="omium-bench-analytics-") as tmp:
        folder = Path(tmp)
        say(f"load average before: {os.getloadavg()}")
        n, rows = await sink_throughput(args.events, folder, args.sink_repeat)
        raw_s = rows[0][1]
        print(f"\n1. Sink throughput, {n:,} events (median of {args.sink_repeat};")
        print("   events/s; ratio to the raw insert of the same run; goal >= 0.5)\n")
        print(f"{'path':<48} {'events/s':>10} {'seconds':>8} {'ratio':>6}")
        for name, secs in rows:
            rate = n / secs
            print(f"{name:<48} {rate:>10,.0f} {secs:>8.2f} {raw_s / secs:>6.2f}")
        print(f"(load average after the sink runs: {os.getloadavg()})")
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
