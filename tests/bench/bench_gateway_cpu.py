"""The gateway's own cost per request: the ASGI app driven in-process, no HTTP, no client.

``bench_gateway.py`` measures latency under an open-loop load, which on a loaded machine
mostly measures the machine. This bench measures what one request costs the server:
``time.process_time`` and wall time per request over sequential requests, each 2 ms after
the last (so the 5 ms freshness window of the view readers is crossed as under ~300 req/s),
against ``GET /healthz`` (FastAPI and the middleware, no omium work) in the same run.

- embedded: a SQLite log with one execution's events; the throttled view store reader.
- Kafka (``--kafka HOST:PORT``): 50 views written to the views changelog; the gateway reads
  them through its live tail of the changelog.

Prints a table (medians of --repeat rounds); asserts nothing about time.

usage: python tests/bench/bench_gateway_cpu.py [--kafka HOST:PORT] [--requests 200] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from omium.gateway.app import create_app
from omium.producers import Recorder, open_log
from omium.projections import ExecutionView, view_to_dict
from omium.schemas.topics import TOPICS, VIEWS_CHANGELOG

GAP_S = 0.002


async def call(app: Any, path: str) -> int:
    """One GET through the ASGI app; returns its status."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"host", b"bench")], "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }  # fmt: skip
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    return status[0]


async def measure(url: str, paths: list[str], requests: int, repeat: int) -> tuple[float, float]:
    """Median (CPU ms, wall ms) per request over ``paths`` in turn."""
    app = create_app(url)
    async with app.router.lifespan_context(app):
        for path in paths:  # warm: first reads, the tail's start
            assert await call(app, path) == 200, path
        cpu, wall = [], []
        for _ in range(repeat):
            started_cpu, started = time.process_time(), time.perf_counter()
            for i in range(requests):
                await call(app, paths[i % len(paths)])
                await asyncio.sleep(GAP_S)
            cpu.append((time.process_time() - started_cpu) / requests * 1000)
            wall.append((time.perf_counter() - started) / requests * 1000 - GAP_S * 1000)
    return statistics.median(cpu), statistics.median(wall)


async def embedded_url(home: Path) -> str:
    url = f"sqlite:///{home / 'log.db'}"
    log = open_log(url)
    recorder = Recorder(log, "x-0")
    await recorder.emit("execution.submitted", workflow="w", inputs={})
    await recorder.emit("execution.started", workflow="w")
    await log.close()
    return url


async def kafka_url(bootstrap: str) -> str:
    url = f"kafka://{bootstrap}?topic_prefix=bench-{uuid.uuid4().hex[:8]}.&timeout=20"
    log = open_log(url)
    await log.create_topics([*TOPICS, VIEWS_CHANGELOG])
    for i in range(50):
        view = ExecutionView(execution_id=f"x-{i}", status="running", workflow="w")
        value = orjson.dumps(view_to_dict(view))
        await log.append_records([(VIEWS_CHANGELOG.name, f"x-{i}", value)])
    await log.close()
    return url


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kafka", default=os.environ.get("OMIUM_TEST_KAFKA"))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("OMIUM_API_RATE", "1e9")  # the bucket is not what is measured
    os.environ.setdefault("OMIUM_API_BURST", "1e9")
    rows = []
    with tempfile.TemporaryDirectory() as home:
        logs = [("embedded", await embedded_url(Path(home)), ["/api/v1/executions/x-0"])]
        if args.kafka:
            ids = [f"/api/v1/executions/x-{i}" for i in range(50)]
            logs.append(("Kafka", await kafka_url(args.kafka), ids))
        for name, url, paths in logs:
            floor = await measure(url, ["/healthz"], args.requests, args.repeat)
            got = await measure(url, paths, args.requests, args.repeat)
            rows.append((name, floor, got))
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"gateway cost per request, in-process; medians of {args.repeat} rounds of "
          f"{args.requests}; load average {load}")  # fmt: skip
    print(f"{'log':9} {'GET /healthz CPU ms':>20} {'GET /executions/{id} CPU ms':>28} "
          f"{'× floor':>8} {'wall ms':>8}")  # fmt: skip
    for name, floor, got in rows:
        print(f"{name:9} {floor[0]:>20.2f} {got[0]:>28.2f} {got[0] / floor[0]:>8.1f} "
              f"{got[1]:>8.2f}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
