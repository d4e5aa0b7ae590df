"""The saver's work on the log's event loop: the index cache, writes, tombstones, scans.

Everything here runs on the one loop that owns the log (or, for an embedded log the saver
owns, inline under the saver's lock), so the cache needs no locks of its own.
Threads are loaded lazily (``read_execution``) and kept in an LRU of ``max_threads``; an
evicted thread is simply read again. ``list(None)`` and ``delete_for_runs`` must find
threads they were not told about: they scan the whole ``omium.events`` topic.

In standalone mode (no sink given) a ``put`` whose parent is an older checkpoint of the
root namespace than the newest one is a fork (``update_state`` on a past checkpoint, or a
replay from a ``checkpoint_id``): it first records ``execution.rolled_back``, which opens
the execution's next omium attempt, so omium's projection shows the branch.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import get_checkpoint_id
from langgraph.checkpoint.serde.base import SerializerProtocol

from omium.adapters.langgraph.checkpoint_sink import (
    ROLLED_BACK,
    CheckpointSink,
    CombiningCommit,
    Events,
    LogSink,
    Stamped,
)
from omium.adapters.langgraph.payloads import (
    Typed,
    created_payload,
    event_size,
    render_state,
    serialized,
    too_large,
)
from omium.adapters.langgraph.thread_index import Entry, Found, Saved, ThreadIndex, readable
from omium.producers import EventLog
from omium.schemas import Event, EventTooLarge, decode, from_dict
from omium.schemas.topics import EVENTS

_CHECKPOINT_TYPE = b'"type":"checkpoint.'


@dataclass(frozen=True, slots=True)
class PutRequest:
    """A ``put``, serialized by the caller (off the log's loop)."""

    thread_id: str
    ns: str
    checkpoint_id: str
    parent_id: str | None
    typed: Typed
    metadata: dict[str, Any]
    payload: dict[str, Any]
    channel_values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class WritesRequest:
    """A ``put_writes``, serialized by the caller."""

    thread_id: str
    ns: str
    checkpoint_id: str
    task_id: str
    task_path: str
    entries: list[Entry]


class SaverCore:
    """The index cache and every log operation of one saver (and its copies)."""

    def __init__(
        self,
        log: EventLog,
        sink: CheckpointSink | None,
        *,
        tenant_id: str,
        max_threads: int,
        inline: CombiningCommit | None = None,
    ) -> None:
        self.log = log
        self.sink = sink
        self.writer = LogSink(log, tenant_id=tenant_id, inline=inline) if sink is None else None
        # an inline log's connection is shared by every thread: reads take its lock too
        self._log_lock = inline.log_lock if inline is not None else contextlib.nullcontext()
        self.max_threads = max_threads
        self.closed = False
        self._threads: OrderedDict[str, ThreadIndex] = OrderedDict()

    # -- the cache --------------------------------------------------------------------

    async def index(self, thread_id: str) -> ThreadIndex:
        """The thread's index, read from the log the first time."""
        index = self._threads.get(thread_id)
        if index is not None:
            self._threads.move_to_end(thread_id)
            return index
        with self._log_lock:
            records = await self.log.read_execution(thread_id)
        index = ThreadIndex.fold(thread_id, readable(records))
        # a concurrent caller may have loaded it meanwhile: the first one wins
        index = self._threads.setdefault(thread_id, index)
        if self.writer is not None:
            attempt = index.attempt
            self.writer.seed(
                thread_id, attempt, index.last_seq.get(attempt, 0), index.last_id.get(attempt)
            )
        self._evict(keep=thread_id)
        return index

    def _evict(self, keep: str) -> None:
        while len(self._threads) > self.max_threads:
            victim = next((t for t, i in self._threads.items() if not i.busy and t != keep), None)
            if victim is None:
                return
            del self._threads[victim]
            if self.writer is not None:
                self.writer.forget(victim)

    async def scan(self) -> list[ThreadIndex]:
        """Every thread with checkpoint events on the log (reads the whole topic)."""
        found: dict[str, list[Event]] = {}
        with self._log_lock:
            partitions = await self.log.partitions(EVENTS.name)
        for partition in range(partitions):
            with self._log_lock:
                records = await self.log.read(EVENTS.name, partition)
            for record in records:
                key = record.key
                if key is None or key in self._threads:
                    found.setdefault(key or "", [])
                    continue
                if _CHECKPOINT_TYPE in record.value:
                    found.setdefault(key, []).extend(readable([record]))
        found.pop("", None)
        return [
            self._threads.get(tid) or ThreadIndex.fold(tid, events) for tid, events in found.items()
        ]

    # -- writes -------------------------------------------------------------------------

    async def record(
        self, index: ThreadIndex, events: Events, on_too_large: Callable[[EventTooLarge], Exception]
    ) -> list[Stamped] | None:
        """Record ``events`` for the thread; the stamped events in standalone mode."""
        try:
            if self.writer is not None:
                stamped = await self.writer.record_stamped(index.thread_id, events)
                index.stamped(stamped[-1].attempt, stamped[-1].seq)
                return stamped
            assert self.sink is not None
            await self.sink.record(index.thread_id, events)
            return None
        except EventTooLarge as exc:
            raise on_too_large(exc) from None

    async def put(self, request: PutRequest, serde: SerializerProtocol) -> None:
        """Record a checkpoint (after ``execution.rolled_back`` when it forks)."""
        index = await self.index(request.thread_id)
        index.busy += 1
        try:
            events: Events = []
            if self.writer is not None:
                fork = self._fork(index, request, serde)
                if fork is not None:
                    events.append((ROLLED_BACK, fork))
            events.append(("checkpoint.created", request.payload))

            def diagnose(exc: EventTooLarge) -> Exception:
                sizes = {k: event_size(serde, v) for k, v in request.channel_values.items()}
                what = f"checkpoint {request.checkpoint_id} (ns {request.ns!r})"
                return too_large(exc, thread_id=request.thread_id, what=what, sizes=sizes)

            stamped = await self.record(index, events, diagnose)
            last = stamped[-1] if stamped else None
            saved = Saved(
                request.typed,
                request.metadata,
                request.parent_id,
                last.attempt if last else None,
                last.seq if last else None,
            )
            index.add_checkpoint(request.ns, request.checkpoint_id, saved)
        finally:
            index.busy -= 1

    def _fork(
        self, index: ThreadIndex, request: PutRequest, serde: SerializerProtocol
    ) -> dict[str, Any] | None:
        """The ``execution.rolled_back`` payload if ``request`` branches off an older checkpoint."""
        parent_id, newest = request.parent_id, index.newest.get(request.ns)
        if request.ns or parent_id is None or newest is None or parent_id == newest:
            return None
        parent = index.checkpoints.get(request.ns, {}).get(parent_id)
        if parent is None:
            return None
        base = render_state(serde.loads_typed(parent.checkpoint).get("channel_values", {}))
        overrides: dict[str, Any] = {}
        if request.metadata.get("source") == "update":  # update_state: what it changed
            new = request.payload.get("state", {})
            overrides = {k: v for k, v in new.items() if base.get(k, _MISSING) != v}
        return {
            "from_attempt": parent.attempt or index.attempt,
            "checkpoint_id": parent_id,
            "branch_seq": parent.seq or 0,
            "overrides": overrides,
            "state": base,
        }

    async def put_writes(self, request: WritesRequest) -> None:
        """Record a task's writes (duplicates of ``idx >= 0`` are not recorded again)."""
        index = await self.index(request.thread_id)
        entries = index.new_writes(
            request.ns, request.checkpoint_id, request.task_id, request.entries
        )
        if not entries:
            return
        index.busy += 1
        try:
            payload = {
                "checkpoint_id": request.checkpoint_id,
                "ns": request.ns,
                "task_id": request.task_id,
                "task_path": request.task_path,
                "writes": [{"idx": i, "channel": c, "value": serialized(v)} for i, c, v in entries],
            }

            def diagnose(exc: EventTooLarge) -> Exception:
                sizes = {c: len(v[1]) * 4 // 3 for _, c, v in entries}
                what = f"the writes of task {request.task_id} on checkpoint {request.checkpoint_id}"
                return too_large(exc, thread_id=request.thread_id, what=what, sizes=sizes)

            await self.record(index, [("checkpoint.writes_saved", payload)], diagnose)
            index.add_writes(
                request.ns, request.checkpoint_id, request.task_id, request.task_path, entries
            )
        finally:
            index.busy -= 1

    async def append(self, index: ThreadIndex, events: Events) -> None:
        """Record ``events`` (tombstones, copies) and fold them into ``index``."""
        index.busy += 1
        try:

            def refuse(exc: EventTooLarge) -> Exception:
                return exc

            stamped = await self.record(index, events, refuse)
            if stamped is not None:
                folded = [decode(s.value) for s in stamped]
            else:
                folded = [_unstamped(index.thread_id, kind, p) for kind, p in events]
            for event in folded:
                index.apply(event)
        finally:
            index.busy -= 1

    # -- reads and maintenance ------------------------------------------------------------

    async def get(self, thread_id: str, ns: str, checkpoint_id: str | None) -> Found | None:
        """The checkpoint ``checkpoint_id`` of a thread's ``ns`` (the newest when None)."""
        return (await self.index(thread_id)).get(ns, checkpoint_id)

    async def select(
        self,
        config: RunnableConfig | None,
        filter: Mapping[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> list[Found]:
        """Checkpoints newest first; of every thread (a scan of the log) when no ``config``.

        ``config`` without ``checkpoint_ns`` means every namespace of its thread.
        """
        before_id = get_checkpoint_id(before) if before else None
        if config is None:
            indexes, ns, checkpoint_id = await self.scan(), None, None
        else:
            configurable = config["configurable"]
            indexes = [await self.index(str(configurable["thread_id"]))]
            ns, checkpoint_id = configurable.get("checkpoint_ns"), get_checkpoint_id(config)
        found: list[Found] = []
        for index in indexes:
            left = None if limit is None else limit - len(found)
            if left is not None and left <= 0:
                break
            found.extend(
                index.select(ns, checkpoint_id, before=before_id, filter=filter, limit=left)
            )
        return found

    async def delete_thread(self, thread_id: str) -> None:
        """Forget a thread: a ``checkpoint.thread_deleted`` tombstone (none if it has nothing)."""
        index = await self.index(thread_id)
        if not index.empty:
            await self.append(index, [("checkpoint.thread_deleted", {})])

    async def delete_for_runs(self, run_ids: Iterable[str]) -> None:
        """Forget the checkpoints of runs, in every thread that has some (scans the log)."""
        wanted = set(run_ids)
        if not wanted:
            return
        for scanned in await self.scan():
            if not scanned.matching_runs(wanted):
                continue
            index = await self.index(scanned.thread_id)
            matching = index.matching_runs(wanted)
            if matching:
                await self.append(
                    index, [("checkpoint.runs_deleted", {"run_ids": sorted(matching)})]
                )

    async def prune(self, thread_ids: Iterable[str], strategy: str) -> None:
        """Keep only each namespace's newest checkpoint (``keep_latest``), or none (``delete``)."""
        if strategy not in ("keep_latest", "delete"):
            raise ValueError(f"unknown prune strategy {strategy!r}; use 'keep_latest' or 'delete'")
        for thread_id in thread_ids:
            index = await self.index(thread_id)
            kept = set(index.newest.items()) if strategy == "keep_latest" else set()
            stored = {(ns, cid) for ns, ids in index.checkpoints.items() for cid in ids}
            if stored | set(index.writes) <= kept:
                continue  # nothing to forget
            refs = [{"ns": ns, "checkpoint_id": cid} for ns, cid in sorted(kept)]
            await self.append(index, [("checkpoint.pruned", {"strategy": strategy, "kept": refs})])

    async def copy_thread(self, source: str, target: str, serde: SerializerProtocol) -> None:
        """Append copies of ``source``'s live checkpoints and writes to ``target``."""
        src = await self.index(source)
        if src.empty:
            return
        events: Events = []
        for ns, saved_by_id in src.checkpoints.items():
            for cid in sorted(saved_by_id):
                saved = saved_by_id[cid]
                checkpoint = serde.loads_typed(saved.checkpoint)
                events.append(
                    (
                        "checkpoint.created",
                        created_payload(
                            ns,
                            cid,
                            saved.parent_id,
                            saved.metadata,
                            saved.checkpoint,
                            render_state(checkpoint.get("channel_values", {})),
                        ),
                    )
                )
        for (ns, cid), stored in src.writes.items():
            by_task: dict[tuple[str, str], list[dict[str, Any]]] = {}
            for w in stored.values():
                value = {"idx": w.idx, "channel": w.channel, "value": serialized(w.value)}
                by_task.setdefault((w.task_id, w.task_path), []).append(value)
            for (task_id, task_path), writes in by_task.items():
                payload = {
                    "checkpoint_id": cid,
                    "ns": ns,
                    "task_id": task_id,
                    "task_path": task_path,
                    "writes": writes,
                }
                events.append(("checkpoint.writes_saved", payload))
        await self.append(await self.index(target), events)


_MISSING = object()


def _unstamped(thread_id: str, kind: str, payload: dict[str, Any]) -> Event:
    """An event as a sink will record it, for folding (its attempt and seq are unknown)."""
    return from_dict({"type": kind, "execution_id": thread_id, "payload": payload})


def where(config: RunnableConfig) -> tuple[str, str, str | None]:
    """``(thread_id, checkpoint_ns, checkpoint_id)`` of a config (``ns`` defaults to root)."""
    configurable = config["configurable"]
    ns = configurable.get("checkpoint_ns") or ""
    return str(configurable["thread_id"]), str(ns), get_checkpoint_id(config)


def config_of(thread_id: str, ns: str, checkpoint_id: str) -> RunnableConfig:
    """The config naming one checkpoint."""
    where = {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}
    return {"configurable": where}
