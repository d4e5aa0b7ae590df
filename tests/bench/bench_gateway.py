"""The gateway's latency under a fixed request rate, against the HTTP floor of the same process.

A real ``omium serve`` (``--workers N``) and ``omium worker`` (embedded log; also Kafka
with --kafka), and an open-loop load from ``bench_gateway_load.py`` in a process of its
own: requests are sent on a fixed schedule over keep-alive connections whatever the
answers, and a latency is measured from the request's scheduled time (so a slow server
is not hidden by a client that waits for it). Rows, at each rate of ``--rates``:

- ``GET /healthz`` — the floor: uvicorn, FastAPI and the client, no omium work;
- ``GET /api/v1/executions/{id}``;
- ``POST /api/v1/executions`` at a tenth of the rate (each one is a run command on the log);

and once per configuration, submit → first ``step.started``: from sending the POST to the
worker recording the first step (the event's timestamp; one machine, one clock), one run
at a time with the log otherwise idle. Each row also shows the CPU the gateway's
processes, the worker and the load generator used during it (in cores: CPU s / wall s),
and how long the gateway's processes were runnable but waiting for a core (the
scheduler's ``schedstat``), so a row limited by the machine rather than the gateway shows
it.

Prints a table (medians of --repeat rounds); asserts nothing about time.

usage: python tests/bench/bench_gateway.py [--kafka HOST:PORT] [--rates 100,250,500]
       [--workers 1,2] [--seconds 5] [--repeat 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
HERE = Path(__file__).resolve().parent
STEPS = HERE / "bench_steps.py"
LOAD = HERE / "bench_gateway_load.py"
FLOW = """
name: bench-flow
steps:
  - {name: s0, call: bench_steps:tick}
  - {name: s1, call: bench_steps:tick}
  - {name: s2, call: bench_steps:tick}
"""

#: keep-alive connections of the load (a request waits for one when all are busy)
CONNECTIONS = 32

#: a row: p50 ms, p99 ms, errors, gateway cores, worker cores, client cores, and the
#: gateway's processes' time runnable but waiting for a core (in cores, as the others)
Row = tuple[float, float, int, float, float, float, float]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_s(pid: int) -> tuple[float, float]:
    """CPU seconds of process ``pid`` and its descendants alive now, and their seconds spent
    runnable but waiting for a core (``/proc/*/task/*/schedstat``: the scheduler's own count).
    """
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parents[int(entry)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    tree = {pid}
    for _ in range(4):  # serve → uvicorn's workers (and their helpers)
        tree |= {p for p, parent in parents.items() if parent in tree}
    ran = waited = 0
    for p in tree:
        for task in Path(f"/proc/{p}/task").glob("*/schedstat"):
            try:
                on_cpu, on_queue, _ = task.read_text().split()
            except (OSError, ValueError):
                continue
            ran, waited = ran + int(on_cpu), waited + int(on_queue)
    return ran / 1e9, waited / 1e9


def start(home: Path, url: str, port: int, workers: int) -> list[subprocess.Popen[bytes]]:
    """``omium worker`` and ``omium serve --workers N`` over ``url``, ready."""
    folder = home / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bench_steps.py").write_text(STEPS.read_text())
    (folder / "flow.yaml").write_text(FLOW)
    env = {**os.environ, "OMIUM_HOME": str(home), "OMIUM_API_RATE": "1e9", "OMIUM_API_BURST": "1e9"}
    run = [sys.executable, "-c", CLI]
    subprocess.run(
        [*run, "topics", "create", "--url", url], env=env, check=True, capture_output=True
    )
    quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    serve = ["serve", "--port", str(port), "--url", url, "--workers", str(workers)]
    procs = [
        subprocess.Popen([*run, "worker", "--url", url, "--workflows", str(folder)], **quiet),  # type: ignore[call-overload]
        subprocess.Popen([*run, *serve], **quiet),  # type: ignore[call-overload]
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


def load(
    url: str, rate: float, seconds: float, procs: list[subprocess.Popen[bytes]], body: str = ""
) -> Row:
    """One row: the load generator's process against ``url``, and who used what CPU."""
    argv = [sys.executable, str(LOAD), url, "--rate", f"{rate:g}", "--seconds", f"{seconds:g}"]
    argv += ["--connections", str(CONNECTIONS)]
    if body:
        argv += ["--method", "POST", "--body", body]
    worker, serve = procs
    gateway, working = cpu_s(serve.pid), cpu_s(worker.pid)
    done = subprocess.run(argv, check=True, capture_output=True, text=True)
    got = json.loads(done.stdout)
    gateway_after = cpu_s(serve.pid)
    # per second of load: the generator's own start (~0.3 s) costs the servers nothing
    return (
        got["p50_ms"],
        got["p99_ms"],
        got["errors"],
        (gateway_after[0] - gateway[0]) / seconds,
        (cpu_s(worker.pid)[0] - working[0]) / seconds,
        got["client_cpu_s"] / seconds,
        (gateway_after[1] - gateway[1]) / seconds,
    )


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


async def target(base: str) -> str:
    """A completed execution to read."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        body = {"workflow": "bench-flow", "execution_id": f"b-{uuid.uuid4().hex[:8]}"}
        execution_id = (await client.post("/api/v1/executions", json=body)).json()["execution_id"]
        await finished(client, execution_id)
        return str(execution_id)


async def firsts(base: str, runs: int) -> list[float]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        return await first_step(client, runs)


def measure(
    base: str, procs: list[subprocess.Popen[bytes]], rates: list[float], seconds: float
) -> dict[str, Row]:
    """One round: every row at every rate, then submit → first step."""
    execution_id = asyncio.run(target(base))
    rows: dict[str, Row] = {}
    submit = json.dumps({"workflow": "bench-flow"})
    for rate in rates:
        rows[f"GET /healthz (floor) @ {rate:g}/s"] = load(f"{base}/healthz", rate, seconds, procs)
        rows[f"GET /executions/{{id}} @ {rate:g}/s"] = load(
            f"{base}/api/v1/executions/{execution_id}", rate, seconds, procs
        )
        posts = rate / 10
        rows[f"POST /executions @ {posts:g}/s"] = load(
            f"{base}/api/v1/executions", posts, seconds, procs, body=submit
        )
        time.sleep(2)  # let the worker drain what the POSTs submitted
    time.sleep(3)
    got = asyncio.run(firsts(base, 20))
    rows["submit → first step.started"] = (pct(got, 0.5), pct(got, 0.99), 0, 0, 0, 0, 0)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kafka", default=os.environ.get("OMIUM_TEST_KAFKA"))
    parser.add_argument("--rates", default="100,250,500", help="GET rates, comma-separated")
    parser.add_argument("--workers", default="1,2", help="omium serve --workers, each in turn")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    logs = [("embedded", None)] + ([("kafka", args.kafka)] if args.kafka else [])
    rounds_of = f"medians of {args.repeat} rounds of {args.seconds:g} s a row"
    print(f"omium serve under an open-loop load; {rounds_of}; load average {_load()}")
    print(
        f"{'log':9} {'proc':>4} {'measure':36} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
        f"{'gw cpu':>6} {'wk cpu':>6} {'client':>6} {'gw wait':>7}"
    )
    for kind, address in logs:
        for workers in [int(w) for w in args.workers.split(",")]:
            with tempfile.TemporaryDirectory() as tmp:
                home = Path(tmp)
                url = (
                    f"sqlite:///{home / 'log.db'}"
                    if address is None
                    else f"kafka://{address}?topic_prefix=bench-{uuid.uuid4().hex[:8]}.&timeout=20"
                )
                port = free_port()
                procs = start(home, url, port, workers)
                try:
                    base = f"http://127.0.0.1:{port}"
                    rounds = [measure(base, procs, rates, args.seconds) for _ in range(args.repeat)]
                finally:
                    for proc in procs:
                        proc.terminate()
                    for proc in procs:
                        proc.wait(60)
            for name in rounds[0]:
                cols = [statistics.median(r[name][i] for r in rounds) for i in range(7)]
                errors = sum(r[name][2] for r in rounds)
                print(
                    f"{kind:9} {workers:4} {name:36} {cols[0]:8.1f} {cols[1]:8.1f} {errors:6} "
                    f"{cols[3]:6.2f} {cols[4]:6.2f} {cols[5]:6.2f} {cols[6]:7.2f}",
                    flush=True,
                )
            print(f"(load average after {kind}, {workers} process(es): {_load()})", flush=True)


def _load() -> str:
    """The machine's load averages (1, 5, 15 min): how busy the 2 cores were around a row."""
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
