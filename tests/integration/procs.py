"""Helpers for tests that run omium or faust workers as subprocesses writing to a log file."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import pytest


def tail(log_file: Path, lines: int = 60) -> str:
    """The last lines of a worker's log."""
    return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])


async def wait_for_line(
    log_file: Path, proc: subprocess.Popen[bytes], text: str, timeout: float = 60
) -> None:
    """Wait until ``text`` appears in ``log_file``; fail if the process exits first."""
    deadline = time.monotonic() + timeout
    while text not in log_file.read_text(errors="replace"):
        if proc.poll() is not None:
            pytest.fail(f"worker exited ({proc.returncode}):\n{tail(log_file)}")
        if time.monotonic() > deadline:
            pytest.fail(f"worker never logged {text!r}:\n{tail(log_file)}")
        await asyncio.sleep(0.2)
