"""What timeouts count, and what a timed-out sync step's retry waits for."""

from __future__ import annotations

import asyncio
from pathlib import Path

from harness import Harness, spec

from omium.processors.history import current
from omium.services import runs as service


async def test_execution_timeout__counts_running_time_not_a_pause(harness: Harness) -> None:
    await harness.start_worker()
    # 6 x 0.3 s of running time in a 5 s timeout: a wide margin for a loaded broker
    ex = await harness.submit(spec(*["slow"] * 6, timeout="5s"), slow_s=0.3)
    await harness.wait_for(ex, lambda v: any(s.status == "running" for s in v.steps))
    await service.command(harness.log, ex, "pause")  # acted on at the next step boundary
    await harness.wait_for(ex, lambda v: v.status == "paused")
    await asyncio.sleep(5.5)  # paused past the timeout: wall time must pass, by design
    assert (await current(harness.log, ex)).status == "paused"
    await service.command(harness.log, ex, "resume")
    view = await harness.finished(ex)
    assert view.status == "completed"  # the pause did not count


async def test_timed_out_sync_step__retries_only_after_its_thread_ended(
    harness: Harness, tmp_path: Path
) -> None:
    await harness.start_worker()
    marks = tmp_path / "marks.txt"
    retried = {
        "name": "wait",
        "call": "flow_steps:timed_sync",
        "timeout": "200ms",
        "retries": {"max_attempts": 2, "initial": "10ms"},
    }
    ex = await harness.submit(spec(retried), slow_s=0.6, marks=str(marks))
    view = await harness.finished(ex)
    assert view.status == "failed"  # each try outlives its timeout
    times = [line.split() for line in marks.read_text().splitlines()]
    begins = [float(t) for kind, t in times if kind == "begin"]
    ends = [float(t) for kind, t in times if kind == "end"]
    assert len(begins) == 2 and begins[1] >= ends[0]  # the tries never overlapped
    retried_events = [e for e in await harness.events(ex) if e.type == "step.retried"]
    assert "the retry waited" in retried_events[0].payload.error.message  # type: ignore[attr-defined]
