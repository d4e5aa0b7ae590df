"""The gateway's embedded view reads: one catch-up serves the reads of a few ms.

``fresh_within`` is set far above the test's duration, so which read catches up is decided
by the rule alone, never by the clock.
"""

from __future__ import annotations

from pathlib import Path

from omium.producers import Recorder, Versioned, open_log
from omium.services import Omium
from omium.services.throttled import ThrottledReader


async def test_reads__stale_within_the_interval_but_a_new_execution_is_caught_up(
    tmp_path: Path,
) -> None:
    log = open_log(f"sqlite:///{tmp_path / 'log.db'}")
    app = Omium(log, fresh_within=3600)
    try:
        x = Recorder(log, "x")
        await x.emit("execution.submitted", workflow="w", inputs={})
        assert isinstance(app.reader, ThrottledReader)
        first = await app.reader.execution("x")
        assert first is not None and first.status == "submitted"
        await x.emit("execution.started", workflow="w")
        again = await app.reader.execution("x")
        assert again is not None and again.status == "submitted"  # within the interval
        assert [v.status for v in await app.reader.executions()] == ["submitted"]
        y = Recorder(log, "y")
        await y.emit("execution.submitted", workflow="w", inputs={})
        new = await app.reader.execution("y")  # not in the store: caught up for it
        assert new is not None and new.status == "submitted"
        now = await app.reader.execution("x")
        assert now is not None and now.status == "running"  # that catch-up served x too
    finally:
        await app.close()


async def test_reads__the_cli_context_is_caught_up_on_every_read(tmp_path: Path) -> None:
    log = open_log(f"sqlite:///{tmp_path / 'log.db'}")
    app = Omium.over(log)
    try:
        assert not isinstance(app.reader, ThrottledReader)
        x = Recorder(log, "x")
        await x.emit("execution.submitted", workflow="w", inputs={})
        assert (await app.reader.execution("x")).status == "submitted"  # type: ignore[union-attr]
        await x.emit("execution.started", workflow="w")
        assert (await app.reader.execution("x")).status == "running"  # type: ignore[union-attr]
    finally:
        await app.close()


async def test_reads__past_the_interval_what_the_log_gained_is_folded(tmp_path: Path) -> None:
    log = open_log(f"sqlite:///{tmp_path / 'log.db'}")
    app = Omium(log, fresh_within=1e-9)  # every read is past it
    try:
        x = Recorder(log, "x")
        await x.emit("execution.submitted", workflow="w", inputs={})
        assert (await app.reader.execution("x")).status == "submitted"  # type: ignore[union-attr]
        assert (await app.reader.execution("x")).status == "submitted"  # type: ignore[union-attr]
        await x.emit("execution.started", workflow="w")
        assert (await app.reader.execution("x")).status == "running"  # type: ignore[union-attr]
        assert [v.status for v in await app.reader.executions()] == ["running"]
    finally:
        await app.close()


async def test_reads__another_processs_commits_are_folded_past_the_interval(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    log, worker = open_log(url), open_log(url)  # two connections, as gateway and worker have
    app = Omium(log, fresh_within=1e-9)
    try:
        x = Recorder(worker, "x")
        await x.emit("execution.submitted", workflow="w", inputs={})
        assert (await app.reader.execution("x")).status == "submitted"  # type: ignore[union-attr]
        assert (await app.reader.execution("x")).status == "submitted"  # type: ignore[union-attr]
        await x.emit("execution.started", workflow="w")  # only the file's version tells
        assert (await app.reader.execution("x")).status == "running"  # type: ignore[union-attr]
    finally:
        await app.close()
        await worker.close()


async def test_version__changes_with_every_commit_of_either_connection(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    log, other = open_log(url), open_log(url)
    try:
        assert isinstance(log, Versioned)
        before = log.version()
        assert log.version() == before  # nothing committed
        await Recorder(other, "x").emit("execution.submitted", workflow="w", inputs={})
        after_other = log.version()
        assert after_other != before
        await Recorder(log, "y").emit("execution.submitted", workflow="w", inputs={})
        assert log.version() not in (before, after_other)
    finally:
        await log.close()
        await other.close()
