"""SIGKILL the alert processor at random points while agents loop: each alert still once.

The expected alerts are computed from the log by the test itself (an oracle independent of
the rules' code): a loop is a (tool, arguments) pair called LOOP times or more in an
execution's attempt; a failed run is an ``execution.failed`` event.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from omium.producers import EventLog, Recorder, open_log
from omium.schemas import AlertRaised, ExecutionFailed, ToolCall
from omium.schemas.topics import ALERTS, EVENTS

KILLS = 10
LOOP = 3
SEED = int(os.environ.get("OMIUM_TEST_SEED", "20261130"))
RULES = f"""
rules:
  - {{name: loop, kind: loop, count: {LOOP}, calls: tool}}
  - {{name: failed, kind: execution_failed}}
"""


def start(url: str, rules: Path, home: Path, out: Path) -> subprocess.Popen[bytes]:
    code = "import sys; from omium.cli import main; sys.exit(main(sys.argv[1:]))"
    with out.open("ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-c", code, "alerts", "run", "--url", url, "--alerts", str(rules)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "OMIUM_HOME": str(home)},
        )


async def agents(log: EventLog, rng: random.Random, stop: asyncio.Event) -> None:
    """Executions calling tools with few distinct arguments (many loops), some failing."""
    n = 0
    while not stop.is_set():
        rec = Recorder(log, f"ex-crash-{n}")
        await rec.emit("execution.started", workflow="w")
        for _ in range(rng.randint(1, 8)):
            await rec.emit("tool.call", tool="search", arguments={"q": rng.randint(0, 2)})
        if rng.random() < 0.3:
            await rec.emit("execution.failed", error={"type": "E", "message": "no"})
        else:
            await rec.emit("execution.completed")
        n += 1
        await asyncio.sleep(rng.uniform(0.0, 0.05))


async def expected(log: EventLog) -> set[tuple[str, str]]:
    calls: Counter[tuple[str, int, str]] = Counter()
    want = set()
    for partition in range(await log.partitions(EVENTS.name)):
        for record in await log.read(EVENTS.name, partition):
            event = record.event()
            if isinstance(event, ToolCall):
                args = orjson.dumps(event.payload.arguments, option=orjson.OPT_SORT_KEYS).decode()
                calls[(event.execution_id, event.attempt, args)] += 1
            elif isinstance(event, ExecutionFailed):
                want.add(("failed", event.execution_id))
    return want | {("loop", eid) for (eid, _, _), n in calls.items() if n >= LOOP}


async def raised(log: EventLog) -> Counter[str]:
    ids: Counter[str] = Counter()
    for partition in range(await log.partitions(ALERTS.name)):
        for record in await log.read(ALERTS.name, partition):
            event = record.event()
            if isinstance(event, AlertRaised):
                ids[f"{event.payload.rule}|{event.execution_id}|{event.payload.alert_id}"] += 1
    return ids


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", ["sqlite-file", "kafka"])
async def test_sigkill__every_alert_once_none_missing(
    kind: str, log_url: Callable[[str], str], tmp_path: Path
) -> None:
    url = log_url(kind)
    rng = random.Random(SEED)
    log = open_log(url)
    await log.create_topics()
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    out = tmp_path / "alerts.log"
    stop = asyncio.Event()
    producing = asyncio.create_task(agents(log, random.Random(SEED + 1), stop))
    proc = start(url, rules, tmp_path, out)
    try:
        for _ in range(KILLS):
            await asyncio.sleep(
                rng.uniform(0.8, 2.0) if kind == "sqlite-file" else rng.uniform(2, 4)
            )
            proc.send_signal(signal.SIGKILL)
            await asyncio.to_thread(proc.wait, 10)
            proc = start(url, rules, tmp_path, out)
        stop.set()
        await producing
        want = await expected(log)
        deadline = time.monotonic() + 120
        while True:  # the last process catches up with everything produced
            got = await raised(log)
            if {tuple(k.split("|")[:2]) for k in got} >= want or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert proc.poll() is None, out.read_text()[-2000:]
    finally:
        stop.set()
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 30)
        await log.close()
    assert {tuple(k.split("|")[:2]) for k in got} == want
    assert [k for k, n in got.items() if n > 1] == []
    assert len(want) > 20  # the scenario raised plenty of alerts to lose or double
