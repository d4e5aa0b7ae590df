"""Riding out an unreachable log: how long it has been down, the backoff, when to give up.

A broker, coordinator or controller failover takes seconds; a stall (a broker paused, a
network partition) may take minutes. A worker must not end on either: it waits with a
growing backoff, says so in its output, and goes on when the log answers again. Only an
outage longer than :data:`GIVE_UP_AFTER` (configurable) ends it, with
:class:`WorkerGaveUp` saying why.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from omium.schemas import LogUnavailable

#: seconds the log may stay unreachable before a worker gives up (default 10 minutes)
GIVE_UP_AFTER = 600.0
#: the first retry delay and the longest one (doubling in between)
FIRST_DELAY = 0.5
MAX_DELAY = 10.0
#: how often a long outage is reported again while it lasts (seconds)
REPORT_EVERY = 30.0


class WorkerGaveUp(LogUnavailable):
    """The log stayed unreachable longer than the worker's limit; it stops."""


class Outage:
    """The state of the log as one worker sees it: ``ok``, or unavailable since when.

    Args:
        notify: where state changes are reported (the worker's output).
        give_up_after: seconds of continuous unavailability before :meth:`failed` raises
            :class:`WorkerGaveUp`.
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        notify: Callable[[str], None],
        *,
        give_up_after: float = GIVE_UP_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.give_up_after = give_up_after
        self._notify = notify
        self._clock = clock
        self.since: float | None = None
        self.last_error: BaseException | None = None
        self.outages = 0  # how many began (a metric)
        self._tries = 0
        self._reported = 0.0

    @property
    def state(self) -> str:
        """``"ok"`` or ``"log unavailable for N s"`` (for ``/readyz`` and the output)."""
        if self.since is None:
            return "ok"
        return f"log unavailable for {self._clock() - self.since:.0f} s"

    @property
    def down_for(self) -> float:
        """Seconds the current outage has lasted (0 when the log answers)."""
        return 0.0 if self.since is None else self._clock() - self.since

    def note(self, error: BaseException) -> None:
        """Count ``error`` towards the current outage (begin one) without waiting."""
        now = self._clock()
        self.last_error = error
        if self.since is None:
            self.since = self._reported = now
            self.outages += 1
            self._notify(
                f"log unavailable: {error}; retrying with backoff, giving up after "
                f"{self.give_up_after:g} s"
            )
        elif now - self._reported >= REPORT_EVERY:
            self._reported = now
            self._notify(f"log still unavailable after {now - self.since:.0f} s: {error}")
        if now - self.since > self.give_up_after:
            raise WorkerGaveUp(
                f"the log was unavailable for {now - self.since:.0f} s, longer than the "
                f"worker's limit of {self.give_up_after:g} s; last error: {error}",
                hint="raise the limit with OMIUM_WORKER_GIVE_UP_AFTER (seconds), or fix the "
                "cluster and start the worker again",
            )

    async def failed(self, error: BaseException, stop: asyncio.Event) -> None:
        """Note ``error``, then wait the next backoff delay (or until ``stop`` is set)."""
        self.note(error)
        delay = min(MAX_DELAY, FIRST_DELAY * 2**self._tries)
        # never sleep past the limit: the try after it decides, not a backoff step later
        delay = min(delay, max(0.0, self.give_up_after - self.down_for) + 0.01)
        self._tries += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)

    def recovered(self) -> None:
        """The log answered: end the outage (and say so)."""
        if self.since is not None:
            self._notify(f"log available again after {self._clock() - self.since:.1f} s")
        self.since = None
        self.last_error = None
        self._tries = 0
