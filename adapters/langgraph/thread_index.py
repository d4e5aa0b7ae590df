"""One thread's checkpoints and pending writes, folded from its events.

:class:`ThreadIndex` is what :class:`~omium.adapters.langgraph.OmiumSaver` answers reads
from. It is built by folding the thread's events in log order (:meth:`ThreadIndex.apply`)
and kept current by the saver's own writes, which go through the same methods, so the
index equals a fresh fold of the log. Tombstones are applied where they sit in the log:
a ``checkpoint.thread_deleted`` forgets what came before it, not what comes after.

Rules (LangGraph's): ``put_writes`` keeps the first write of a ``(task_id, idx)`` for
``idx >= 0`` and the last one for the special negative indexes (``WRITES_IDX_MAP``);
pending writes come back in ``writes_sort_key`` order; the newest checkpoint of a
namespace is the one with the greatest id (LangGraph ids are monotonic uuid6).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.base import writes_sort_key

from omium.adapters.langgraph.payloads import Typed, typed_of
from omium.producers import Record
from omium.schemas import (
    CheckpointCreated,
    CheckpointRunsDeleted,
    CheckpointsPruned,
    CheckpointThreadDeleted,
    CheckpointWritesSaved,
    Event,
    InvalidEvent,
)


@dataclass(frozen=True, slots=True)
class Saved:
    """One stored checkpoint; ``attempt``/``seq`` of its event when known."""

    checkpoint: Typed
    metadata: dict[str, Any]
    parent_id: str | None
    attempt: int | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Write:
    """One pending write."""

    task_id: str
    channel: str
    value: Typed
    task_path: str
    idx: int


@dataclass(frozen=True, slots=True)
class Found:
    """A checkpoint as a read returns it (a snapshot: later writes do not change it)."""

    thread_id: str
    ns: str
    checkpoint_id: str
    saved: Saved
    writes: tuple[Write, ...]


#: ``(idx, channel, typed value)`` of one write, as ``put_writes`` numbers them.
Entry = tuple[int, str, Typed]


@dataclass(slots=True)
class ThreadIndex:
    """The live checkpoints and writes of one thread, and where its omium attempts stand."""

    thread_id: str
    checkpoints: dict[str, dict[str, Saved]] = field(default_factory=dict)
    writes: dict[tuple[str, str], dict[tuple[str, int], Write]] = field(default_factory=dict)
    newest: dict[str, str] = field(default_factory=dict)
    #: the greatest attempt of any event of the execution, and each attempt's last seq
    attempt: int = 1
    last_seq: dict[int, int] = field(default_factory=dict)
    last_id: dict[int, str] = field(default_factory=dict)
    #: operations in flight (an index in use is never evicted from the saver's cache)
    busy: int = 0

    @classmethod
    def fold(cls, thread_id: str, events: Iterable[Event]) -> ThreadIndex:
        """The index of ``events`` (one execution's, in log order)."""
        index = cls(thread_id)
        for event in events:
            index.apply(event)
        return index

    # -- folding ----------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        """Fold one event of the thread's execution (other types only move attempt/seq)."""
        self.stamped(event.attempt, event.seq, str(event.event_id))
        if isinstance(event, CheckpointCreated):
            p = event.payload
            if p.checkpoint is None:
                return  # a step checkpoint of omium's own runner: not LangGraph's
            saved = Saved(
                typed_of(p.checkpoint),
                dict(p.metadata or {}),
                p.parent_id,
                event.attempt,
                event.seq,
            )
            self.add_checkpoint(p.ns, p.checkpoint_id, saved)
        elif isinstance(event, CheckpointWritesSaved):
            p2 = event.payload
            entries = [(w.idx, w.channel, typed_of(w.value)) for w in p2.writes]
            self.add_writes(p2.ns, p2.checkpoint_id, p2.task_id, p2.task_path, entries)
        elif isinstance(event, CheckpointThreadDeleted):
            self.delete_all()
        elif isinstance(event, CheckpointsPruned):
            self.prune({(k.ns, k.checkpoint_id) for k in event.payload.kept})
        elif isinstance(event, CheckpointRunsDeleted):
            self.delete_runs(set(event.payload.run_ids))

    def stamped(self, attempt: int, seq: int, event_id: str | None = None) -> None:
        """Note an event's envelope (the standalone writer continues after it)."""
        if attempt > self.attempt:
            self.attempt = attempt
        if seq >= self.last_seq.get(attempt, 0):
            self.last_seq[attempt] = seq
            if event_id is not None:
                self.last_id[attempt] = event_id

    def add_checkpoint(self, ns: str, checkpoint_id: str, saved: Saved) -> None:
        """Store a checkpoint (a second put of the same id replaces the first, as in LangGraph)."""
        self.checkpoints.setdefault(ns, {})[checkpoint_id] = saved
        if checkpoint_id > self.newest.get(ns, ""):
            self.newest[ns] = checkpoint_id

    def new_writes(
        self, ns: str, checkpoint_id: str, task_id: str, entries: Sequence[Entry]
    ) -> list[Entry]:
        """The entries a ``put_writes`` would change (duplicates of ``idx >= 0`` dropped)."""
        stored = self.writes.get((ns, checkpoint_id))
        if not stored:
            return list(entries)
        return [e for e in entries if e[0] < 0 or (task_id, e[0]) not in stored]

    def add_writes(
        self, ns: str, checkpoint_id: str, task_id: str, task_path: str, entries: Sequence[Entry]
    ) -> None:
        """Store a task's writes against ``checkpoint_id``."""
        stored = self.writes.setdefault((ns, checkpoint_id), {})
        for idx, channel, value in entries:
            key = (task_id, idx)
            if idx >= 0 and key in stored:
                continue
            stored[key] = Write(task_id, channel, value, task_path, idx)

    def delete_all(self) -> None:
        """Forget every checkpoint and write."""
        self.checkpoints.clear()
        self.writes.clear()
        self.newest.clear()

    def prune(self, kept: set[tuple[str, str]]) -> None:
        """Forget every checkpoint (and its writes) but ``kept``."""
        self._forget(lambda ns, cid, saved: (ns, cid) not in kept, writes_too=True)

    def delete_runs(self, run_ids: set[str]) -> None:
        """Forget the checkpoints (and their writes) whose metadata names one of ``run_ids``."""
        self._forget(lambda ns, cid, saved: saved.metadata.get("run_id") in run_ids)

    def _forget(self, doomed: Any, *, writes_too: bool = False) -> None:
        gone = {
            (ns, cid)
            for ns, saved_by_id in self.checkpoints.items()
            for cid, saved in saved_by_id.items()
            if doomed(ns, cid, saved)
        }
        for ns, cid in gone:
            del self.checkpoints[ns][cid]
            self.writes.pop((ns, cid), None)
        if writes_too:  # writes whose checkpoint was never stored go too
            live = {(ns, cid) for ns, ids in self.checkpoints.items() for cid in ids}
            for key in [k for k in self.writes if k not in live]:
                del self.writes[key]
        self.checkpoints = {ns: ids for ns, ids in self.checkpoints.items() if ids}
        self.newest = {ns: max(ids) for ns, ids in self.checkpoints.items()}

    # -- reading ----------------------------------------------------------------------

    @property
    def empty(self) -> bool:
        """Whether there is nothing to read (no checkpoint, no write)."""
        return not self.checkpoints and not self.writes

    def matching_runs(self, run_ids: set[str]) -> set[str]:
        """Which of ``run_ids`` name a live checkpoint of this thread."""
        return {
            str(saved.metadata["run_id"])
            for ids in self.checkpoints.values()
            for saved in ids.values()
            if saved.metadata.get("run_id") in run_ids
        }

    def get(self, ns: str, checkpoint_id: str | None) -> Found | None:
        """The checkpoint ``checkpoint_id`` of ``ns`` (the newest when None)."""
        if checkpoint_id is None:
            checkpoint_id = self.newest.get(ns)
            if checkpoint_id is None:
                return None
        saved = self.checkpoints.get(ns, {}).get(checkpoint_id)
        if saved is None:
            return None
        return Found(self.thread_id, ns, checkpoint_id, saved, self.pending(ns, checkpoint_id))

    def pending(self, ns: str, checkpoint_id: str) -> tuple[Write, ...]:
        """The writes of a checkpoint, in ``writes_sort_key`` order."""
        stored = self.writes.get((ns, checkpoint_id))
        if not stored:
            return ()
        return tuple(
            sorted(stored.values(), key=lambda w: writes_sort_key(w.task_path, w.task_id, w.idx))
        )

    def select(
        self,
        ns: str | None,
        checkpoint_id: str | None = None,
        *,
        before: str | None = None,
        filter: Mapping[str, Any] | None = None,
        limit: int | None = None,
    ) -> list[Found]:
        """Checkpoints newest first: of ``ns`` (every namespace when None), matching it all."""
        found: list[Found] = []
        for space, saved_by_id in self.checkpoints.items():
            if ns is not None and space != ns:
                continue
            for cid in sorted(saved_by_id, reverse=True):
                if limit is not None and len(found) >= limit:
                    return found
                if checkpoint_id is not None and cid != checkpoint_id:
                    continue
                if before is not None and cid >= before:
                    continue
                saved = saved_by_id[cid]
                if filter and any(saved.metadata.get(k) != v for k, v in filter.items()):
                    continue
                found.append(Found(self.thread_id, space, cid, saved, self.pending(space, cid)))
        return found


def readable(records: Iterable[Record]) -> list[Event]:
    """Decode records; skip ones this omium cannot read unless they are checkpoint events."""
    events = []
    for record in records:
        try:
            events.append(record.event())
        except InvalidEvent:
            if b'"type":"checkpoint.' in record.value:
                raise  # a checkpoint this omium cannot read: never skip one silently
    return events
