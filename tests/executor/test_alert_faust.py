"""The alert rules on Kafka through faust (``omium processors``, as ``omium worker`` runs it).

Real broker, ``omium processors`` as subprocesses (faust owns its loop and signals), the
rules from ``OMIUM_ALERTS``. A loop raises one alert and its close call none; ``stuck``
fires within ``after`` + 2 s with no other event; SIGKILLed mid-stream several times, the
processors still raise every condition the log calls for (computed by the test from the
log) exactly once by id; two processes sharing the partitions, joined and left mid-stream,
append every alert once.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from test_alert_crashes import SEED, agents, expected

from omium.producers import EventLog, Recorder, open_log
from omium.schemas import AlertRaised
from omium.schemas.topics import ALERTS

READY = "[^Worker]: Ready"
LOOP_AND_FAILED = """
rules:
  - {name: loop, kind: loop, count: 3, calls: tool}
  - {name: failed, kind: execution_failed}
"""


class Processors:
    """``omium processors`` as a subprocess, its output in a file, a static membership id."""

    def __init__(self, url: str, rules: Path, home: Path, name: str) -> None:
        self.url, self.rules, self.home = url, rules, home
        self.instance = f"alerts-{name}-{uuid.uuid4().hex[:6]}"
        self.out = home / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = ["processors", "--url", self.url, "--instance-id", self.instance]
        env = {**os.environ, "OMIUM_HOME": str(self.home), "OMIUM_ALERTS": str(self.rules)}
        with self.out.open("ab") as out:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "omium.cli", *argv, "--log-level", "info"],
                cwd=self.home, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    async def ready(self, timeout: float = 90) -> None:
        """Wait for faust's Ready line written since the last start."""
        assert self.proc is not None
        seen = self.out.read_text(errors="replace").count(READY)
        deadline = time.monotonic() + timeout
        while self.out.read_text(errors="replace").count(READY) < seen + 1:
            assert self.proc.poll() is None, self.tail()
            assert time.monotonic() < deadline, self.tail()
            await asyncio.sleep(0.2)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.proc.wait, 30)
            except subprocess.TimeoutExpired:  # never left behind, whatever the test's end
                self.kill()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.out.read_text(errors="replace").splitlines()[-lines:])


async def alert_records(log: EventLog) -> list[AlertRaised]:
    """Every ``alert.raised`` record on the log (duplicates included)."""
    found = []
    for partition in range(await log.partitions(ALERTS.name)):
        for record in await log.read(ALERTS.name, partition):
            event = record.event()
            if isinstance(event, AlertRaised):
                found.append(event)
    return found


async def wait_for(
    log: EventLog, want: set[tuple[str, str]], timeout: float
) -> set[tuple[str, str]]:
    """The (rule, execution) pairs raised, once they cover ``want`` or at ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        got = {(e.payload.rule, e.execution_id) for e in await alert_records(log)}
        if got >= want or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.2)


@pytest.fixture
async def kafka(kafka_bootstrap: str) -> tuple[str, EventLog]:
    url = f"kafka://{kafka_bootstrap}?topic_prefix=af-{uuid.uuid4().hex[:8]}.&timeout=20"
    log = open_log(url)
    await log.create_topics()
    return url, log


@pytest.mark.timeout(120)
async def test_faust__a_loop_raises_once_and_stuck_fires_on_time(
    kafka: tuple[str, EventLog], tmp_path: Path
) -> None:
    url, log = kafka
    after = 3.0
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - {name: loop, kind: loop, count: 3, calls: tool}\n"
        f"  - {{name: stuck, kind: stuck, after: {after:g}s}}\n"
        "  - {name: rate, kind: failure_rate, threshold: 0.5, window: 1h, min_runs: 3}\n"
    )
    procs = Processors(url, rules, tmp_path, "p")
    procs.start()
    try:
        await procs.ready()
        looping, close = Recorder(log, "ex-loop"), Recorder(log, "ex-close")
        for rec in (looping, close):
            await rec.emit("execution.started", workflow="w")
        for i in range(3):
            await looping.emit("tool.call", tool="search", arguments={"q": "same"})
            await close.emit("tool.call", tool="search", arguments={"q": i})  # never the same
        for rec in (looping, close):
            await rec.emit("execution.completed")
        for i, ends in enumerate(["failed", "completed", "failed", "failed"]):  # 2 of 3, 3 of 4
            shaky = Recorder(log, f"ex-shaky-{i}")  # a tenant-wide rule: forwarded by tenant
            await shaky.emit("execution.started", workflow="shaky")
            error = {"error": {"type": "E", "message": "no"}} if ends == "failed" else {}
            await shaky.emit(f"execution.{ends}", **error)
        first = {("loop", "ex-loop"), ("rate", "workflow:shaky")}
        assert await wait_for(log, first, 30) == first
        # a run that starts and then records nothing: no event at all follows on the log
        await Recorder(log, "ex-stalls").emit("execution.started", workflow="w")
        appended = time.monotonic()
        got = await wait_for(log, {*first, ("stuck", "ex-stalls")}, after + 10)
        took = time.monotonic() - appended
        assert ("stuck", "ex-stalls") in got, procs.tail()
        assert took <= after + 2, f"stuck raised {took:.2f} s after the last event"
        await asyncio.sleep(1.5)  # time for a second raise, if one were coming
    finally:
        await procs.stop()
        await log.close()
    records = await _reopen_records(url)
    assert sorted((e.payload.rule, e.execution_id) for e in records) == [
        ("loop", "ex-loop"),
        ("rate", "workflow:shaky"),
        ("stuck", "ex-stalls"),
    ]


async def _reopen_records(url: str) -> list[AlertRaised]:
    log = open_log(url)
    try:
        return await alert_records(log)
    finally:
        await log.close()


@pytest.mark.timeout(150)
async def test_faust__sigkilled_mid_stream__every_alert_once_none_missing(
    kafka: tuple[str, EventLog], tmp_path: Path
) -> None:
    url, log = kafka
    rng = random.Random(SEED)
    rules = tmp_path / "rules.yaml"
    rules.write_text(LOOP_AND_FAILED)
    procs = Processors(url, rules, tmp_path, "p")
    stop = asyncio.Event()
    procs.start()
    kills = 5
    try:
        await procs.ready()
        producing = asyncio.create_task(agents(log, random.Random(SEED + 1), stop))
        for _ in range(kills):
            await asyncio.sleep(rng.uniform(1.5, 4.0))
            procs.kill()
            procs.start()
        stop.set()
        await producing
        want = await expected(log)
        got = await wait_for(log, want, 60)
        assert procs.proc is not None and procs.proc.poll() is None, procs.tail()
        records = await alert_records(log)
    finally:
        stop.set()
        await procs.stop()
        await log.close()
    assert got == want
    by_id = Counter(e.payload.alert_id for e in records)
    again = {i: n for i, n in by_id.items() if n > 1}
    # a re-append is the very same record (event id derived from the alert id): readers
    # and receivers dedupe it; it can only happen for a batch in flight at a kill
    assert len({(e.payload.alert_id, e.event_id) for e in records}) == len(by_id)
    assert sum(again.values()) - len(again) <= kills, again
    print(f"\n{len(by_id)} alerts, {len(records) - len(by_id)} re-appended over {kills} kills")
    assert len(want) > 20  # the scenario raised plenty of alerts to lose or double


@pytest.mark.timeout(150)
async def test_faust__two_processes_and_rebalances__every_alert_once(
    kafka: tuple[str, EventLog], tmp_path: Path
) -> None:
    url, log = kafka
    rules = tmp_path / "rules.yaml"
    rules.write_text(LOOP_AND_FAILED)
    first, second = (Processors(url, rules, tmp_path, n) for n in ("a", "b"))
    stop = asyncio.Event()
    first.start()
    try:
        await first.ready()
        producing = asyncio.create_task(agents(log, random.Random(SEED + 2), stop))
        await asyncio.sleep(2)
        second.start()  # joins: the partitions are shared, state moves with them
        await second.ready()
        await asyncio.sleep(3)
        await first.stop()  # leaves: its partitions move to the second
        await asyncio.sleep(3)
        stop.set()
        await producing
        want = await expected(log)
        got = await wait_for(log, want, 60)
        records = await alert_records(log)
        assert second.proc is not None and second.proc.poll() is None, second.tail()
    finally:
        stop.set()
        for procs in (first, second):
            await procs.stop()
        await log.close()
    assert got == want
    by_id = Counter(e.payload.alert_id for e in records)
    assert [i for i, n in by_id.items() if n > 1] == []  # no crash: not even a re-append
    assert len(want) > 10


@pytest.mark.timeout(120)
async def test_faust__omium_worker_hands_its_rules_to_the_processors(
    kafka: tuple[str, EventLog], tmp_path: Path
) -> None:
    url, log = kafka
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - {name: s, kind: stuck, after: 3 parsecs}\n")
    env = {**os.environ, "OMIUM_HOME": str(tmp_path)}
    worker = [sys.executable, "-m", "omium.cli", "worker", "--url", url]
    done = subprocess.run(
        [*worker, "--alerts", str(bad)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert "bad.yaml: rules[0].after" in done.stderr and len(done.stderr.splitlines()) <= 2
    rules = tmp_path / "twice.yaml"  # not a default rule: seen only if the child loaded it
    rules.write_text("rules:\n  - {name: twice, kind: loop, count: 2}\n")
    with (tmp_path / "worker.log").open("wb") as out:
        proc = subprocess.Popen(
            [*worker, "--alerts", str(rules)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        rec = Recorder(log, "ex-twice")
        await rec.emit("execution.started", workflow="w")
        for _ in range(2):
            await rec.emit("tool.call", tool="t", arguments={})
        got = await wait_for(log, {("twice", "ex-twice")}, 60)
        assert got == {("twice", "ex-twice")}, (tmp_path / "worker.log").read_text()[-2000:]
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 40)
        await log.close()
