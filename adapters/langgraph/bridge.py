"""Calling the saver's coroutines from sync code and from other event loops, with timeouts.

EventLog adapters are asyncio objects bound to the loop they run on. The saver runs every
log operation (and every change to its index) on that one loop: awaited directly when the
caller is on it, handed over with ``run_coroutine_threadsafe`` otherwise. LangGraph calls
the sync methods from its worker threads (``graph.invoke``), which is fine; a sync call on
the loop's own thread would wait for itself and is refused with an actionable error.
Waits across threads end after the saver's ``timeout``; on its own loop a call is awaited
in place and bounded by the log's timeouts.

The embedded SQLite log is the exception: its coroutines do their work synchronously and
never wait on the loop. A saver that owns one (``from_url``) runs calls through an
:class:`InlineBridge` instead: on the caller's own thread, one at a time under a lock. A
thread hop costs about 65 µs of CPU each way round (context switches, GIL hand-offs),
more than the SQLite write itself, and LangGraph makes two calls per superstep.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

from omium.schemas import LogUnavailable, OmiumError, SyncCallOnLogLoop

T = TypeVar("T")
Factory = Callable[[], Coroutine[Any, Any, T]]


class LoopThread:
    """An event loop running forever on a daemon thread of its own."""

    def __init__(self, name: str = "omium-saver-log") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop (tasks still running are cancelled) and wait for the thread."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)


class Bridge:
    """Runs coroutines on ``loop`` for callers anywhere; every wait ends after ``timeout`` s."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.loop = loop
        self.timeout = timeout

    def call(self, method: str, factory: Factory[T]) -> T:
        """Run ``factory()`` on the loop and wait for it (from a thread not running it)."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            raise _on_log_loop(method)
        self._check_alive()
        future = asyncio.run_coroutine_threadsafe(factory(), self.loop)
        try:
            return future.result(self.timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise self._timed_out(method) from None

    async def acall(self, method: str, factory: Factory[T]) -> T:
        """Await ``factory()`` on the loop: directly when already on it, else handed over."""
        if asyncio.get_running_loop() is self.loop:
            # awaited in place: the log's own timeouts bound it (Kafka's timeout, SQLite's
            # busy_timeout); an asyncio.timeout here would cost ~15 µs per call
            return await factory()
        try:
            self._check_alive()
            future = asyncio.run_coroutine_threadsafe(factory(), self.loop)
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except TimeoutError:
            raise self._timed_out(method) from None

    def _check_alive(self) -> None:
        if self.loop.is_closed() or not self.loop.is_running():
            raise OmiumError(
                "the event loop that runs this saver's event log is not running any more",
                hint="build OmiumSaver(log) inside the loop that runs the graph, or use "
                "OmiumSaver.from_url(...), which runs its own loop thread",
            )

    def _timed_out(self, method: str) -> LogUnavailable:
        return LogUnavailable(
            f"OmiumSaver.{method}() did not finish within {self.timeout:g} s",
            hint="the event log is slow or unreachable; check it (omium topics list), "
            "or pass a larger timeout= to OmiumSaver",
        )


class InlineBridge:
    """Runs coroutines that never suspend on the caller's thread, one at a time."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        #: held while a call runs (a write lets go of it while it waits for the log)
        self.lock = threading.Lock()

    def call(self, method: str, factory: Factory[T]) -> T:
        """Run ``factory()`` to completion here (any thread, inside a running loop or not)."""
        if not self.lock.acquire(timeout=self.timeout):
            raise LogUnavailable(
                f"OmiumSaver.{method}() waited over {self.timeout:g} s for the saver's other calls",
                hint="a call is stuck on the event log; check it, or pass a larger timeout=",
            )
        try:
            return drive(factory(), method)
        finally:
            self.lock.release()

    async def acall(self, method: str, factory: Factory[T]) -> T:
        """:meth:`call`, for async callers (the work blocks the loop no longer than it would)."""
        return self.call(method, factory)


def _on_log_loop(method: str) -> SyncCallOnLogLoop:
    return SyncCallOnLogLoop(
        f"OmiumSaver.{method}() was called on the event loop that runs its event log; "
        "waiting there would block the loop the answer has to come from",
        hint=f"use `await saver.a{method}(...)` (graph.ainvoke / astream call it), or "
        "build the saver with OmiumSaver.from_url(...), which runs its own loop thread "
        "so sync calls work from anywhere",
    )


def drive(coroutine: Coroutine[Any, Any, T], method: str = "call") -> T:
    """The result of a coroutine that completes without waiting (the embedded log's)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    coroutine.close()
    raise OmiumError(
        f"OmiumSaver.{method}() ran the event log inline, but the log waited on the loop",
        hint="only the embedded SQLite log runs inline; build the saver with "
        "OmiumSaver(log) inside a running loop for other logs",
    )
