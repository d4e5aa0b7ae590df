"""Queries while ``omium worker`` runs and its sink writes: chDB's one-process rule is invisible.

The worker's sink and this process share one chDB folder. Each query takes the lock, catches
the store up with the log and answers with every event recorded before it began; the
worker's sink, in between, writes batches of its own (shown by a store that catches up
with no reader catching it up).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from analytics_workload import store_url, workload

from omium.processors.analytics import open_place
from omium.producers import open_log
from omium.services.analytics import open_analytics


async def _stored(url: str) -> int:
    """``count()`` of events as stored, without catching up (a bare session)."""
    place = open_place(url=url)
    async with place.session() as store:
        try:
            return int(store.query("SELECT count() FROM events")[1][0][0])
        except Exception:  # noqa: BLE001 - no table yet
            return 0


@pytest.mark.timeout(300)  # two processes starting chDB on a shared 2-core machine
async def test_query__while_a_worker_records(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    url = store_url(tmp_path)
    env = {**os.environ, "OMIUM_HOME": str(tmp_path), "OMIUM_LOG_URL": f"sqlite:///{path}",
           "OMIUM_ANALYTICS_URL": url}  # fmt: skip
    out = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "omium.cli", "worker"], env=env, stderr=out, stdout=out
    )
    log = open_log(f"sqlite:///{path}")
    analytics = open_analytics(log, url=url)
    try:
        events = workload(150, seed=5)
        recorded = 0
        for start in range(0, len(events), 600):
            chunk = events[start : start + 600]
            await log.append_batch(chunk)
            recorded += len(chunk)
            got = await analytics.sql("SELECT count(), uniqExact(event_id) FROM events")
            assert got.rows == [[recorded, recorded]]
            await asyncio.sleep(0.2)
        more = workload(40, seed=6)  # recorded last: only the worker's sink writes these
        await log.append_batch(more)
        deadline = time.monotonic() + 30
        while await _stored(url) != recorded + len(more):
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            await asyncio.sleep(0.5)
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()
    finally:
        await analytics.close()
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
        out.close()
    assert worker.returncode == 0, (tmp_path / "worker.log").read_text()
    assert "analytics into" in (tmp_path / "worker.log").read_text()
