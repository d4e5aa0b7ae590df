"""SIGKILL worker processes at random points; every execution still completes correctly.

Each kind of log gets KILLS kills (10 across the suite). A step interrupted by a kill runs
again (at-least-once), so the final state must be right and no step may be lost.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import SOURCE, spec

from omium.processors.history import current
from omium.processors.reader import open_reader
from omium.processors.rebuild import differences, rebuild
from omium.producers import EventLog, open_log
from omium.schemas import Event
from omium.schemas.topics import EVENTS
from omium.services import runs as service

KILLS = 5
RUNS = 10
SEED = int(os.environ.get("OMIUM_TEST_SEED", "20261126"))


def start_worker(url: str, log_file: Path) -> subprocess.Popen[bytes]:
    code = "import sys; from omium.cli import main; sys.exit(main(sys.argv[1:]))"
    with log_file.open("ab") as stderr:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-c", code, "worker", "--url", url, "--concurrency", "2"],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=SOURCE.parent,
        )


@pytest.mark.timeout(400)
@pytest.mark.parametrize("kind", ["sqlite-file", "kafka"])
async def test_sigkill__executions_resume_and_finish_correctly(
    kind: str, log_url: Callable[[str], str], tmp_path: Path
) -> None:
    url = log_url(kind)
    if kind == "kafka":
        url += "&session_timeout=6"
    rng = random.Random(SEED)
    log = open_log(url)
    await log.create_topics()
    marks = tmp_path / "marks.txt"
    workflow = spec("add", "slow", "mark", "double", "slow", "async_inc", "slow")
    executions = [
        await service.submit(
            log,
            workflow,
            SOURCE,
            {"total": i, "step_value": 10, "slow_s": 0.6, "marks": str(marks), "name": f"run{i}"},
        )
        for i in range(RUNS)
    ]
    worker_log = tmp_path / "workers.log"
    recorded = await _recorded(log)
    worker = start_worker(url, worker_log)
    kills = 0
    try:
        while kills < KILLS:
            # a worker under load can take seconds to start: a kill before it has run
            # anything would interrupt nothing, so each kill waits for its first event
            await _recorded_more(log, recorded)
            await asyncio.sleep(
                rng.uniform(1.0, 3.0) if kind == "sqlite-file" else rng.uniform(4.0, 8.0)
            )
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            kills += 1
            recorded = await _recorded(log)
            worker = start_worker(url, worker_log)
        deadline = time.monotonic() + 240
        views = {}
        for ex in executions:
            while True:
                view = await current(log, ex)
                if view.finished or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            views[ex] = view
        # the workers' processors were killed with them: their views must still equal a
        # rebuild from the log, field by field (nothing lost, nothing applied twice)
        rebuilt = await rebuild(log)
        reader = open_reader(log)
        diffs: dict[str, list[str]] = {}
        while time.monotonic() < deadline + 60:
            live = {v.execution_id: v for v in await reader.executions()}
            diffs = differences(live, rebuilt.views)
            if not diffs:
                break
            await asyncio.sleep(0.5)
        await reader.close()
        assert diffs == {}, worker_log.read_text()[-3000:]
    finally:
        worker.kill()
        worker.wait(10)
        await log.close()
    resumed = 0
    for i, ex in enumerate(executions):
        view = views[ex]
        starts = [e for e in await _events(url, ex) if e.type == "execution.started"]
        resumed += len(starts) > 1
        assert view.status == "completed", (ex, view.status, worker_log.read_text()[-2000:])
        assert view.output is not None
        assert view.output["total"] == (i + 10) * 2 + 1
        assert view.output["slow_done"] == 3
        # the last checkpoint of every step holds that step's state
        last = {c.step: c.state for c in view.checkpoints}
        assert last["add0"]["total"] == i + 10
        assert last["double3"]["total"] == (i + 10) * 2
        assert last["async_inc5"]["total"] == (i + 10) * 2 + 1
    # every run marked at least once (re-runs after a kill are allowed: at-least-once)
    marked = marks.read_text().split()
    assert {f"run{i}" for i in range(RUNS)} <= set(marked)
    assert kills == KILLS
    # the kills really landed mid-run: some executions were picked up again after one
    assert resumed >= 1, "no execution was interrupted; the test proved nothing"
    print(
        f"{kind}: {kills} kills, {resumed}/{RUNS} executions resumed after a kill, "
        f"{len(marked) - RUNS} step re-runs"
    )


async def _recorded(log: EventLog) -> int:
    """How many events the log holds."""
    return sum((await log.end_offsets(EVENTS.name)).values())


async def _recorded_more(log: EventLog, than: int, within: float = 30.0) -> None:
    """Wait until the log holds more than ``than`` events (a worker has started working).

    At most ``within`` seconds: once every execution has finished, nothing more comes.
    """
    deadline = time.monotonic() + within
    while await _recorded(log) <= than and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def _events(url: str, execution_id: str) -> list[Event]:
    log = open_log(url)
    try:
        return [r.event() for r in await log.read_execution(execution_id)]
    finally:
        await log.close()
