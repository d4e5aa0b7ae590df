"""The alert processor split over two processes on Kafka (``omium alerts run --member i/2``).

Each member evaluates the per-execution rules of its half of the partitions, member 0 also
the rules across executions on every partition: every condition is raised once, by one of
them, live and again after both restart.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from test_alerts import SCRIPTED_RULES, alert_events, raised_ids, rules, scripted

from omium.processors.alerts import Member, spans_executions
from omium.producers import EventLog, open_log
from omium.schemas import ConfigError
from omium.schemas.topics import EVENTS

CLI = "import sys; from omium.cli import main; sys.exit(main(sys.argv[1:]))"


def _omium(home: Path, *argv: str) -> list[str]:
    return [sys.executable, "-c", CLI, *argv]


def test_member__parsed_and_split() -> None:
    assert Member.parse("1/3") == Member(1, 3)
    assert [p for p in range(7) if Member(1, 3).owns(p)] == [1, 4]
    for bad in ("3/3", "1", "a/b", "-1/2"):
        with pytest.raises(ConfigError, match="expected i/N"):
            Member.parse(bad)
    loaded = rules(*SCRIPTED_RULES)
    per, across = Member(0, 2).split(loaded)
    assert {r.name for r in across} == {"burn", "rate"}
    assert {r.name for r in per} == {r.name for r in loaded} - {"burn", "rate"}
    assert Member(1, 2).split(loaded) == (per, [])
    assert not any(spans_executions(r) for r in per)


def test_member__refused_on_the_embedded_log(tmp_path: Path) -> None:
    env = {**os.environ, "OMIUM_HOME": str(tmp_path)}
    done = subprocess.run(
        _omium(tmp_path, "alerts", "run", "--once", "--member", "0/2",
               "--url", f"sqlite:///{tmp_path / 'log.db'}"),
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "--member splits a Kafka log's partitions" in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 2  # the line and its hint


async def test_two_members__every_alert_once(log_url: Callable[[str], str], tmp_path: Path) -> None:
    url = log_url("kafka")
    log = open_log(url)
    try:
        await _two_members(log, url, tmp_path)
    finally:
        await log.close()


async def _two_members(log: EventLog, url: str, tmp_path: Path) -> None:
    await log.create_topics()
    assert await log.partitions(EVENTS.name) >= 2
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(orjson.dumps({"rules": SCRIPTED_RULES}).decode())
    env = {**os.environ, "OMIUM_HOME": str(tmp_path)}

    def member(i: int, *extra: str) -> subprocess.Popen[bytes]:
        argv = ["alerts", "run", "--member", f"{i}/2", "--alerts", str(rules_file), "--url", url]
        with open(tmp_path / f"member{i}.out", "ab") as out:  # the child keeps its own copy
            return subprocess.Popen(
                _omium(tmp_path, *argv, *extra), env=env, stdout=out, stderr=subprocess.STDOUT
            )

    members = [member(0), member(1)]
    try:
        await asyncio.sleep(3)  # both running before the first event
        made = await scripted(log)
        want = {
            ("pp", made["handoffs"]), ("budget", made["spender"]), ("slow", made["slow"]),
            ("rate", "workflow:shaky"),
        }  # fmt: skip
        deadline = time.monotonic() + 90
        while True:
            got = {(e.payload.rule, e.execution_id) for e in await alert_events(log)}
            if got >= want:
                break
            logs = "".join(p.read_text() for p in tmp_path.glob("member*.out"))
            assert all(m.poll() is None for m in members), logs
            assert time.monotonic() < deadline, f"{sorted(got)}\n{logs}"
            await asyncio.sleep(0.3)
        await asyncio.sleep(2)  # time enough for a second raise, if one were coming
    finally:
        for m in members:
            m.terminate()
        for m in members:
            m.wait(30)
    live = await raised_ids(log)
    assert all(n == 1 for n in live.values()), live
    assert {(e.payload.rule, e.execution_id) for e in await alert_events(log)} == want
    # each alert came from the member that owns its execution's partition (member 0 for
    # the rules across executions), from the outboxes of their state files
    where = {}
    for partition in range(await log.partitions(EVENTS.name)):
        for record in await log.read(EVENTS.name, partition):
            where[record.event().execution_id] = partition
    outboxes = {}
    for state in tmp_path.glob("alerts-*.db"):
        with sqlite3.connect(state) as db:
            outboxes[state.stem.rsplit("-", 1)[1]] = {
                alert_id for (alert_id,) in db.execute("SELECT alert_id FROM outbox")
            }
    owner = {"across": {"rate"}, "0of2": set(), "1of2": set()}
    for rule, execution_id in want - {("rate", "workflow:shaky")}:
        owner[f"{where[execution_id] % 2}of2"].add(rule)
    assert {k: {a.split("/", 1)[0] for a in v} for k, v in outboxes.items()} == owner
    # both restart and catch up: nothing is raised again
    for i in (0, 1):
        again = member(i, "--once")
        assert again.wait(120) == 0, (tmp_path / f"member{i}.out").read_text()
    assert await raised_ids(log) == live
