"""A value a busy process keeps a copy of, read again in the background when it ages.

The gateway checks every request's API key and resolves every submission's workflow
against ``omium.registry``, a topic it reads whole (one broker round trip or more on
Kafka, about 15 ms). :class:`Refreshed` keeps the last read and decides by its age:

- younger than ``fresh_s``: answered from the copy;
- between ``fresh_s`` and ``max_age_s``: answered from the copy, and one read starts in
  the background (requests never wait for it under steady traffic, so the read does not
  show in the latency of the requests that happen to cross ``fresh_s``);
- older than ``max_age_s`` (or never read): the request waits for the read (shared by
  every request waiting at the same time).

So an answer is never older than ``max_age_s`` plus one read. :meth:`put` stores what
the process itself just read after writing (its own registration is seen at once), and
a read that started before it never overwrites it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")

logger = logging.getLogger(__name__)


class Refreshed(Generic[T]):
    """The newest read of ``read()``, at most ``max_age_s`` old (see the module)."""

    def __init__(
        self,
        read: Callable[[], Awaitable[T]],
        fresh_s: float,
        max_age_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= fresh_s <= max_age_s:
            raise ValueError(f"need 0 <= fresh_s ({fresh_s}) <= max_age_s ({max_age_s})")
        self.read, self.fresh_s, self.max_age_s, self.clock = read, fresh_s, max_age_s, clock
        self._value: T | None = None
        self._read_at = float("-inf")  # when the read held in _value started
        self._pending: asyncio.Task[T] | None = None

    def age(self) -> float:
        """Seconds since the read the copy holds started (infinite before the first)."""
        return self.clock() - self._read_at

    async def get(self) -> T:
        """The copy, or a new read when the copy is older than ``max_age_s``."""
        age = self.age()
        if age <= self.fresh_s and self._value is not None:
            return self._value
        pending = self._pending or self._start()
        if age <= self.max_age_s and self._value is not None:
            return self._value
        # shielded: a cancelled request must not cancel the read others wait for
        return await asyncio.shield(pending)

    async def fresh(self) -> T:
        """A read started now (not the copy), kept as the copy."""
        started = self.clock()
        value = await self.read()
        self.put(value, started)
        return value

    def put(self, value: T, read_at: float) -> None:
        """Keep ``value``, read from ``read_at`` (on ``clock``), unless the copy is newer."""
        if read_at >= self._read_at:
            self._value, self._read_at = value, read_at

    def _start(self) -> asyncio.Task[T]:
        task = asyncio.ensure_future(self._refresh())
        task.add_done_callback(self._done)
        self._pending = task
        return task

    async def _refresh(self) -> T:
        return await self.fresh()

    def _done(self, task: asyncio.Task[T]) -> None:
        self._pending = None
        if not task.cancelled() and task.exception() is not None:
            # a background read that failed: the copy stays, a later request reads again
            # (and waits for it once the copy is older than max_age_s, seeing the error)
            logger.warning("reading again failed: %s", task.exception())
