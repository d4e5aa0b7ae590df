"""A worker whose Kafka log stays unreachable past its limit gives up: it says why, stops
its processors child with it, and exits 1 (issue 19). Before the limit it retries.

No broker is needed: the URL names a port nothing listens on.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

CLI = "import sys; from omium.cli import main; sys.exit(main(sys.argv[1:]))"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children(pid: int) -> set[int]:
    found = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if f"\nPPid:\t{pid}\n" in text:
            found.add(int(status.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.timeout(120)
def test_unreachable_log__worker_retries_then_gives_up_and_stops_its_processors(
    tmp_path: Path,
) -> None:
    url = f"kafka://127.0.0.1:{free_port()}?timeout=1"
    out = tmp_path / "worker.log"
    with out.open("wb") as sink:
        worker = subprocess.Popen(
            [sys.executable, "-c", CLI, "worker", "--url", url],
            stdout=sink,
            stderr=sink,
            env={**os.environ, "OMIUM_WORKER_GIVE_UP_AFTER": "8", "OMIUM_HOME": str(tmp_path)},
        )
    seen: set[int] = set()
    started = time.monotonic()
    try:
        while worker.poll() is None and time.monotonic() - started < 90:
            seen |= children(worker.pid)
            time.sleep(0.2)
        took = time.monotonic() - started
    finally:
        worker.kill()
        worker.wait(10)
    text = out.read_text()
    assert worker.returncode == 1, text
    assert "log unavailable" in text, text
    assert "longer than the worker's limit of 8 s" in text, text
    assert 8 <= took < 60, (took, text)
    assert seen, "no processors child was started"
    time.sleep(0.5)
    assert not [pid for pid in seen if alive(pid)], text
