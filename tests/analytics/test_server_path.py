"""The server path (``OMIUM_ANALYTICS_URL=http://…``) over real HTTP, through the test-support
front over chDB (``chdb_http_front.py``): the same DDL, sink and questions as embedded."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from analytics_workload import (
    expected_cost,
    expected_failures,
    latency_groups,
    near_quantile,
    workload,
)

from omium.processors.analytics import AnalyticsSink, open_place
from omium.producers import open_log
from omium.schemas import Event, InvalidQuery
from omium.services.analytics import Analytics, Scope, open_analytics

FRONT = Path(__file__).with_name("chdb_http_front.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, str(FRONT), str(tmp_path / "server"), str(port)])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient() as client:
        while True:
            try:
                if (await client.get(f"{url}/ping")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline
            await asyncio.sleep(0.2)
    yield f"{url}/default"
    proc.kill()
    proc.wait()


class Crash(Exception):
    pass


async def test_server__sink_and_questions_over_http(server: str, tmp_path: Path) -> None:
    events: list[Event] = workload(120, seed=21)
    log = open_log(f"sqlite:///{tmp_path / 'log.db'}")
    await log.append_batch(events)

    def die_after_steps(stage: str) -> None:
        if stage == "steps":
            raise Crash  # between the inserts and the commit of the first batch

    place = open_place(url=server)
    with pytest.raises(Crash):
        await AnalyticsSink(log, place, rows=500, stage=die_after_steps).sync()
    assert await AnalyticsSink(log, place, rows=500).sync() == len(events)  # redoes the batch
    place.close()
    assert "lz4" in (tmp_path / "server.encodings").read_text()  # inserts went compressed

    analytics: Analytics = open_analytics(log, url=server)
    try:
        n = len(events)
        got = await analytics.sql("SELECT count(), uniqExact(event_id) FROM events")
        assert got.rows == [[n, n]]
        steps = sum(e.type in ("step.completed", "step.failed") for e in events)
        assert (await analytics.sql("SELECT count() FROM steps")).rows == [[steps]]
        everything = Scope("default")
        cost = {r.key: r for r in await analytics.cost("model", everything)}
        for key, want in expected_cost(events, "model").items():
            assert cost[key].calls == want["calls"]
            assert cost[key].cost_usd == pytest.approx(want["cost_usd"])
        latency = {r.key: r for r in await analytics.latency("step", everything)}
        for key, values in latency_groups(events, "step").items():
            assert latency[key].count == len(values)
            assert near_quantile(values, 0.95, latency[key].p95_ms)
        failures = {r.key: r.model_dump() for r in await analytics.failures("workflow", everything)}
        want_failures = expected_failures(events, "workflow")
        assert failures.keys() == want_failures.keys()
        for key, want in want_failures.items():
            got = failures[key]
            assert got["failure_rate"] == pytest.approx(want.pop("failure_rate"))
            assert {k: got[k] for k in want} == want
        with pytest.raises(InvalidQuery):
            await analytics.sql("INSERT INTO events SELECT * FROM events")
        # scoped to a tenant (the gateway's /sql): the engine's filters travel over HTTP too
        scoped = await analytics.sql("SELECT count() FROM events", tenant="default")
        assert scoped.rows == [[n]]
        assert (await analytics.sql("SELECT count() FROM events", tenant="nobody")).rows == [[0]]
        assert (await analytics.sql("SELECT * FROM sink_batches", tenant="default")).rows == []
        with pytest.raises(InvalidQuery, match="readonly"):  # a query cannot lift them
            await analytics.sql(
                "SELECT count() FROM events SETTINGS additional_table_filters = {}",
                tenant="nobody",
            )
    finally:
        await analytics.close()


async def test_server__readonly_is_the_engines(server: str) -> None:
    place = open_place(url=server)
    try:
        async with place.session() as store:
            store.command("CREATE TABLE t (x UInt8) ENGINE = Memory")
            with pytest.raises(InvalidQuery, match="readonly"):
                store.query("INSERT INTO t SELECT 1", settings={"readonly": 1})
            assert store.query("SELECT count() FROM t", settings={"readonly": 1})[1] == [(0,)]
    finally:
        place.close()
