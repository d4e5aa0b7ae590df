"""Where the saver's events go: a :class:`CheckpointSink`, or the default :class:`LogSink`.

The saver builds payloads; a sink stamps and appends them. An execution runner that
already records a run's facts gives the saver its own sink, so checkpoints take their
``seq`` from the same recorder as the run's steps and stay in order with them::

    class RunnerSink:
        async def record(self, thread_id, events):
            await recorder.emit_many([recorder.prepare(t, **p) for t, p in events])

Without one, :class:`LogSink` stamps each thread's events itself (attempt, next ``seq``,
``causation_id`` = the previous event, as a :class:`~omium.producers.Recorder` does),
continuing the execution's newest attempt, and commits concurrent writes together (one
SQLite transaction, one Kafka batch per partition): on a loop (:class:`GroupCommit`) the
first writer yields once and takes everything recorded meanwhile; inline across threads
(:class:`CombiningCommit`) a task's writes wait briefly for their superstep's checkpoint.

Speed: a superstep writes two events, and pydantic's validate + encode costs about 40 µs
per event, most of the budget. The payloads the saver builds are valid by construction
(JSON already rendered), so ``checkpoint.created`` and ``checkpoint.writes_saved`` are
encoded with orjson straight into the bytes ``omium.schemas.encode`` writes (a test pins
the equality); other types take the validated path.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

import orjson

from omium.adapters.langgraph.bridge import drive
from omium.producers import EventLog
from omium.schemas import (
    REGISTRY,
    EventTooLarge,
    LogUnavailable,
    current_version,
    encode,
    from_dict,
)
from omium.schemas.topics import EVENTS

#: ``(event type, payload)`` pairs, e.g. ``("checkpoint.created", {"checkpoint_id": ...})``.
Events = list[tuple[str, dict[str, Any]]]
#: A raw record for ``EventLog.append_records``: ``(topic, key, value)``.
Raw = tuple[str, str | None, bytes]

#: The event that opens a new attempt of the execution (a fork, in standalone mode).
ROLLED_BACK = "execution.rolled_back"
WRITES = "checkpoint.writes_saved"
_FAST = frozenset({"checkpoint.created", WRITES})
_VERSIONS = {name: current_version(cls) for name, cls in REGISTRY.items()}


class CheckpointSink(Protocol):
    """Records the saver's events for a thread (an omium execution)."""

    async def record(self, thread_id: str, events: Events) -> None:
        """Append ``events`` to execution ``thread_id``, in order, durably, then return.

        Raises:
            EventTooLarge: an event does not fit the log (nothing of the call was recorded).
            LogUnavailable: the log did not take them in time.
        """
        ...


class Stamped(NamedTuple):
    """An event as the default sink recorded it."""

    type: str
    attempt: int
    seq: int
    value: bytes


@dataclass(slots=True)
class _Thread:
    attempt: int  # the attempt being written
    seq: int  # its last seq
    previous: str | None  # the event_id of its last event
    greatest: int  # the greatest attempt of the execution


class GroupCommit:
    """Appends raw records; what arrives while the first writer yields or appends joins it."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self._queue: list[tuple[list[Raw], asyncio.Future[None]]] = []
        self._leading = False
        self._handover: asyncio.Task[None] | None = None

    async def append(self, records: list[Raw]) -> None:
        """Durably append ``records`` (in order) and return when they are on the log."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((records, done))
        if not self._leading:
            self._leading = True
            await asyncio.sleep(0)  # let writes already scheduled on the loop join
            await self._drain()
        await done

    async def _drain(self) -> None:
        self._leading = True
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                await self._commit(batch)
        finally:
            self._leading = False
            if self._queue:  # the leader was cancelled: the others still get written
                self._handover = asyncio.get_running_loop().create_task(self._drain())

    async def _commit(self, batch: list[tuple[list[Raw], asyncio.Future[None]]]) -> None:
        try:
            await self.log.append_records([r for records, _ in batch for r in records])
        except Exception as exc:
            for _, done in batch:
                _settle(done, exc)
        except BaseException:
            for _, done in batch:
                _settle(done, _cut())
            raise
        else:
            for _, done in batch:
                _settle(done, None)


def _cut() -> LogUnavailable:
    return LogUnavailable(
        "the append carrying these events was cancelled; they may or may not be on the log",
        hint="read the thread again before writing to it",
    )


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


#: Seconds a task's writes wait for their superstep's checkpoint to share one append (in
#: LangGraph's sync invoke the checkpoint comes a median 40 µs after the writes, p90 under
#: 200 µs, from another worker thread); a checkpoint itself never waits.
LINGER = 0.0003


@dataclass(slots=True)
class _Ticket:
    records: list[Raw]
    linger: bool
    taken: bool = False  # in a batch being (or already) written
    error: Exception | None = None


class CombiningCommit:
    """Group commit across threads, for a log driven inline (the embedded one).

    The caller holds the saver's ``core_lock`` and lets go of it while it waits to write,
    so other threads stamp and queue their events meanwhile; whoever writes next takes
    everything queued, in order, in one append, after waiting up to :data:`LINGER` for a
    checkpoint when it holds only pending writes. ``log_lock`` serializes every use of the
    log (its SQLite connection is shared: a read must not run inside another's write).
    """

    def __init__(self, log: EventLog, core_lock: threading.Lock, timeout: float) -> None:
        self.log = log
        self.core_lock = core_lock
        self.log_lock = threading.Lock()
        self.timeout = timeout
        self._queue: list[_Ticket] = []
        self._queued = threading.Condition()

    async def append(self, records: list[Raw], *, linger: bool = False) -> None:
        """Durably append ``records`` (in order); call holding ``core_lock``.

        ``linger``: these are pending writes, worth holding briefly for their checkpoint.
        """
        ticket = _Ticket(records, linger)
        with self._queued:
            self._queue.append(ticket)
            self._queued.notify_all()
        self.core_lock.release()
        try:
            self._write(ticket)
        finally:
            self.core_lock.acquire()
        if ticket.error is not None:
            raise ticket.error

    def _write(self, ticket: _Ticket) -> None:
        if not self.log_lock.acquire(timeout=self.timeout):
            with self._queued:
                if not ticket.taken:  # give up only on what nobody is writing
                    self._queue.remove(ticket)
                    raise LogUnavailable(f"waited over {self.timeout:g} s to write to the log")
            self.log_lock.acquire()  # a write that carries it is under way: let it end
        try:
            if ticket.taken:
                return  # another thread wrote it (or failed to: ticket.error says)
            with self._queued:
                until = time.monotonic() + LINGER
                while all(t.linger for t in self._queue) and (left := until - time.monotonic()) > 0:
                    self._queued.wait(left)
                batch, self._queue = self._queue, []
                for queued in batch:
                    queued.taken = True
            try:
                drive(self.log.append_records([r for t in batch for r in t.records]))
            except Exception as exc:
                for queued in batch:
                    queued.error = exc
        finally:
            self.log_lock.release()


class LogSink:
    """The default sink: stamps each thread's events itself and group-commits them.

    A batch whose first event is ``execution.rolled_back`` opens the execution's next
    attempt (after the greatest one in the log) and continues on it.
    """

    def __init__(
        self, log: EventLog, *, tenant_id: str = "default", inline: CombiningCommit | None = None
    ) -> None:
        self.log = log
        self.tenant_id = tenant_id
        self._group: GroupCommit | CombiningCommit = inline or GroupCommit(log)
        self._threads: dict[str, _Thread] = {}

    def seed(self, thread_id: str, attempt: int, last_seq: int, previous: str | None) -> None:
        """Continue ``thread_id`` at ``attempt`` after ``last_seq`` (skips reading the log)."""
        if thread_id not in self._threads:
            self._threads[thread_id] = _Thread(attempt, last_seq, previous, attempt)

    def forget(self, thread_id: str) -> None:
        """Drop what is cached of ``thread_id`` (it is read from the log again when needed)."""
        self._threads.pop(thread_id, None)

    async def record(self, thread_id: str, events: Events) -> None:
        """Stamp and append ``events`` to ``thread_id`` (see :class:`CheckpointSink`)."""
        await self.record_stamped(thread_id, events)

    async def record_stamped(self, thread_id: str, events: Events) -> list[Stamped]:
        """Like :meth:`record`, returning the events as stamped."""
        if not events:
            return []
        state = self._threads.get(thread_id) or await self._load(thread_id)
        if events[0][0] == ROLLED_BACK:  # stamped on a copy: a refused fork opens nothing
            state = _Thread(state.greatest + 1, 0, None, state.greatest + 1)
        head = _Thread(state.attempt, state.seq, state.previous, state.greatest)
        stamped = [self._stamp(thread_id, head, kind, payload) for kind, payload in events]
        # the seqs are taken now, before waiting, so a concurrent call stamps after them
        # (as with a Recorder, a failed append leaves a gap: seq stays monotonic)
        self._threads[thread_id] = head
        records: list[Raw] = [(EVENTS.name, thread_id, s.value) for s in stamped]
        if isinstance(self._group, CombiningCommit):
            # a thread on an event loop (ainvoke) must not linger: it would block the loop
            # its own checkpoint has to come from
            linger = all(s.type == WRITES for s in stamped) and not _on_a_loop()
            await self._group.append(records, linger=linger)
        else:
            await self._group.append(records)
        return stamped

    def _stamp(self, thread_id: str, head: _Thread, kind: str, payload: dict[str, Any]) -> Stamped:
        head.seq += 1
        event_id = _uuid4()
        envelope = {
            "event_id": event_id,
            "type": kind,
            "version": _VERSIONS.get(kind, 1),
            "tenant_id": self.tenant_id,
            "execution_id": thread_id,
            "attempt": head.attempt,
            "seq": head.seq,
            "ts": datetime.now(UTC),
            "causation_id": head.previous,
            "payload": payload,
        }
        value = _fast(envelope) if kind in _FAST else None
        if value is None:
            value = encode(from_dict(envelope), max_bytes=self.log.max_event_bytes)
        elif len(value) > self.log.max_event_bytes:
            raise EventTooLarge(
                f"{kind} event for execution {thread_id!r} is {len(value):,} bytes, "
                f"over the {self.log.max_event_bytes:,}-byte limit",
                size=len(value),
                limit=self.log.max_event_bytes,
            )
        head.previous = event_id
        return Stamped(kind, head.attempt, head.seq, value)

    async def _load(self, thread_id: str) -> _Thread:
        attempt, seqs, last = 1, dict[int, int](), dict[int, str]()
        for record in await self.log.read_execution(thread_id):
            event = record.event()
            attempt = max(attempt, event.attempt)
            if event.seq >= seqs.get(event.attempt, 0):
                seqs[event.attempt], last[event.attempt] = event.seq, str(event.event_id)
        self.seed(thread_id, attempt, seqs.get(attempt, 0), last.get(attempt))
        return self._threads[thread_id]


def _on_a_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _uuid4() -> str:
    """A random (version 4) UUID as text, without ``uuid.UUID``'s 5 µs of Python."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _fast(envelope: dict[str, Any]) -> bytes | None:
    """The codec's bytes for a payload built by the saver (None if orjson cannot: big ints)."""
    try:
        return orjson.dumps(envelope, option=orjson.OPT_UTC_Z)
    except TypeError:
        return None
