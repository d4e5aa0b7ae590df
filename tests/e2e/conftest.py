"""Fixtures of the end-to-end suites (see ``gateway_process``)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import httpx
import pytest
from gateway_process import FLOW, STEPS, Gateway, cli, free_port, omium, wait_ready


@pytest.fixture(scope="module", params=["sqlite-file", "kafka"])
def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """``omium serve`` and ``omium worker`` on a fresh log of each runtime (one per module:
    starting them takes seconds; the tests use execution ids of their own).
    """
    tmp_path = tmp_path_factory.mktemp("gateway")
    if request.param == "kafka":
        bootstrap = request.getfixturevalue("kafka_bootstrap")
        url = f"kafka://{bootstrap}?topic_prefix={uuid.uuid4().hex[:10]}.&timeout=20"
    else:
        url = f"sqlite:///{tmp_path / 'log.db'}"
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "flow_steps.py").write_text(STEPS.read_text())
    flow = folder / "flow.yaml"
    flow.write_text(FLOW)
    created = cli("topics", "create", "--url", url, home=tmp_path)
    assert created.returncode == 0, created.stderr
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    worker = omium("worker", "--url", url, "--workflows", str(folder), home=tmp_path)
    serve = omium("serve", "--port", str(port), "--url", url, home=tmp_path)
    try:
        wait_ready(base, [worker, serve], tmp_path)
        with httpx.Client(base_url=base, timeout=30) as client:
            yield Gateway(base, url, tmp_path, flow, client)
    finally:
        for proc in (serve, worker):
            proc.terminate()
        for proc in (serve, worker):
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                proc.kill()
