"""LLM and tool calls that are recorded when a run records, and answered from the log on replay.

Agent code wraps each call to a model or a tool::

    answer = await llm_call("gpt-4o", {"messages": msgs}, lambda: client.chat(msgs))
    rows = await tool_call("search", {"q": q}, lambda: search(q))

What happens depends on the :class:`CallSink` current in the context:

- in a step run by the executor: the call goes to the provider, and an ``llm.call`` /
  ``tool.call`` event records the request, the response and the latency (with the step's
  other events, in order);
- inside :func:`~omium.producers.recording`: the same, recorded on that recording;
- when omium re-executes a run (``omium replay --reexecute``): the provider is not called;
  the recorded response is returned, and a request that differs from the recorded one is
  a divergence, reported with both sides;
- anywhere else: the function is called, nothing is recorded.

Tokens are read from the response when it carries a ``usage`` object (``input_tokens`` /
``output_tokens``, or ``prompt_tokens`` / ``completion_tokens``).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

from omium.producers.pricing import cost_usd
from omium.producers.sdk import _current

Call = Callable[[], Any]


class CallSink(Protocol):
    """Where a wrapped call goes: records it, or answers it from a recording."""

    async def call(self, kind: str, name: str, request: Any, fn: Call, **extra: Any) -> Any:
        """Return the call's response (``kind`` is ``llm`` or ``tool``)."""
        ...


_sink: ContextVar[CallSink | None] = ContextVar("omium_call_sink", default=None)
#: the loop the sink lives on, for calls made from threads (sync framework code)
_loop: ContextVar[asyncio.AbstractEventLoop | None] = ContextVar("omium_call_loop", default=None)

#: seconds a call from a thread waits for the sink (the provider's own timeouts come first)
SYNC_CALL_TIMEOUT = 900.0


@contextmanager
def calls_to(sink: CallSink) -> Iterator[None]:
    """Send the wrapped calls made inside to ``sink`` (also those made from threads)."""
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    token, loop_token = _sink.set(sink), _loop.set(loop)
    try:
        yield
    finally:
        _sink.reset(token)
        _loop.reset(loop_token)


async def invoke(fn: Call) -> Any:
    """Call ``fn``, awaiting its result if it is awaitable."""
    result = fn()
    if inspect.isawaitable(result):
        result = await result
    return result


def usage_of(response: Any) -> tuple[int, int]:
    """``(input_tokens, output_tokens)`` from a response's ``usage``, else zeros."""
    usage = response.get("usage") if isinstance(response, dict) else None
    if not isinstance(usage, dict):
        return 0, 0
    tokens_in = usage.get("input_tokens", usage.get("prompt_tokens", 0))
    tokens_out = usage.get("output_tokens", usage.get("completion_tokens", 0))
    return int(tokens_in or 0), int(tokens_out or 0)


def call_payload(
    kind: str, name: str, request: Any, response: Any, latency_ms: float, **extra: Any
) -> tuple[str, dict[str, Any]]:
    """The event type and payload that record one call."""
    if kind == "llm":
        tokens_in, tokens_out = usage_of(response)
        payload = {
            "model": name,
            "request": request,
            "response": response,
            "latency_ms": latency_ms,
            "input_tokens": tokens_in,
            "output_tokens": tokens_out,
            "cost_usd": cost_usd(name, tokens_in, tokens_out),
            **extra,
        }
        return "llm.call", payload
    payload = {"tool": name, "arguments": request, "result": response, "latency_ms": latency_ms}
    return "tool.call", {**payload, **extra}


class RecordingSink:
    """Calls the provider and hands the record to ``record`` (type, payload)."""

    def __init__(self, record: Callable[[str, dict[str, Any]], Awaitable[None]]) -> None:
        self.record = record

    async def call(self, kind: str, name: str, request: Any, fn: Call, **extra: Any) -> Any:
        """See :class:`CallSink`."""
        began = time.perf_counter()
        response = await invoke(fn)
        latency = (time.perf_counter() - began) * 1000
        await self.record(*call_payload(kind, name, request, response, latency, **extra))
        return response


async def _call(kind: str, name: str, request: Any, fn: Call, **extra: Any) -> Any:
    sink = _sink.get()
    if sink is None and _current.get() is not None:
        recorder = _current.get()
        assert recorder is not None

        async def record(event_type: str, payload: dict[str, Any]) -> None:
            await recorder.emit(event_type, **payload)

        sink = RecordingSink(record)
    if sink is None:
        return await invoke(fn)
    return await sink.call(kind, name, request, fn, **extra)


async def llm_call(
    model: str, request: Any, fn: Call, *, provider: str | None = None, agent: str | None = None
) -> Any:
    """Call a language model through ``fn`` (see the module docs); returns its response."""
    extra = {k: v for k, v in (("provider", provider), ("agent", agent)) if v is not None}
    return await _call("llm", model, request, fn, **extra)


async def tool_call(tool: str, arguments: Any, fn: Call, *, agent: str | None = None) -> Any:
    """Call a tool through ``fn`` (see the module docs); returns its result."""
    return await _call("tool", tool, arguments, fn, **({"agent": agent} if agent else {}))


def call_sync(kind: str, name: str, request: Any, fn: Call, **extra: Any) -> Any:
    """:func:`llm_call` / :func:`tool_call` for sync code running on a worker thread.

    The call goes to the sink on its event loop (``fn`` then runs on a thread of that loop),
    so sync framework code (a sync LangGraph node, a CrewAI agent) records and replays its
    calls like async code does.

    Raises:
        RuntimeError: called on the event loop's own thread, where waiting would deadlock.
    """
    sink, loop = _sink.get(), _loop.get()
    if sink is None or loop is None:
        return fn()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        raise RuntimeError(
            f"a sync {kind} call ({name}) on the event loop's thread would block it; "
            "use `await llm_call(...)` / `await tool_call(...)` (or the model's ainvoke)"
        )

    def threaded() -> Any:
        return asyncio.to_thread(fn)

    future = asyncio.run_coroutine_threadsafe(
        sink.call(kind, name, request, threaded, **extra), loop
    )
    return future.result(SYNC_CALL_TIMEOUT)
