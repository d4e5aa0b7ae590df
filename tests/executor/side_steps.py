"""Steps with a visible side effect: each appends ``<execution>:<step>`` to a file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def effect(state: dict[str, Any], name: str) -> dict[str, Any]:
    """The side effect first (a call made), then the time the step takes."""
    with Path(state["effects"]).open("a") as out:
        out.write(f"{state['run_key']}:{name}\n")
    time.sleep(float(state.get("sleep_s", 0)))
    return {"done": state.get("done", 0) + 1}


def s0(state: dict[str, Any]) -> dict[str, Any]:
    return effect(state, "s0")


def s1(state: dict[str, Any]) -> dict[str, Any]:
    return effect(state, "s1")


def s2(state: dict[str, Any]) -> dict[str, Any]:
    return effect(state, "s2")


def s3(state: dict[str, Any]) -> dict[str, Any]:
    return effect(state, "s3")
