"""When the log cannot be reached, every adapter fails fast with one clear error."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from omium.producers import open_log
from omium.schemas import LogUnavailable, StepStarted

EVENT = StepStarted(execution_id="ex-1", seq=1, payload={"step": "s", "index": 0})


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A TCP port that accepts connections and never answers (a hung broker)."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


def bound(timeout: float) -> float:
    """How long a wait bounded by ``timeout`` may take here: the wait, as long again, 1 s.

    Derived from the configured timeout, not a guess per test: the room after the first
    ``timeout`` covers closing connections and a busy 2-core machine's scheduling lag,
    while a wait that ignored the setting (aiokafka's defaults are 30-40 s) still fails.
    """
    return 2 * timeout + 1.0


async def test_kafka__refused_connection_fails_within_the_timeout() -> None:
    timeout = 3
    log = open_log(f"kafka://127.0.0.1:1?timeout={timeout}")
    started = time.monotonic()
    with pytest.raises(LogUnavailable, match="127.0.0.1:1"):
        await log.append(EVENT)
    assert time.monotonic() - started < bound(timeout)
    await log.close()


async def test_kafka__silent_broker_fails_within_the_timeout(silent_port: int) -> None:
    timeout = 2
    log = open_log(f"kafka://127.0.0.1:{silent_port}?timeout={timeout}")
    started = time.monotonic()
    with pytest.raises(LogUnavailable, match=f"did not answer within {timeout} s"):
        await log.append(EVENT)
    assert time.monotonic() - started < bound(timeout)
    await log.close()


async def test_sqlite__a_locked_file_fails_after_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    busy_timeout = 0.5
    log = open_log(f"sqlite:///{path}?busy_timeout={busy_timeout}")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(LogUnavailable, match="stayed locked"):
            await log.append(EVENT)
        assert time.monotonic() - started < bound(busy_timeout)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # nothing was lost: the log works again once the lock is gone
    position = await log.append(EVENT)
    assert (await log.read_execution("ex-1"))[0].position == position
    await log.close()


async def test_sqlite__unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(LogUnavailable, match="cannot create the folder"):
        open_log(f"sqlite:///{blocker}/log.db")
