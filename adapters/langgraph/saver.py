"""``OmiumSaver``: a LangGraph checkpointer whose checkpoints and pending writes are omium events.

A LangGraph thread is an omium execution (``thread_id`` = ``execution_id``). Each ``put``
records ``checkpoint.created`` (LangGraph's own serialized snapshot plus a JSON ``state``
for omium's views), each ``put_writes`` records ``checkpoint.writes_saved``; deleting is a
tombstone event, never a rewrite. Reads come from an in-memory index per thread, read from
the log once and kept current by the saver's own writes (one saver per thread at a time:
writes from another process are not seen until the thread is read again).

Three ways to build one::

    with OmiumSaver.from_url("sqlite:///.omium/log.db") as saver:   # invoke and ainvoke work
        graph = builder.compile(checkpointer=saver)
        graph.invoke(inputs, {"configurable": {"thread_id": "exec-1"}})

    saver = OmiumSaver(log)                 # inside a running loop: that loop runs the log;
    await graph.ainvoke(...)                # sync calls from other threads are handed to it

    saver = OmiumSaver(log, sink=runner_sink)   # an execution runner stamps the events

Standalone (no ``sink``), events are stamped per thread by a
:class:`~omium.adapters.langgraph.LogSink`, and a fork (a ``put`` whose parent is not
the newest checkpoint) opens a new omium attempt with ``execution.rolled_back``. With a
sink, stamping and attempts are the sink's business.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, Self, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_checkpoint_metadata,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from omium.adapters.langgraph.bridge import Bridge, InlineBridge, LoopThread, drive
from omium.adapters.langgraph.checkpoint_sink import CheckpointSink, CombiningCommit
from omium.adapters.langgraph.payloads import created_payload, render, render_state
from omium.adapters.langgraph.thread_index import Found
from omium.adapters.langgraph.thread_store import (
    PutRequest,
    SaverCore,
    WritesRequest,
    config_of,
    where,
)
from omium.producers import EventLog, RunsInline, Settings, open_log
from omium.schemas import OmiumError

#: Seconds any single call of the saver may wait for the log.
DEFAULT_TIMEOUT = 30.0


class OmiumSaver(BaseCheckpointSaver[int]):
    """A LangGraph checkpoint saver on the omium event log (see the module docs).

    Args:
        log: the event log; it must be usable from ``loop``.
        sink: who records the events (default: a ``LogSink`` stamping them itself).
        serde: LangGraph serializer (default: LangGraph's ``JsonPlusSerializer``).
        tenant_id: stamped on events in standalone mode.
        timeout: seconds any one call may wait for the log.
        max_threads: threads whose index stays in memory (least recently used go first).
        loop: the loop that runs ``log``; default the running loop, else a private loop
            thread the saver starts (and stops in :meth:`close`).
        owns_log: the saver is the log's only user and closes it (``from_url``); the
            embedded SQLite log then runs inline on the callers' threads, under a lock.
    """

    def __init__(
        self,
        log: EventLog,
        *,
        sink: CheckpointSink | None = None,
        serde: SerializerProtocol | None = None,
        tenant_id: str = "default",
        timeout: float = DEFAULT_TIMEOUT,
        max_threads: int = 1000,
        loop: asyncio.AbstractEventLoop | None = None,
        owns_log: bool = False,
    ) -> None:
        super().__init__(serde=serde)
        self.log = log
        self._loop_thread: LoopThread | None = None
        self._owns_log = owns_log
        inline = None
        self._bridge: Bridge | InlineBridge
        if owns_log and isinstance(log, RunsInline):  # no loop needed: see .bridge
            self._bridge = InlineBridge(timeout)
            inline = CombiningCommit(log, self._bridge.lock, timeout)
        else:
            if loop is None:
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:
                    self._loop_thread = LoopThread()
                    loop = self._loop_thread.loop
            self._bridge = Bridge(loop, timeout)
        self._core = SaverCore(
            log, sink, tenant_id=tenant_id, max_threads=max_threads, inline=inline
        )

    @classmethod
    def from_url(
        cls,
        url: str | None = None,
        *,
        sink: CheckpointSink | None = None,
        serde: SerializerProtocol | None = None,
        settings: Settings | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_threads: int = 1000,
    ) -> OmiumSaver:
        """Open the log at ``url`` (default: ``OMIUM_LOG_URL``); :meth:`close` closes it.

        Sync (``graph.invoke``) and async (``graph.ainvoke``) callers both work: the
        embedded log runs inline on the caller's thread, others on a loop thread of the
        saver's own.
        """
        settings = settings or Settings.load()
        options: dict[str, Any] = {
            "sink": sink,
            "serde": serde,
            "tenant_id": settings.tenant_id,
            "timeout": timeout,
            "max_threads": max_threads,
            "owns_log": True,
        }
        log = open_log(url, settings)  # builds the adapter; nothing connects yet
        if isinstance(log, RunsInline):
            try:
                drive(log.create_topics())
            except BaseException:
                drive(log.close())
                raise
            return cls(log, **options)
        thread = LoopThread()
        try:
            Bridge(thread.loop, timeout).call("from_url", log.create_topics)
        except BaseException:
            thread.stop()
            raise
        saver = cls(log, loop=thread.loop, **options)
        saver._loop_thread = thread
        return saver

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Close the log if the saver opened it, and stop its loop thread. Safe twice."""
        if self._core.closed:
            return
        self._core.closed = True
        try:
            if self._owns_log:
                self._bridge.call("close", self.log.close)
        finally:
            if self._loop_thread is not None:
                self._loop_thread.stop()

    async def aclose(self) -> None:
        """:meth:`close` for async code."""
        if self._core.closed:
            return
        self._core.closed = True
        try:
            if self._owns_log:
                await self._bridge.acall("close", self.log.close)
        finally:
            if self._loop_thread is not None:
                await asyncio.to_thread(self._loop_thread.stop)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _open(self) -> SaverCore:
        if self._core.closed:
            raise OmiumError("this OmiumSaver is closed", hint="build a new one")
        return self._core

    # -- reads ----------------------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint ``config`` names (the thread's newest without a ``checkpoint_id``)."""
        core, (thread_id, ns, checkpoint_id) = self._open(), where(config)
        found = self._bridge.call("get_tuple", lambda: core.get(thread_id, ns, checkpoint_id))
        return None if found is None else self._tuple(found, config)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Async :meth:`get_tuple`."""
        core, (thread_id, ns, checkpoint_id) = self._open(), where(config)
        found = await self._bridge.acall(
            "get_tuple", lambda: core.get(thread_id, ns, checkpoint_id)
        )
        return None if found is None else self._tuple(found, config)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints newest first, filtered by metadata, ``before`` and ``limit``.

        With ``config`` None every thread is listed: that reads the whole events topic.
        """
        core = self._open()
        found = self._bridge.call("list", lambda: core.select(config, filter, before, limit))
        for item in found:
            yield self._tuple(item, None)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Async :meth:`list`."""
        core = self._open()
        found = await self._bridge.acall("list", lambda: core.select(config, filter, before, limit))
        for item in found:
            yield self._tuple(item, None)

    def _tuple(self, found: Found, config: RunnableConfig | None) -> CheckpointTuple:
        where = {"thread_id": found.thread_id, "checkpoint_ns": found.ns}
        if config is None or not get_checkpoint_id(config):
            config = {"configurable": {**where, "checkpoint_id": found.checkpoint_id}}
        saved = found.saved
        parent = saved.parent_id
        return CheckpointTuple(
            config=config,
            checkpoint=self.serde.loads_typed(saved.checkpoint),
            metadata=cast(CheckpointMetadata, dict(saved.metadata)),
            parent_config={"configurable": {**where, "checkpoint_id": parent}} if parent else None,
            pending_writes=[
                (w.task_id, w.channel, self.serde.loads_typed(w.value)) for w in found.writes
            ],
        )

    # -- writes ---------------------------------------------------------------------------

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Record ``checkpoint`` as a child of ``config``'s ``checkpoint_id``."""
        core, request = self._open(), self._put_request(config, checkpoint, metadata)
        serde = self.serde
        self._bridge.call("put", lambda: core.put(request, serde))
        return config_of(request.thread_id, request.ns, request.checkpoint_id)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Async :meth:`put`."""
        core, request = self._open(), self._put_request(config, checkpoint, metadata)
        serde = self.serde
        await self._bridge.acall("put", lambda: core.put(request, serde))
        return config_of(request.thread_id, request.ns, request.checkpoint_id)

    def _put_request(
        self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata
    ) -> PutRequest:
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        ns = str(configurable.get("checkpoint_ns") or "")
        parent_id = configurable.get("checkpoint_id")
        typed = self.serde.dumps_typed(checkpoint)
        meta = render(get_checkpoint_metadata(config, metadata))
        channel_values = checkpoint.get("channel_values", {})
        state = render_state(channel_values)
        payload = created_payload(ns, checkpoint["id"], parent_id, meta, typed, state)
        return PutRequest(
            thread_id, ns, checkpoint["id"], parent_id, typed, meta, payload, channel_values
        )

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Record a task's writes against ``config``'s checkpoint."""
        if not writes:
            return
        core, request = self._open(), self._writes_request(config, writes, task_id, task_path)
        self._bridge.call("put_writes", lambda: core.put_writes(request))

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Async :meth:`put_writes`."""
        if not writes:
            return
        core, request = self._open(), self._writes_request(config, writes, task_id, task_path)
        await self._bridge.acall("put_writes", lambda: core.put_writes(request))

    def _writes_request(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, path: str
    ) -> WritesRequest:
        thread_id, ns, checkpoint_id = where(config)
        if checkpoint_id is None:
            raise ValueError("put_writes needs config['configurable']['checkpoint_id']")
        entries = [
            (WRITES_IDX_MAP.get(channel, i), channel, self.serde.dumps_typed(value))
            for i, (channel, value) in enumerate(writes)
        ]
        return WritesRequest(thread_id, ns, checkpoint_id, task_id, path, entries)

    # -- deleting, copying, pruning -------------------------------------------------------

    def delete_thread(self, thread_id: str) -> None:
        """Forget every checkpoint and write of a thread (a tombstone event)."""
        core = self._open()
        self._bridge.call("delete_thread", lambda: core.delete_thread(thread_id))

    async def adelete_thread(self, thread_id: str) -> None:
        """Async :meth:`delete_thread`."""
        core = self._open()
        await self._bridge.acall("delete_thread", lambda: core.delete_thread(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Forget the checkpoints whose metadata ``run_id`` is listed (scans the log)."""
        core = self._open()
        self._bridge.call("delete_for_runs", lambda: core.delete_for_runs(run_ids))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Async :meth:`delete_for_runs`."""
        core = self._open()
        await self._bridge.acall("delete_for_runs", lambda: core.delete_for_runs(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Append copies of every live checkpoint and write of one thread to another."""
        core, serde = self._open(), self.serde
        self._bridge.call(
            "copy_thread", lambda: core.copy_thread(source_thread_id, target_thread_id, serde)
        )

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Async :meth:`copy_thread`."""
        core, serde = self._open(), self.serde
        await self._bridge.acall(
            "copy_thread", lambda: core.copy_thread(source_thread_id, target_thread_id, serde)
        )

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Keep each namespace's newest checkpoint (``keep_latest``) or none (``delete``).

        Not for graphs with ``DeltaChannel`` (beta): ``keep_latest`` drops the ancestors
        their values are rebuilt from.
        """
        core = self._open()
        self._bridge.call("prune", lambda: core.prune(thread_ids, strategy))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Async :meth:`prune`."""
        core = self._open()
        await self._bridge.acall("prune", lambda: core.prune(thread_ids, strategy))
