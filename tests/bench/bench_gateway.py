"""The gateway's latency under a fixed request rate, against the HTTP floor of the same process.

A real ``omium serve`` and ``omium worker`` (embedded log; also Kafka with --kafka), and an
open-loop load: requests are sent on a fixed schedule whatever the answers, and a latency
is measured from the request's scheduled time (so a slow server is not hidden by a client
that waits for it). Rows:

- ``GET /healthz`` — the floor: uvicorn, FastAPI and the client, no omium work;
- ``GET /api/v1/executions/{id}`` at the target rate (default 500 req/s);
- ``POST /api/v1/executions`` at a tenth of it (each one is a run command on the log);
- submit → first ``step.started``: from sending the POST to the worker recording the first
  step (the event's timestamp; one machine, one clock), with the log otherwise idle.

Prints a table (medians of --repeat rounds); asserts nothing about time.

usage: python tests/bench/bench_gateway.py [--kafka HOST:PORT] [--rate 500] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx

CLI = "import sys; from omium.cli import main; sys.exit(main(sys.argv[1:]))"
STEPS = Path(__file__).resolve().parent / "bench_steps.py"
FLOW = """
name: bench-flow
steps:
  - {name: s0, call: bench_steps:tick}
  - {name: s1, call: bench_steps:tick}
  - {name: s2, call: bench_steps:tick}
"""


#: concurrent requests (and connections) of the load
CONNECTIONS = 64


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(home: Path, url: str, port: int) -> list[subprocess.Popen[bytes]]:
    folder = home / "workflows"
    folder.mkdir(parents=True)
    (folder / "bench_steps.py").write_text(STEPS.read_text())
    (folder / "flow.yaml").write_text(FLOW)
    env = {**os.environ, "OMIUM_HOME": str(home), "OMIUM_API_RATE": "1e9", "OMIUM_API_BURST": "1e9"}
    run = [sys.executable, "-c", CLI]
    subprocess.run(
        [*run, "topics", "create", "--url", url], env=env, check=True, capture_output=True
    )
    quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [
        subprocess.Popen([*run, "worker", "--url", url, "--workflows", str(folder)], **quiet),  # type: ignore[call-overload]
        subprocess.Popen([*run, "serve", "--port", str(port), "--url", url], **quiet),  # type: ignore[call-overload]
    ]
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                return procs
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("omium serve was not ready in 120 s")
        time.sleep(0.25)


async def load(
    client: httpx.AsyncClient, send: object, rate: float, seconds: float
) -> tuple[list[float], int]:
    """Open loop: ``send()`` every 1/rate s; latencies (ms) from each scheduled time; errors."""
    latencies: list[float] = []
    errors = 0
    # at most CONNECTIONS requests in the client's pool at once: httpcore's pool scans its
    # whole queue on every change, so thousands queued there cost the client more CPU than
    # the server spends; a request waiting here still counts from its scheduled time
    slots = asyncio.Semaphore(CONNECTIONS)

    async def one(at: float) -> None:
        nonlocal errors
        try:
            async with slots:
                response = await send()  # type: ignore[operator]
            if response.status_code >= 400:
                errors += 1
        except httpx.HTTPError:
            errors += 1
        latencies.append((time.perf_counter() - at) * 1000)

    begin = time.perf_counter()
    tasks = []
    for i in range(int(rate * seconds)):
        at = begin + i / rate
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(at)))
    await asyncio.gather(*tasks)
    return latencies, errors


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def first_step(client: httpx.AsyncClient, runs: int) -> list[float]:
    """Submit → the first step.started, one run at a time (ms)."""
    out = []
    for _ in range(runs):
        sent = time.time()
        ex = (await client.post("/api/v1/executions", json={"workflow": "bench-flow"})).json()
        execution_id = ex["execution_id"]
        while True:
            got = await client.get(f"/api/v1/executions/{execution_id}/events")
            events = got.json() if got.status_code == 200 else []  # 404: not started yet
            started = [e for e in events if e["event"]["type"] == "step.started"]
            if started:
                ts = datetime.fromisoformat(started[0]["event"]["ts"]).timestamp()
                out.append((ts - sent) * 1000)
                break
            await asyncio.sleep(0.02)
        await finished(client, execution_id)
    return out


async def finished(client: httpx.AsyncClient, execution_id: str) -> None:
    """Poll until the execution completed."""
    while True:
        view = (await client.get(f"/api/v1/executions/{execution_id}")).json()
        if view["status"] == "completed":
            return
        await asyncio.sleep(0.02)


async def measure(base: str, rate: float, seconds: float) -> dict[str, tuple[float, float, int]]:
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    # bounded: a request not answered within 10 s (waiting for a connection included) is
    # an error, so a server that cannot keep up ends the row instead of queueing for ever
    async with httpx.AsyncClient(base_url=base, timeout=10, limits=limits) as client:
        body = {"workflow": "bench-flow", "execution_id": f"b-{uuid.uuid4().hex[:8]}"}
        target = (await client.post("/api/v1/executions", json=body)).json()["execution_id"]
        await finished(client, target)
        rows: dict[str, tuple[float, float, int]] = {}
        for name, send, r in [
            ("GET /healthz (floor)", lambda: client.get("/healthz"), rate),
            ("GET /executions/{id}", lambda: client.get(f"/api/v1/executions/{target}"), rate),
            (
                "POST /executions",
                lambda: client.post("/api/v1/executions", json={"workflow": "bench-flow"}),
                rate / 10,
            ),
        ]:
            latencies, errors = await load(client, send, r, seconds)
            rows[f"{name} @ {r:g}/s"] = (pct(latencies, 0.5), pct(latencies, 0.99), errors)
            await asyncio.sleep(2)  # let the worker drain what the POSTs submitted
        await asyncio.sleep(5)
        firsts = await first_step(client, 20)
        rows["submit → first step.started"] = (pct(firsts, 0.5), pct(firsts, 0.99), 0)
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kafka", default=os.environ.get("OMIUM_TEST_KAFKA"))
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logs = [("embedded", None)] + ([("kafka", args.kafka)] if args.kafka else [])
    rounds_of = f"medians of {args.repeat} rounds of {args.seconds:g} s"
    print(f"omium serve under an open-loop load; {rounds_of}; load average {_load()}")
    print(f"{'log':9} {'measure':38} {'p50 ms':>8} {'p99 ms':>8} {'p50/floor':>9} {'errors':>6}")
    for kind, address in logs:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            url = (
                f"sqlite:///{home / 'log.db'}"
                if address is None
                else f"kafka://{address}?topic_prefix=bench-{uuid.uuid4().hex[:8]}.&timeout=20"
            )
            port = free_port()
            procs = start(home, url, port)
            try:
                rounds = [
                    asyncio.run(measure(f"http://127.0.0.1:{port}", args.rate, args.seconds))
                    for _ in range(args.repeat)
                ]
            finally:
                for proc in procs:
                    proc.terminate()
                for proc in procs:
                    proc.wait(60)
        floor = statistics.median(
            r["GET /healthz (floor) @ " + f"{args.rate:g}/s"][0] for r in rounds
        )
        for name in rounds[0]:
            p50 = statistics.median(r[name][0] for r in rounds)
            p99 = statistics.median(r[name][1] for r in rounds)
            errors = sum(r[name][2] for r in rounds)
            print(f"{kind:9} {name:38} {p50:8.1f} {p99:8.1f} {p50 / floor:9.1f} {errors:6}")
        print(f"(load average after {kind}: {_load()})")


def _load() -> str:
    """The machine's load averages (1, 5, 15 min): how busy the 2 cores were around a row."""
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
