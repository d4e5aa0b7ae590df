"""Test support: a real ``omium serve`` (and ``omium worker``) process over a fresh log.

The gateway is tested over HTTP with httpx, as a client program would use it; nothing of
it is imported in-process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

CLI = "import sys; from omium.cli import main; sys.exit(main(sys.argv[1:]))"
STEPS = Path(__file__).resolve().parents[1] / "executor" / "flow_steps.py"
FLOW = """
name: gw-flow
inputs: {total: 1, slow_s: 0.05}
steps:
  - {name: add, call: flow_steps:add}
  - {name: wait, call: flow_steps:slow}
  - {name: double, call: flow_steps:double}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def omium(*argv: str, home: Path) -> subprocess.Popen[bytes]:
    """``omium ARGV`` in a child process, its output in files under ``home``."""
    name = argv[0]
    env = {**os.environ, "OMIUM_HOME": str(home)}
    with open(home / f"{name}.out", "wb") as out:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-c", CLI, *argv], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def cli(*argv: str, home: Path) -> subprocess.CompletedProcess[str]:
    """``omium ARGV`` to its end."""
    env = {**os.environ, "OMIUM_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-c", CLI, *argv], env=env, capture_output=True, text=True, timeout=120
    )


@dataclass
class Gateway:
    """A running ``omium serve`` with a worker, over the log ``log_url``."""

    base: str
    log_url: str
    home: Path
    flow: Path
    client: httpx.Client

    def submit(self, execution_id: str, **inputs: object) -> dict:  # type: ignore[type-arg]
        """``POST /api/v1/executions`` of the registered ``gw-flow``."""
        body = {"workflow": "gw-flow", "execution_id": execution_id, "inputs": inputs}
        got = self.client.post("/api/v1/executions", json=body)
        assert got.status_code == 202, got.text
        return got.json()  # type: ignore[no-any-return]

    def wait(self, execution_id: str, check: Callable[[dict], bool], timeout: float = 60) -> dict:  # type: ignore[type-arg]
        """Poll ``GET /executions/{id}`` until ``check`` holds for its body."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.client.get(f"/api/v1/executions/{execution_id}")
            body = got.json()
            if got.status_code == 200 and check(body):
                return body  # type: ignore[no-any-return]
            assert time.monotonic() < deadline, f"timed out; last answer {got.status_code} {body}"
            time.sleep(0.1)


def wait_ready(base: str, procs: list[subprocess.Popen[bytes]], home: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        for proc in procs:
            if proc.poll() is not None:
                logs = "\n".join(p.read_text() for p in home.glob("*.out"))
                pytest.fail(f"a child exited ({proc.returncode}):\n{logs}")
        try:
            if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "omium serve was not ready within 120 s"
        time.sleep(0.25)
