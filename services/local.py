"""Running a workflow to its end from one process: submit, host a worker if none, follow.

``omium run`` (and ``omium rollback --follow``) on the embedded log works with no
``omium worker`` running: :class:`LocalWorker` starts one in-process while none serves
the log, and turns a run or worker that stopped on an error into an error instead of an
endless wait. On Kafka workers run elsewhere; the follower only says when none took the
run after a while.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omium.processors.worker import Worker
from omium.producers import EventLog
from omium.projections import ExecutionView, fold
from omium.schemas import Event, ExecutionFailed, LogError
from omium.schemas.workflow import WorkflowSpec
from omium.services.context import Omium
from omium.services.models import RunError, RunResult
from omium.services.runs import follow, live_workers, submit

#: where a long-lived process says what it does (stderr, for the CLI)
Notify = Callable[[str], None]


class LocalWorker:
    """An in-process worker while no `omium worker` serves the embedded log.

    Checked between polls of the follow loop: it starts one when the log has no live
    worker (also later, if the worker that was there dies), and it turns a run or worker
    that stopped on an error into an error here instead of an endless wait.
    """

    def __init__(self, log: EventLog, execution_id: str, notify: Notify) -> None:
        self.log = log
        self.execution_id = execution_id
        self.notify = notify
        self.worker: Worker | None = None
        self.task: asyncio.Task[None] | None = None
        self.stop = asyncio.Event()
        self._next_look = 0.0
        self._waiting_since = time.monotonic()
        self._warned = False

    async def check(self, view: ExecutionView) -> None:
        """Start a worker if none serves the log; raise if the one serving this run died."""
        if self.worker is not None and self.task is not None:
            if self.task.done():
                error = None if self.task.cancelled() else self.task.exception()
                raise LogError(f"the in-process worker stopped: {error}")
            failed = self.worker.failed.get(self.execution_id)
            if failed is not None:
                raise LogError(f"{self.execution_id} stopped: {type(failed).__name__}: {failed}")
            return
        if time.monotonic() < self._next_look:
            return
        self._next_look = time.monotonic() + 2.0
        live = await live_workers(self.log)
        if live == 0:
            self.worker = Worker(self.log, notify=self.notify)
            self.task = asyncio.create_task(self.worker.run(self.stop))
        elif live is None and view.status == "unknown" and not self._warned:
            if time.monotonic() - self._waiting_since > 5:  # Kafka: workers run elsewhere
                self._warned = True
                self.notify(
                    f"no worker has taken {self.execution_id} yet; "
                    f"start one with `omium worker --url {self.log.url}`"
                )

    def interrupted(self) -> None:
        """Ctrl-C: stop at once, cutting the steps in flight (they run again later)."""
        if self.worker is not None:
            self.worker.hand_over_grace = 0

    async def close(self) -> None:
        """Stop the in-process worker, if one was started (runs end at a step boundary)."""
        self.stop.set()
        if self.task is not None:
            with contextlib.suppress(Exception):
                await self.task


async def run_workflow(
    app: Omium,
    spec: WorkflowSpec,
    source: Path,
    inputs: dict[str, Any],
    *,
    execution_id: str | None = None,
    detach: bool = False,
    on_event: Callable[[Event], None] | None = None,
    notify: Notify = lambda message: None,
) -> RunResult:
    """Submit a run and follow it to its end (``detach``: return once it is on the log)."""
    execution_id = await submit(app.log, spec, source, inputs, execution_id=execution_id)
    if detach:
        return RunResult(execution_id=execution_id, status="queued", attempt=1)
    return await follow_run(app, execution_id, on_event=on_event, notify=notify)


async def follow_run(
    app: Omium,
    execution_id: str,
    *,
    on_event: Callable[[Event], None] | None = None,
    notify: Notify = lambda message: None,
) -> RunResult:
    """Follow a submitted run to its end, hosting a worker here if none serves the log.

    ``on_event`` sees each recorded event as it arrives. Cancelled (Ctrl-C), the worker
    hosted here stops at once and the run is left for the next worker.
    """
    local = LocalWorker(app.log, execution_id, notify)
    view = ExecutionView(execution_id=execution_id)
    failed: ExecutionFailed | None = None
    try:
        async for event in follow(app.log, execution_id, check=local.check):
            view = fold([event], view)
            failed = event if isinstance(event, ExecutionFailed) else failed
            if on_event is not None:
                on_event(event)
    except asyncio.CancelledError:
        local.interrupted()
        raise
    finally:
        await local.close()
    return RunResult(
        execution_id=execution_id,
        status=view.status,
        attempt=view.attempt,
        output=view.output,
        error=run_error(view, failed),
    )


def run_error(view: ExecutionView, failed: ExecutionFailed | None) -> RunError | None:
    """Why a run did not complete: its failure's type, message and step; else its status."""
    if view.status == "failed" and failed is not None and failed.attempt == view.attempt:
        error = failed.payload.error
        return RunError(type=error.type, message=error.message, step=failed.payload.step)
    if view.finished and view.status != "completed":  # cancelled, timed out
        return RunError(type=view.status, message=view.error, step=None)
    return None
