"""Trivial steps for bench_executor.py (resolved as bench_steps:<name>)."""

from typing import Any


async def tick(state: dict[str, Any]) -> dict[str, Any]:
    return {"n": state.get("n", 0) + 1}


def tick_sync(state: dict[str, Any]) -> dict[str, Any]:
    return {"n": state.get("n", 0) + 1}
