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


class Freezes:
    """Notices that this process stood still (SIGSTOP, a paused VM, a loop kept busy).

    A worker frozen longer than its group session may have lost its partitions without
    knowing it: when it moves again, the steps it was in finish, and its runs would record
    them and start the next ones while another worker already runs the same executions.
    So a gap longer than ``limit`` in the worker's own clock ticks makes it a suspect: no
    run starts a step or writes a deferred result (:meth:`frozen`, checked synchronously at
    every step boundary, so it holds whichever task runs first after the freeze) until the
    worker has proved to the group that it still owns its partitions (:meth:`cleared`) or
    handed them over.

    Args:
        ready: the worker's shared gate of its runs (cleared on a freeze).
        limit: the longest gap (seconds) that cannot have cost the membership: a third of
            the session timeout, the heartbeat interval.
        notify: where a freeze is reported.
        clock: monotonic seconds (tests pass their own).
    """

    #: how often the worker's clock ticks (seconds)
    TICK = 0.1

    def __init__(
        self,
        ready: asyncio.Event,
        limit: float,
        notify: Callable[[str], None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.suspect = False
        self.freezes = 0  # how many were noticed (a metric)
        self._ready = ready
        self._notify = notify
        self._clock = clock
        self._last = clock()

    def frozen(self) -> bool:
        """Whether the worker is a suspect (noticing a freeze that is still unseen)."""
        gap = self._clock() - self._last
        if gap > self.limit and not self.suspect:
            self.suspect = True
            self.freezes += 1
            self._ready.clear()
            self._notify(
                f"this worker stood still for {gap:.1f} s (longer than {self.limit:g} s): "
                "no step starts until the group confirms it still owns its partitions"
            )
        return self.suspect

    def tick(self) -> None:
        """The worker's clock moved on (called every :attr:`TICK` seconds)."""
        self.frozen()
        self._last = self._clock()

    def cleared(self) -> None:
        """The group confirmed this member (or it handed everything over): go on."""
        if self.suspect:
            self._notify("the group confirmed this worker's partitions; its runs go on")
        self.suspect = False

    async def run(self) -> None:
        """Tick until cancelled."""
        while True:
            self.tick()
            await asyncio.sleep(self.TICK)
