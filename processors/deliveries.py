"""What a worker knows without reading the log: which run commands name a new execution.

A worker folds an execution's events before running it, so that a run command delivered
again (the worker that had it died, or handed its partition over) resumes the execution
instead of starting it twice. On Kafka that read is a scan of the partition (no key
index), and most run commands name an execution that has no events at all. This module
tells those apart with no read:

- A record of the command topic is delivered to one group member at a time. When a
  member receives a partition, every record any member may have been delivered before
  sits below the partition's end offset at that moment. :class:`FirstDelivery` reads that
  offset (one request for every partition received) right after the assignment and before
  any of its records is handled: a record at or above it is delivered for the first time.
- A run command whose execution id the submitter generated (``fresh_id``) names an
  execution nobody ran before, and only a worker handling that very command writes its
  events. So a first delivery of such a command names an execution with no events — unless
  this worker already started it (the same command appended twice): it remembers the
  executions it started recently, and reads the log for those.

Anything else — a record below the boundary, a caller-chosen id, a partition whose
boundary is not known yet, a run restarted after its writes failed — is read as before.
Wrong in the safe direction only: a boundary read late is higher, so more commands are
read, never fewer.

The same memory says where the events of an execution run here begin
(:meth:`FirstDelivery.first_offset`), so rolling back a finished run reads from its first
event, not from the start of the partition.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable

from omium.producers import EventLog, Record
from omium.schemas import Run

#: executions remembered per worker (their ids and first event offsets: a few MB at most)
KEEP = 20_000

Pair = tuple[str, int]


class FirstDelivery:
    """Per owned partition, the offset from which its commands are first deliveries."""

    def __init__(self, log: EventLog, *, keep: int = KEEP) -> None:
        self.log = log
        self.keep = keep
        #: per partition owned, the end offset read once it was received
        self.boundary: dict[Pair, int] = {}
        #: executions started here, newest last: their first event's offset when known
        self._started: OrderedDict[str, int | None] = OrderedDict()

    async def received(
        self, owned: Iterable[Pair], epoch: Callable[[Pair], int], still: Callable[[Pair], bool]
    ) -> None:
        """Read the boundary of the partitions in ``owned`` that have none yet.

        ``epoch(pair)`` counts the hand-overs of a partition and ``still(pair)`` says
        whether it is owned now: a partition handed over (and maybe received again) while
        the end offsets were read keeps no boundary, as the read may predate its
        assignment; the next call reads it again.
        """
        missing = {pair: epoch(pair) for pair in owned if pair not in self.boundary}
        for topic in {t for t, _ in missing}:
            ends = await self.log.end_offsets(topic)
            for pair, before in missing.items():
                if pair[0] == topic and epoch(pair) == before and still(pair):
                    self.boundary[pair] = ends.get(pair[1], 0)

    def forget(self, partitions: Iterable[Pair]) -> None:
        """The partitions move away: their boundaries are read again if they come back."""
        for pair in partitions:
            self.boundary.pop(pair, None)

    def is_new(self, command: Run, record: Record) -> bool:
        """Whether ``command`` names an execution that has no events (see the module)."""
        pair = (record.position.topic, record.position.partition)
        since = self.boundary.get(pair)
        return (
            command.payload.fresh_id
            and since is not None
            and record.position.offset >= since
            and command.execution_id not in self._started
        )

    def started(self, execution_id: str, first_offset: int | None = None) -> None:
        """Remember that ``execution_id`` ran here (and where its events begin, if known)."""
        known = self._started.pop(execution_id, None)
        self._started[execution_id] = first_offset if first_offset is not None else known
        while len(self._started) > self.keep:
            self._started.popitem(last=False)

    def first_offset(self, execution_id: str) -> int:
        """Where ``execution_id``'s events begin, as far as known here (else 0: all)."""
        return self._started.get(execution_id) or 0
