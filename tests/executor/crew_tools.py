"""Tools of the crews the executor tests run (``tools: [crew_tools:<name>]``)."""

from __future__ import annotations

import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CALLS: list[str] = []  # every real call, so a test can tell a replayed run from a live one
FLOW_METHODS: list[str] = []  # every crew_flows method that really ran, in order


def read_notes(name: str) -> str:
    """Read a notes file beside this module."""
    CALLS.append("read_notes")
    return (HERE / name).read_text()


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    CALLS.append("multiply")
    return a * b


def wait_a_bit(seconds: float) -> str:
    """Sleep, then say so (a task long enough to pause or cancel)."""
    time.sleep(seconds)
    return f"waited {seconds} s"
