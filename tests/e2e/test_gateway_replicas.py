"""Two ``omium serve`` replicas over one Kafka log answer as one: stateless gateways."""

from __future__ import annotations

import itertools
import subprocess
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from gateway_process import FLOW, STEPS, cli, free_port, omium, sse, wait_ready


@pytest.fixture(scope="module")
def replicas(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    home = tmp_path_factory.mktemp("replicas")
    folder = home / "workflows"
    folder.mkdir()
    (folder / "flow_steps.py").write_text(STEPS.read_text())
    (folder / "flow.yaml").write_text(FLOW)
    url = f"kafka://{kafka_bootstrap}?topic_prefix={uuid.uuid4().hex[:10]}.&timeout=20"
    created = cli("topics", "create", "--url", url, home=home)
    assert created.returncode == 0, created.stderr
    ports = [free_port(), free_port()]
    procs = [omium("worker", "--url", url, "--workflows", str(folder), home=home)]
    for i, port in enumerate(ports):
        (home / f"r{i}").mkdir()
        procs.append(omium("serve", "--port", str(port), "--url", url, home=home / f"r{i}"))
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        for base in bases:
            wait_ready(base, procs, home)
        with (
            httpx.Client(base_url=bases[0], timeout=30) as a,
            httpx.Client(base_url=bases[1], timeout=30) as b,
        ):
            yield a, b
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                proc.kill()


def until(client: httpx.Client, path: str, check, timeout: float = 90) -> dict:  # type: ignore[no-untyped-def, type-arg]
    deadline = time.monotonic() + timeout
    while True:
        got = client.get(path)
        if got.status_code == 200 and check(got.json()):
            return got.json()  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, got.text
        time.sleep(0.2)


@pytest.mark.timeout(300)
def test_submitted_to_one__followed_paused_and_rolled_back_through_the_other(
    replicas: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = replicas
    body = {"workflow": "gw-flow", "execution_id": "rep-1", "inputs": {"slow_s": 4}}
    assert a.post("/api/v1/executions", json=body).status_code == 202
    until(b, "/api/v1/executions/rep-1", lambda v: v["status"] in ("running", "queued"))
    with b.stream("GET", "/api/v1/executions/rep-1/stream") as stream:
        for _, kind, data in sse(stream):
            if kind == "step.started" and data["event"]["payload"]["step"] == "wait":
                break
    assert b.post("/api/v1/executions/rep-1/pause").status_code == 202
    until(a, "/api/v1/executions/rep-1", lambda v: v["status"] == "paused")
    assert a.post("/api/v1/executions/rep-1/resume").status_code == 202
    until(b, "/api/v1/executions/rep-1", lambda v: v["status"] == "completed")
    rolled = a.post(
        "/api/v1/executions/rep-1/rollback", json={"checkpoint": "a1-0-add", "set": {"total": 10}}
    )
    assert rolled.status_code == 202, rolled.text
    done = until(
        b, "/api/v1/executions/rep-1", lambda v: v["attempt"] == 2 and v["status"] == "completed"
    )
    assert done["output"]["total"] == 20
    # both replicas answer the same, from the projections (never their own memory)
    for path in ("/api/v1/executions/rep-1", "/api/v1/executions/rep-1/checkpoints"):
        assert a.get(path).json() == b.get(path).json()
    with (
        a.stream("GET", "/api/v1/executions/rep-1/stream") as sa,
        b.stream("GET", "/api/v1/executions/rep-1/stream") as sb,
    ):
        assert [m[0] for m in sse(sa)] == [m[0] for m in itertools.islice(sse(sb), 10_000)]
