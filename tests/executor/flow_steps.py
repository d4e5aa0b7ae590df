"""Step functions the executor tests run (imported by module:function from workflow specs)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

# execution id -> tries so far, for steps that fail a given number of times
TRIES: dict[str, int] = {}


def add(state: dict[str, Any]) -> dict[str, Any]:
    return {"total": state.get("total", 0) + state.get("step_value", 1), "added": True}


def double(state: dict[str, Any]) -> dict[str, Any]:
    return {"total": state["total"] * 2}


async def async_inc(state: dict[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"total": state["total"] + 1}


def nothing(state: dict[str, Any]) -> None:
    return None


async def slow(state: dict[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(float(state.get("slow_s", 0.3)))
    return {"slow_done": state.get("slow_done", 0) + 1}


def slow_sync(state: dict[str, Any]) -> dict[str, Any]:
    time.sleep(float(state.get("slow_s", 0.3)))
    return {"slow_done": state.get("slow_done", 0) + 1}


def flaky(state: dict[str, Any]) -> dict[str, Any]:
    """Fails ``fail_times`` times per execution, then succeeds."""
    key = state["run_key"]
    TRIES[key] = TRIES.get(key, 0) + 1
    if TRIES[key] <= int(state["fail_times"]):
        raise ConnectionError(f"flaky service refused try {TRIES[key]}")
    return {"flaky_tries": TRIES[key]}


def boom(state: dict[str, Any]) -> dict[str, Any]:
    raise ValueError("boom: the input was wrong")


def not_json(state: dict[str, Any]) -> dict[str, Any]:
    return {"when": object()}


def not_finite(state: dict[str, Any]) -> dict[str, Any]:
    return {"ok": 1, "scores": [0.5, float("nan")]}


def mark(state: dict[str, Any]) -> dict[str, Any]:
    """Appends a line to a file per run of this step (counts re-runs across processes)."""
    path = Path(state["marks"])
    with path.open("a") as f:
        f.write(f"{state['name']}\n")
    return {"marked": state.get("marked", 0) + 1}


async def slow_then_mark(state: dict[str, Any]) -> dict[str, Any]:
    """Appends ``time.monotonic()`` to ``marks`` as it starts, then takes ``slow_s`` s."""
    with Path(state["marks"]).open("a") as f:
        f.write(f"{time.monotonic()}\n")
    await asyncio.sleep(float(state.get("slow_s", 0.3)))
    return {"marked": state.get("marked", 0) + 1}


def wrong_signature(a: int, b: int) -> None:
    return None


def big_output(state: dict[str, Any]) -> dict[str, Any]:
    return {"blob": "x" * (2 << 20)}


def big_part(state: dict[str, Any]) -> dict[str, Any]:
    """``part<n>``: ``kib`` KiB of text (the n-th such part of the state)."""
    n = sum(key.startswith("part") for key in state)
    return {f"part{n}": "x" * (int(state.get("kib", 600)) << 10)}


def exits(state: dict[str, Any]) -> dict[str, Any]:
    raise SystemExit(3)


async def ask(state: dict[str, Any]) -> dict[str, Any]:
    """One scripted LLM call and one tool call; each real call appends to ``calls_file``."""
    from omium.producers import llm_call, tool_call

    calls = Path(state["calls_file"])
    suffix = Path(state["suffix_file"]).read_text() if "suffix_file" in state else ""

    def provider() -> dict[str, Any]:
        with calls.open("a") as f:
            f.write("llm\n")
        return {
            "answer": state["question"].upper(),
            "usage": {"input_tokens": 7, "output_tokens": 3},
        }

    def count() -> int:
        with calls.open("a") as f:
            f.write("tool\n")
        return len(state["question"])

    reply = await llm_call("scripted", {"q": state["question"] + suffix}, provider)
    length = await tool_call("count", {"text": state["question"]}, count)
    return {"answer": reply["answer"], "length": length}


async def busy_then_count(state: dict[str, Any]) -> dict[str, Any]:
    """Keep the event loop busy (no await), then count this run's records on disk."""
    until = time.perf_counter() + float(state["busy_ms"]) / 1000
    while time.perf_counter() < until:
        pass
    with sqlite3.connect(state["log_path"]) as db:
        [(count,)] = db.execute("SELECT count(*) FROM records WHERE key = ?", (state["run_key"],))
    return {"seen": [*state.get("seen", []), count]}


async def priced_call(state: dict[str, Any]) -> dict[str, Any]:
    """One call to a model named like a priced one, with the usage a provider reports."""
    from omium.producers import llm_call

    def provider() -> dict[str, Any]:
        return {"text": "ok", "usage": {"prompt_tokens": 12_000, "completion_tokens": 800}}

    reply = await llm_call("gpt-4o-mini", {"q": "price me"}, provider)
    return {"answer": reply["text"]}


async def gate(state: dict[str, Any]) -> dict[str, Any]:
    """Waits until the test creates ``gate_file``: the run is held mid-way, not slept."""
    gate_file = Path(state["gate_file"])
    while not gate_file.exists():
        await asyncio.sleep(0.02)
    return {"gated": True}


def timed_sync(state: dict[str, Any]) -> dict[str, Any]:
    """Sleeps ``slow_s`` on its thread, noting when each try began and ended."""
    path = Path(state["marks"])
    with path.open("a") as f:
        f.write(f"begin {time.monotonic()}\n")
    time.sleep(float(state["slow_s"]))
    with path.open("a") as f:
        f.write(f"end {time.monotonic()}\n")
    return {}


async def tick_busy(state: dict[str, Any]) -> dict[str, Any]:
    """Keeps the event loop busy ``busy_ms`` (no await), then notes its side effect."""
    until = time.perf_counter() + float(state["busy_ms"]) / 1000
    while time.perf_counter() < until:
        pass
    return _noted(state)


async def tick_await(state: dict[str, Any]) -> dict[str, Any]:
    """Awaits ``busy_ms``, then notes its side effect."""
    await asyncio.sleep(float(state["busy_ms"]) / 1000)
    return _noted(state)


def tick_sync(state: dict[str, Any]) -> dict[str, Any]:
    """Sleeps ``busy_ms`` on its thread, then notes its side effect."""
    time.sleep(float(state["busy_ms"]) / 1000)
    return _noted(state)


def _noted(state: dict[str, Any]) -> dict[str, Any]:
    """The side effect: ``<run>:<step index> <wall time>`` appended to ``effects``."""
    i = int(state.get("i", 0))
    with Path(state["effects"]).open("a") as out:
        out.write(f"{state['run_key']}:{i} {time.time()}\n")
    return {"i": i + 1}
