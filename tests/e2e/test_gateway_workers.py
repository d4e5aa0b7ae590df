"""``omium serve --workers 2``: two gateway processes on one port answer as one.

Each process is a stateless replica (its own log client, view reader and copies of the
keys and the registry); a client's connections land on either. Every connection here is
new, so the requests of one run are spread over both processes.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gateway_process import FLOW, STEPS, cli, free_port, omium, sse, wait_ready

RUNS = 8


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2 :].split()[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.fixture(scope="module", params=["sqlite-file", "kafka"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, int]]:
    """``omium serve --workers 2`` and a worker: the base URL and the server's pid."""
    home = tmp_path_factory.mktemp("workers")
    if request.param == "kafka":
        bootstrap = request.getfixturevalue("kafka_bootstrap")
        url = f"kafka://{bootstrap}?topic_prefix={uuid.uuid4().hex[:10]}.&timeout=20"
    else:
        url = f"sqlite:///{home / 'log.db'}"
    folder = home / "workflows"
    folder.mkdir()
    (folder / "flow_steps.py").write_text(STEPS.read_text())
    (folder / "flow.yaml").write_text(FLOW)
    created = cli("topics", "create", "--url", url, home=home)
    assert created.returncode == 0, created.stderr
    port = free_port()
    worker = omium("worker", "--url", url, "--workflows", str(folder), home=home)
    serve = omium("serve", "--port", str(port), "--url", url, "--workers", "2", home=home)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, [worker, serve], home)
        yield base, serve.pid
    finally:
        for proc in (serve, worker):
            proc.terminate()
        for proc in (serve, worker):
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_workers__runs_submitted_followed_and_read_over_new_connections(
    served: tuple[str, int],
) -> None:
    base, pid = served
    assert len(children(pid)) >= 2  # uvicorn's processes (its spawn helper may be one more)
    prefix = f"wk-{uuid.uuid4().hex[:6]}"
    ids = [f"{prefix}-{i}" for i in range(RUNS)]
    for execution_id in ids:
        body = {"workflow": "gw-flow", "execution_id": execution_id, "inputs": {"total": 3}}
        got = httpx.post(f"{base}/api/v1/executions", json=body, timeout=30)
        assert got.status_code == 202, got.text
        # read at once through another connection: the view is there, whichever process
        seen = httpx.get(f"{base}/api/v1/executions/{execution_id}", timeout=30)
        assert seen.status_code == 200, seen.text
    for execution_id in ids:
        with httpx.stream(
            "GET", f"{base}/api/v1/executions/{execution_id}/stream", timeout=60
        ) as stream:
            streamed = [m[0] for m in sse(stream)]
        events = httpx.get(f"{base}/api/v1/executions/{execution_id}/events", timeout=30).json()
        assert streamed == [e["position"]["offset"] for e in events]
        assert events[-1]["event"]["type"] == "execution.completed"
        view = httpx.get(f"{base}/api/v1/executions/{execution_id}", timeout=30).json()
        assert view["status"] == "completed" and view["output"]["total"] == 8
    again = httpx.post(
        f"{base}/api/v1/executions",
        json={"workflow": "gw-flow", "execution_id": ids[0], "inputs": {"total": 4}},
        timeout=30,
    )
    assert again.status_code == 409  # a reused id is refused by whichever process
