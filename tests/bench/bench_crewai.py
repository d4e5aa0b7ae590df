"""What omium adds to a CrewAI kickoff: the research crew of examples/, scripted LLMs.

Rows, each a fresh crew from ``crew_factory`` kicking off the same inputs:

- ``kickoff, no omium listener``: crewai alone (measured before omium's listener exists);
- ``kickoff, listener idle``: crewai alone, with omium's listener registered on the bus (it
  sees the events but no run claims them);
- ``CrewRun``: omium's run task by task — listener, hooks, slim payloads, the crew thread
  handing each task to the event loop — recording into a list;
- ``CrewRun → SQLite log``: the same, every payload appended to the embedded log.

The last three run interleaved, one of each per round, so a busy machine slows them alike.
Prints medians in ms and the ratio to the plain kickoff; asserts nothing about time.

    .venv/bin/python tests/bench/bench_crewai.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from omium.adapters.crewai import CrewRun, crew_factory, ensure_listener
from omium.producers import Recorder, open_log
from omium.services.workflows import parse_spec

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "research_crew.yaml"


def factory() -> Callable[[], Any]:
    spec = parse_spec(EXAMPLE.read_text(), EXAMPLE.name)
    return crew_factory(spec, EXAMPLE.parent, EXAMPLE.name)


async def kickoff(build: Callable[[], Any], inputs: dict[str, Any]) -> float:
    began = time.perf_counter()
    await asyncio.to_thread(lambda: build().kickoff(inputs=inputs))
    return (time.perf_counter() - began) * 1000


async def crew_run(
    build: Callable[[], Any], inputs: dict[str, Any], recorder: Recorder | None
) -> float:
    kept: list[tuple[str, dict[str, Any]]] = []

    async def record(event_type: str, payload: dict[str, Any]) -> None:
        if recorder is None:
            kept.append((event_type, payload))
        else:
            await recorder.emit(event_type, **payload)

    began = time.perf_counter()
    async for _ in CrewRun(build, inputs, record=record).tasks():
        pass
    return (time.perf_counter() - began) * 1000


async def main(rounds: int) -> None:
    build = factory()
    inputs = dict(parse_spec(EXAMPLE.read_text(), EXAMPLE.name).inputs)
    await kickoff(build, inputs)  # warm-up: imports, first-call caches
    alone = [await kickoff(build, inputs) for _ in range(rounds)]
    ensure_listener()
    folder = Path(tempfile.mkdtemp(prefix="bench-crew-"))
    log = open_log(f"sqlite:///{folder / 'log.db'}")
    await log.create_topics()
    runs = 0

    async def logged() -> float:
        nonlocal runs
        runs += 1
        return await crew_run(build, inputs, Recorder(log, f"bench-{runs}"))

    rows: dict[str, Callable[[], Awaitable[float]]] = {
        "kickoff, listener idle": lambda: kickoff(build, inputs),
        "CrewRun": lambda: crew_run(build, inputs, None),
        "CrewRun → SQLite log": logged,
    }
    times: dict[str, list[float]] = {name: [] for name in rows}
    for run in rows.values():
        await run()  # warm-up
    for _ in range(rounds):
        for name, run in rows.items():
            times[name].append(await run())
    await log.close()
    base = statistics.median(alone)
    print(f"\nresearch crew (3 agents, 8 LLM calls, 5 tool calls), {rounds} rounds, ms")
    print(f"{'run':28} {'median':>8} {'min':>8} {'× plain':>8}")
    print(f"{'kickoff, no omium listener':28} {base:8.1f} {min(alone):8.1f} {1.0:8.2f}")
    idle = statistics.median(times["kickoff, listener idle"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:28} {median:8.1f} {min(values):8.1f} {median / base:8.2f}")
    crew = statistics.median(times["CrewRun"])
    print(f"\nCrewRun vs the interleaved plain kickoff: {crew / idle:.2f}×")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    asyncio.run(main(parser.parse_args().rounds))
