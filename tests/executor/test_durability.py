"""What a crash can lose: the group commit's bound holds even when steps never yield."""

from __future__ import annotations

from pathlib import Path

from harness import Harness, spec

from omium.processors.execution import FLUSH_AFTER
from omium.producers import open_log


async def test_group_commit__steps_that_never_yield_are_written_at_each_boundary(
    tmp_path: Path,
) -> None:
    path = tmp_path / "log.db"
    log = open_log(f"sqlite:///{path}")
    await log.create_topics()
    harness = Harness(log)
    try:
        await harness.start_worker()
        busy_ms = FLUSH_AFTER * 1000 * 2  # each step outlasts the window, never awaiting
        ex = await harness.submit(
            spec(*["busy_then_count"] * 6), busy_ms=busy_ms, log_path=str(path)
        )
        view = await harness.finished(ex)
    finally:
        await harness.stop_workers()
        await log.close()
    assert view.status == "completed" and view.output is not None
    seen = view.output["seen"]
    # each step sees the records of the step before it on disk: the window ran out during
    # that step, so the boundary wrote them (without the bound, nothing before the end)
    assert all(later > earlier for earlier, later in zip(seen, seen[1:], strict=False)), seen
