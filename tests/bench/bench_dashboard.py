"""Server time of the dashboard's execution page for a run of 1,000 steps over 3 attempts.

A real run, recorded by a real ``omium worker`` on the embedded log: a workflow of 400
steps; a rollback to its 100th step's checkpoint (attempt 2 runs the 300 after it), then
the same again (attempt 3): 1,000 steps, 1,000 checkpoints, two branch points. The gateway
app is then served in this process over the same log and asked, through an in-process ASGI
transport (no socket, so this is the server's time), alternately for:

- ``GET /executions/{id}`` — the dashboard's page (header, the SVG timeline of 1,000 bars,
  the 1,000 checkpoints' rows), the number the issue bounds (≤ 300 ms);
- ``GET /ui/executions/{id}/live`` — what the page refetches while the run goes on;
- ``GET /api/v1/executions/{id}`` — the JSON of the same execution, the floor: the same
  projection read and response model, no HTML.

With ``--calls`` every step also makes one (scripted) LLM call and one tool call, which the
timeline draws as marks on the step's bar: 2,000 marks more to read from the log and draw.

Prints median and p99 of each (wall time) and the page/JSON ratio, and the median CPU time
of this process per request — what the request cost, however loaded the machine is (other
processes' tests inflate wall time on a shared 2-core machine, not CPU time). Asserts
nothing about time.

``--list N`` measures the executions list instead: N executions' views written straight into
the view store of a fresh embedded log (each with 4 steps), then ``GET /ui/rows`` (what the
list refetches every 2 s: a page of 25 and the counts by status), against the counts as
they were read before (every view decoded and counted) and as they are now (the view
store's ``(tenant, status)`` index).

usage: python tests/bench/bench_dashboard.py [--requests 200] [--steps 400] [--calls]
       python tests/bench/bench_dashboard.py --list 100000 [--requests 50]
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
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from omium.gateway.app import create_app
from omium.processors.view_store import SqliteViews, store_path_for
from omium.projections import ExecutionView, StepView

CLI = "import sys; from omium.cli import main; sys.exit(main(sys.argv[1:]))"
STEPS = Path(__file__).resolve().parent / "bench_steps.py"
EXECUTION = "bench-1000"
#: the step of ``--calls``: one LLM call and one tool call, answered in-process
CALLING = """
from omium.producers import llm_call, tool_call


async def tick(state):
    n = state.get("n", 0)
    usage = {"input_tokens": 12, "output_tokens": 3}
    await llm_call("bench-model", {"n": n}, lambda: {"text": "ok", "usage": usage})
    await tool_call("bench-tool", {"n": n}, lambda: {"ok": True})
    return {"n": n + 1}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def record(home: Path, url: str, steps: int, fork: int, calls: bool) -> None:
    """Run the workflow, then roll back twice to step ``fork``: a worker and a gateway."""
    folder = home / "workflows"
    folder.mkdir(parents=True)
    (folder / "bench_steps.py").write_text(CALLING if calls else STEPS.read_text())
    lines = [f"  - {{name: s{i}, call: bench_steps:tick}}" for i in range(steps)]
    (folder / "flow.yaml").write_text("name: bench-long\nsteps:\n" + "\n".join(lines) + "\n")
    env = {**os.environ, "OMIUM_HOME": str(home), "OMIUM_API_RATE": "1e9", "OMIUM_API_BURST": "1e9"}
    run = [sys.executable, "-c", CLI]
    subprocess.run(
        [*run, "topics", "create", "--url", url], env=env, check=True, capture_output=True
    )
    port = free_port()
    quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [
        subprocess.Popen([*run, "worker", "--url", url, "--workflows", str(folder)], **quiet),  # type: ignore[call-overload]
        subprocess.Popen([*run, "serve", "--port", str(port), "--url", url], **quiet),  # type: ignore[call-overload]
    ]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as api:
            ready(api)
            body = {"workflow": "bench-long", "execution_id": EXECUTION}
            assert api.post("/api/v1/executions", json=body).status_code == 202
            wait(api, 1)
            for attempt in (2, 3):
                checkpoint = f"a1-{fork}-s{fork}"  # both branch from attempt 1
                got = api.post(
                    f"/api/v1/executions/{EXECUTION}/rollback", json={"checkpoint": checkpoint}
                )
                assert got.status_code == 202, got.text
                wait(api, attempt)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(40)


def ready(api: httpx.Client) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if api.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("omium serve was not ready in 120 s")
        time.sleep(0.25)


def wait(api: httpx.Client, attempt: int) -> None:
    deadline = time.monotonic() + 600
    while True:
        view = api.get(f"/api/v1/executions/{EXECUTION}").json()
        if view.get("attempt") == attempt and view.get("status") == "completed":
            print(f"attempt {attempt}: {len(view['steps'])} steps recorded", file=sys.stderr)
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"attempt {attempt} did not complete in 600 s: {view}")
        time.sleep(0.5)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(url: str, requests: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Time each route ``requests`` times, interleaved, in-process (ms)."""
    app = create_app(url)
    routes = {
        "page": f"/executions/{EXECUTION}",
        "live": f"/ui/executions/{EXECUTION}/live",
        "json": f"/api/v1/executions/{EXECUTION}",
    }
    times: dict[str, list[float]] = {name: [] for name in routes}
    cpu: dict[str, list[float]] = {name: [] for name in routes}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for path in routes.values():  # warm: the reader opens on first use
                assert (await client.get(path)).status_code == 200
            page = await client.get(routes["page"])
            bars = page.text.count('<g class="bar')
            marks = page.text.count('class="mark')
            print(f"page: {len(page.content):,} bytes, {bars} bars, {marks} marks", file=sys.stderr)
            for _ in range(requests):
                for name, path in routes.items():
                    started, used = time.perf_counter(), time.process_time()
                    got = await client.get(path)
                    times[name].append((time.perf_counter() - started) * 1000)
                    cpu[name].append((time.process_time() - used) * 1000)
                    assert got.status_code == 200, got.text[:200]
    return times, cpu


def seed(home: Path, url: str, count: int) -> None:
    """``count`` views of 4 steps each, in the view store beside the log (no events)."""
    env = {**os.environ, "OMIUM_HOME": str(home)}
    subprocess.run(
        [sys.executable, "-c", CLI, "topics", "create", "--url", url],
        env=env,
        check=True,
        capture_output=True,
    )
    store = SqliteViews(store_path_for(str(home / "log.db")))
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    statuses = ["completed"] * 7 + ["failed", "running", "waiting"]
    for first in range(0, count, 10_000):
        views = {}
        for i in range(first, min(first + 10_000, count)):
            at = t0 + timedelta(seconds=i)
            steps = {
                (1, k): StepView(f"s{k}", k, 1, "completed", k + 2, 0, at, at, None, 1.0)
                for k in range(4)
            }
            views[f"ex-{i:07d}"] = ExecutionView(
                f"ex-{i:07d}",
                workflow="w",
                status=statuses[i % 10],
                step_map=steps,
                submitted_at=at,
                tenant_id="default",
            )
        with store.transaction():
            store.save(views, {})
    store.close()


async def measure_list(url: str, home: Path, requests: int) -> dict[str, list[float]]:
    """``GET /ui/rows``, and the counts read the old way and the new way (ms)."""
    app = create_app(url)
    store = SqliteViews(store_path_for(str(home / "log.db")))
    times: dict[str, list[float]] = {"rows": [], "before": [], "after": []}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            assert (await client.get("/ui/rows")).status_code == 200
            for _ in range(requests):
                started = time.perf_counter()
                got = await client.get("/ui/rows")
                times["rows"].append((time.perf_counter() - started) * 1000)
                assert got.status_code == 200, got.text[:200]
                started = time.perf_counter()
                Counter(v.status for v in store.all() if v.tenant_id == "default")
                times["before"].append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                store.counts("default")
                times["after"].append((time.perf_counter() - started) * 1000)
    store.close()
    return times


def main_list(count: int, requests: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        url = f"sqlite:///{home / 'log.db'}"
        seed(home, url, count)
        os.environ["OMIUM_HOME"] = str(home)
        times = asyncio.run(measure_list(url, home, requests))
    print(f"\n{count:,} executions in the view store, {requests} requests each\n")
    print(f"| {'request':<44} | {'median ms':>9} | {'p99 ms':>7} |")
    print(f"|{'-' * 46}|{'-' * 11}|{'-' * 9}|")
    labels = {
        "rows": "GET /ui/rows (a page of 25 and the counts)",
        "before": "counts, before: every view decoded",
        "after": "counts, now: the (tenant, status) index",
    }
    for name, label in labels.items():
        found = times[name]
        print(f"| {label:<44} | {statistics.median(found):>9.1f} | {pct(found, 0.99):>7.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--steps", type=int, default=400, help="steps of attempt 1")
    parser.add_argument(
        "--calls", action="store_true", help="each step makes an LLM call and a tool call"
    )
    parser.add_argument("--list", type=int, help="measure the list over this many executions")
    parser.add_argument("--keep", type=Path, help="record into this new folder and keep it")
    parser.add_argument("--reuse", type=Path, help="measure the run a --keep folder holds")
    args = parser.parse_args()
    if args.list:
        main_list(args.list, args.requests)
        return
    fork = args.steps // 4 - 1  # attempts 2 and 3 each run the last 3/4 of the steps
    with tempfile.TemporaryDirectory() as tmp:
        home = args.reuse or args.keep or Path(tmp)
        url = f"sqlite:///{home / 'log.db'}"
        if args.reuse is None:
            record(home, url, args.steps, fork, args.calls)
        os.environ["OMIUM_HOME"] = str(home)
        times, cpu = asyncio.run(measure(url, args.requests))
    floor = statistics.median(times["json"])
    print(
        f"\n{args.steps + 2 * (args.steps - fork - 1):,} steps over 3 attempts, "
        f"{args.requests} requests each, in-process (server time)\n"
    )
    print(
        f"| {'request':<34} | {'median ms':>9} | {'p99 ms':>7} | {'vs JSON':>7} "
        f"| {'CPU median ms':>13} | {'vs JSON':>7} |"
    )
    print(f"|{'-' * 36}|{'-' * 11}|{'-' * 9}|{'-' * 9}|{'-' * 15}|{'-' * 9}|")
    cpu_floor = statistics.median(cpu["json"])
    labels = {
        "page": "GET /executions/{id} (page)",
        "live": "GET /ui/executions/{id}/live",
        "json": "GET /api/v1/executions/{id} (JSON)",
    }
    for name, label in labels.items():
        median, used = statistics.median(times[name]), statistics.median(cpu[name])
        print(
            f"| {label:<34} | {median:>9.1f} | {pct(times[name], 0.99):>7.1f} | "
            f"{median / floor:>6.1f}x | {used:>13.1f} | {used / cpu_floor:>6.1f}x |"
        )


if __name__ == "__main__":
    main()
