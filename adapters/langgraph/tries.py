"""Each try LangGraph makes of a task under a ``RetryPolicy``, seen from its callbacks.

LangGraph retries a failed task itself (same task id, after the policy's delay), and its
``tasks`` stream shows only the task's start and its final result. Every try of a node
is a run of its own in LangChain's callbacks, a child of the graph's run, with the task
id in its ``langgraph_checkpoint_ns`` (``node:task_id``). :class:`Tries` follows those:
a second start of a task is a retry, after the error its previous try ended with.

An ``interrupt()`` (or a ``Command`` to a parent graph) ends a try by an exception too:
that is not a failure, and a resumed task runs in a new stream (a new :class:`Tries`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler
from langgraph.errors import GraphBubbleUp

#: ``(task id, node, retry, the previous try's error, seconds since it failed)``
OnRetry = Callable[[str, str, int, dict[str, str], float], Awaitable[None]]


class Tries(AsyncCallbackHandler):
    """Counts the tries of each task of one graph stream; reports each retry as it starts."""

    run_inline = True  # in the loop, in order: the retry is recorded before the try runs

    def __init__(self, report: OnRetry) -> None:
        self._report = report
        #: task id -> tries started so far
        self.count: dict[str, int] = {}
        self._root: UUID | None = None
        self._runs: dict[UUID, str] = {}  # a try's run id -> its task id
        self._failed: dict[str, tuple[dict[str, str], float]] = {}

    def retry(self, task_id: str) -> int:
        """The task's current try, counted from 0."""
        return max(self.count.get(task_id, 1) - 1, 0)

    async def on_chain_start(
        self,
        serialized: dict[str, Any],
        inputs: dict[str, Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """A try of a task starts (a child of the graph's run), or the graph's run."""
        if parent_run_id is None:
            self._root = run_id
            return
        if parent_run_id != self._root or not metadata:
            return
        namespace, node = metadata.get("langgraph_checkpoint_ns"), metadata.get("langgraph_node")
        if not isinstance(namespace, str) or ":" not in namespace:
            return
        task_id = namespace.rsplit(":", 1)[1]
        self._runs[run_id] = task_id
        tries = self.count[task_id] = self.count.get(task_id, 0) + 1
        failed = self._failed.pop(task_id, None)
        if tries > 1 and failed is not None:
            error, when = failed
            await self._report(task_id, str(node), tries - 1, error, time.monotonic() - when)

    async def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """A try ended with an error (an interrupt is none)."""
        task_id = self._runs.pop(run_id, None)
        if task_id is not None and not isinstance(error, GraphBubbleUp):
            info = {"type": type(error).__name__, "message": str(error)}
            self._failed[task_id] = (info, time.monotonic())

    async def on_chain_end(
        self,
        outputs: dict[str, Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """A try ended well."""
        self._runs.pop(run_id, None)
