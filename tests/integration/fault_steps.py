"""Sync steps whose side effects say who ran them when: ``key step start|end pid time``.

Each line is one ``os.write`` to a file opened with ``O_APPEND``, so lines of concurrent
workers never interleave. The fault tests read them back to count re-runs and to find
a step of one execution running on two workers at once.
"""

from __future__ import annotations

import os
import time
from typing import Any


def _line(state: dict[str, Any], step: str, what: str) -> None:
    fd = os.open(state["effects"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{state['run_key']} {step} {what} {os.getpid()} {time.time():.4f}\n".encode())
    finally:
        os.close(fd)


def effect(state: dict[str, Any], step: str) -> dict[str, Any]:
    _line(state, step, "start")
    time.sleep(float(state.get("sleep_s", 0.2)))
    _line(state, step, "end")
    return {"done": state.get("done", 0) + 1}


def s0(state: dict[str, Any]) -> dict[str, Any]:
    return effect(state, "s0")


def s1(state: dict[str, Any]) -> dict[str, Any]:
    return effect(state, "s1")


def s2(state: dict[str, Any]) -> dict[str, Any]:
    return effect(state, "s2")


def s3(state: dict[str, Any]) -> dict[str, Any]:
    return effect(state, "s3")


def s4(state: dict[str, Any]) -> dict[str, Any]:
    return effect(state, "s4")
