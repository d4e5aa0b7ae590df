"""A run whose writes stall then fail starts no further step (back-pressure, issue 19).

Found on Kafka with every broker stopped: a step ended while the write of its
``step.started`` was still in flight; the group-commit timer queued the step's results
behind that write; when the write timed out, the runner saw only the queued flush (not
done yet), took the write for fine and started the next step, unrecorded. The stall is
reproduced here on a real SQLite log whose appends, from a given one on, wait and then fail
as a stalled broker's do (the failure the Kafka adapter raises after its timeout).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from harness import SOURCE, spec

from omium.processors.control import Control
from omium.processors.execution import ExecutionRunner
from omium.producers import EventLog, Position, open_log
from omium.schemas import Event, LogUnavailable, Run, from_dict


class StallingLog:
    """A real log whose appends from the ``ok + 1``-th on wait ``stall_s``, then fail."""

    def __init__(self, log: EventLog, ok: int, stall_s: float) -> None:
        self.log, self.ok, self.stall_s = log, ok, stall_s
        self.appends = 0
        #: when the first failing append failed (monotonic s)
        self.failed_at: float | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.log, name)

    async def append_batch(self, events: Sequence[Event], **kwargs: Any) -> list[Position]:
        self.appends += 1
        if self.appends <= self.ok:
            return await self.log.append_batch(events, **kwargs)
        await asyncio.sleep(self.stall_s)
        if self.failed_at is None:
            self.failed_at = time.monotonic()
        raise LogUnavailable("the log did not answer within 0.3 s (waiting for acks)")


def run_command(marks: Path, steps: int) -> Run:
    workflow = spec(*(["slow_then_mark"] * steps))
    command = from_dict(
        {
            "type": "run",
            "execution_id": "stalled-1",
            "payload": {
                "workflow": workflow.name,
                "spec": workflow.model_dump(mode="json"),
                "source": str(SOURCE),
                "inputs": {"marks": str(marks), "slow_s": 0.05},
            },
        }
    )
    assert isinstance(command, Run)
    return command


@pytest.mark.parametrize("ok", [0, 1, 2])
async def test_a_write_that_fails_stops_the_run_before_its_next_step(
    tmp_path: Path, ok: int
) -> None:
    log = open_log(f"sqlite:///{tmp_path}/log.db")
    await log.create_topics()
    marks = tmp_path / "marks.txt"
    stalling = StallingLog(log, ok=ok, stall_s=0.3)
    runner = ExecutionRunner(stalling, run_command(marks, 6), Control())  # type: ignore[arg-type]
    try:
        with pytest.raises(LogUnavailable):
            await asyncio.wait_for(runner.run(), 10)
    finally:
        await log.close()
    # each step lasts 0.05 s and each failing write 0.3 s: a runner that took the failed
    # write for fine went on with the next step (6 ran in all); none may start after it
    starts = [float(t) for t in marks.read_text().split()] if marks.exists() else []
    assert stalling.failed_at is not None
    late = [t - stalling.failed_at for t in starts if t > stalling.failed_at]
    assert late == [], f"{len(late)} steps started after the write failed"
    assert len(starts) <= ok + 2, starts  # what was recorded, and at most 2 steps more
