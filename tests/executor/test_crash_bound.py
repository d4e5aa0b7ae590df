"""What a crash costs: SIGKILL a worker at random points and compare side effects with the log.

Each step appends ``<run>:<index> <time>`` to a file just before it returns. After a kill,
a step whose side effect is in the file but whose ``step.completed`` is not in the log was
lost. The README's bound: with ``durability: batched`` a crash loses the step running then
and the steps completed within the group-commit window before it started (plus a write in
flight); with ``durability: step`` only the step running then. Steps that never yield,
sync steps and awaiting steps are each killed several times in both modes.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from harness import SOURCE, spec

from omium.processors.execution import FLUSH_AFTER
from omium.processors.history import current
from omium.producers import open_log
from omium.schemas import StepCompleted
from omium.services import runs as service

CLI = "import sys; from omium.cli import main; sys.exit(main(sys.argv[1:]))"
KILLS = 4  # per step kind and mode: 3 kinds x 2 modes x 4 = 24 kills
STEPS = 400
#: a write in flight when the kill came (its batch had waited the window) is lost too
WRITE_SLACK = 0.05
SEED = int(os.environ.get("OMIUM_TEST_SEED", "20261130"))


@pytest.mark.timeout(600)
@pytest.mark.parametrize("durability", ["batched", "step"])
@pytest.mark.parametrize("kind", ["tick_busy", "tick_sync", "tick_await"])
async def test_sigkill__loses_no_more_than_the_bound(
    kind: str, durability: str, tmp_path: Path
) -> None:
    rng = random.Random(f"{SEED}-{kind}-{durability}")
    for kill in range(KILLS):  # a log of its own each time: the kill is all that happens
        url = f"sqlite:///{tmp_path / f'log-{kill}.db'}"
        effects = tmp_path / f"effects-{kill}.txt"
        effects.touch()
        log = open_log(url)
        try:
            await log.create_topics()
            workflow = spec(*[kind] * STEPS, durability=durability)
            ex = await service.submit(
                log, workflow, SOURCE, {"busy_ms": 3, "effects": str(effects), "run_key": "r"}
            )
            worker = subprocess.Popen(
                [sys.executable, "-c", CLI, "worker", "--url", url, "--concurrency", "1"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=SOURCE.parent,
            )
            try:
                deadline = time.monotonic() + 60
                while len(effects.read_text().splitlines()) < 20:  # well into the run
                    assert worker.poll() is None, "the worker exited"
                    assert time.monotonic() < deadline, (await current(log, ex)).error
                    await asyncio.sleep(0.01)
                await asyncio.sleep(rng.uniform(0.0, 0.3))
            finally:
                worker.send_signal(signal.SIGKILL)
                worker.wait()
            lines = [line.split() for line in effects.read_text().splitlines()]
            noted = {int(key.rsplit(":", 1)[1]): float(at) for key, at in lines}
            recorded = {
                e.payload.index
                for e in (r.event() for r in await log.read_execution(ex))
                if isinstance(e, StepCompleted)
            }
        finally:
            await log.close()
        lost = sorted(set(noted) - recorded)
        last = max(noted.values())
        if durability == "step":
            # only the step running at the kill: its effect happened, its record not yet
            assert lost in ([], [max(noted)]), (kill, lost)
        else:
            bound = FLUSH_AFTER + WRITE_SLACK
            late = {i: last - noted[i] for i in lost if last - noted[i] >= bound}
            assert not late, f"kill {kill}: lost steps completed long before the end {late}"
