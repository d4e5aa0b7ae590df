"""The sink killed (SIGKILL) again and again while executions record: nothing twice, nothing lost.

Kills come from outside at random times and from inside at random moves of a batch (after
its plan, between table inserts, before and after its commit). Afterwards every event of the
log is in ``events`` exactly once and every derived table agrees with the events.
"""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from analytics_workload import expected_failures, expected_slowest, store_url, workload

from omium.producers import open_log
from omium.schemas import Event
from omium.services.analytics import Scope, open_analytics

CHILD = Path(__file__).with_name("sink_child.py")
KILLS = 10
STEP_ENDS = ("step.completed", "step.failed")


def _by_execution(events: list[Event]) -> list[list[Event]]:
    runs: dict[str, list[Event]] = {}
    for e in events:
        runs.setdefault(e.execution_id, []).append(e)
    return list(runs.values())


# each round starts a process with chDB in it (~2 s on an idle 2-core machine, far more when
# other suites share it): a bound for a loaded machine, not a wall-clock guess of this test
@pytest.mark.timeout(600)
async def test_sink__sigkilled_often__every_event_once(tmp_path: Path) -> None:
    rng = random.Random(13)
    path = str(tmp_path / "log.db")
    url = store_url(tmp_path)
    log = open_log(f"sqlite:///{path}")
    events = workload(400, seed=11)
    pending = _by_execution(events)
    kills = 0
    loop = asyncio.get_running_loop()
    for round_ in range(60):
        child = subprocess.Popen(
            [sys.executable, str(CHILD), path, url, str(round_), "0.1", "250"],
            stderr=subprocess.DEVNULL,
        )
        ready = Path(f"{path}.ready-{round_}")
        started, kill_at = loop.time(), None
        while child.poll() is None:
            if pending:  # executions keep recording while the sink runs and dies
                await log.append_batch([e for run in pending[:8] for e in run])
                del pending[:8]
            if kill_at is None and ready.exists():  # from outside, once it writes batches
                kill_at = loop.time() + rng.uniform(0.05, 1.5)
            if (kill_at is not None and loop.time() > kill_at) or loop.time() - started > 90:
                break
            await asyncio.sleep(0.05)
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
        child.wait()
        kills += child.returncode == -signal.SIGKILL
        if kills >= KILLS and not pending:
            break
    assert kills >= KILLS
    inside = Counter(Path(path + ".kills").read_text().split())
    # some deaths fell between a batch's inserts and its commit
    assert sum(n for stage, n in inside.items() if stage not in ("planned", "committed")) >= 1

    analytics = open_analytics(log, url=url)
    try:
        await analytics.sql("SELECT 1")  # the last catch-up, in this process
        total = len(events)
        got = await analytics.sql("SELECT count(), uniqExact(event_id) FROM events")
        assert got.rows == [[total, total]]
        kinds = Counter(e.type for e in events)
        for table, n in (
            ("steps", kinds["step.completed"] + kinds["step.failed"]),
            ("llm_calls", kinds["llm.call"]),
            ("tool_calls", kinds["tool.call"]),
        ):
            got = await analytics.sql(f"SELECT count(), uniqExact(event_id) FROM {table}")
            assert got.rows == [[n, n]], table
        rollups = await analytics.sql(
            "SELECT (SELECT sum(steps) FROM steps_hourly),"
            " (SELECT sum(calls) FROM llm_calls_hourly)"
        )
        assert rollups.rows == [[kinds["step.completed"] + kinds["step.failed"], kinds["llm.call"]]]
        # the daily rollups (0009), executions' changes included, agree with the events too
        daily = await analytics.sql(
            "SELECT (SELECT sum(first_runs) FROM steps_failures_daily),"
            " (SELECT sum(calls) FROM llm_calls_daily),"
            " (SELECT sum(executions) FROM executions_daily)"
        )
        firsts = len({(e.execution_id, e.payload.step) for e in events if e.type in STEP_ENDS})
        executions = len({e.execution_id for e in events})
        assert daily.rows == [[firsts, kinds["llm.call"], executions]]
        by_workflow = await analytics.failures("workflow", Scope("default"))
        assert {r.key: r.model_dump() for r in by_workflow} == expected_failures(events, "workflow")
        runs = await analytics.sql(
            "SELECT execution_id, status, steps, round(cost_usd, 9) FROM executions FINAL"
        )
        assert len(runs.rows) == len({e.execution_id for e in events})
        finished = {r["execution_id"]: r for r in expected_slowest(events, 10**6)}
        for execution_id, status, steps, cost in runs.rows:
            if execution_id in finished:
                want = finished[execution_id]
                assert (status, steps) == (want["status"], want["steps"])
                assert abs(cost - want["cost_usd"]) < 1e-6
            else:
                assert status == "running"
    finally:
        await analytics.close()
