"""Helpers for executor tests: workers running in the test's loop, and workflow specs."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from omium.processors.history import current
from omium.processors.worker import Worker
from omium.producers import EventLog, partition_for
from omium.projections import ExecutionView
from omium.schemas import Event, ExecutionStarted, NotFound, Run
from omium.schemas.workflow import WorkflowSpec
from omium.services import runs as service

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "flows.yaml"  # need not exist: step modules resolve from its folder


def spec(*steps: str | dict[str, Any], **extra: Any) -> WorkflowSpec:
    """A python workflow whose steps call flow_steps:<name> (or full step dicts)."""
    rows = [
        {"name": f"{s}{i}", "call": f"flow_steps:{s}"} if isinstance(s, str) else s
        for i, s in enumerate(steps)
    ]
    return WorkflowSpec.model_validate({"name": "test-flow", "steps": rows, **extra})


class Harness:
    def __init__(self, log: EventLog) -> None:
        self.log = log
        self.workers: list[tuple[Worker, asyncio.Event, asyncio.Task[None]]] = []

    async def start_worker(self, **options: Any) -> Worker:
        stop = asyncio.Event()
        worker = Worker(self.log, group=self.group, poll_timeout=0.05, **options)
        task = asyncio.create_task(worker.run(stop))
        self.workers.append((worker, stop, task))
        await asyncio.wait_for(worker.ready.wait(), 60)
        return worker

    async def stop_workers(self) -> None:
        for _, stop, _ in self.workers:
            stop.set()
        for _, _, task in self.workers:
            await asyncio.wait_for(task, 60)
        self.workers.clear()

    group = "omium-executor"

    async def submit(
        self, workflow: WorkflowSpec, *, execution_id: str | None = None, **inputs: Any
    ) -> str:
        execution_id = execution_id or f"ex-{uuid.uuid4().hex[:10]}"
        inputs.setdefault("run_key", execution_id)
        return await service.submit(self.log, workflow, SOURCE, inputs, execution_id=execution_id)

    async def ids_on_every_partition(self) -> list[str]:
        """Fresh execution ids whose commands land on every partition, one each.

        Whichever partitions a joining worker is given, some of these executions move to it.
        """
        partitions = await self.log.partitions(Run.TOPIC)
        found: dict[int, str] = {}
        while len(found) < partitions:
            execution_id = f"ex-{uuid.uuid4().hex[:10]}"
            found.setdefault(partition_for(execution_id, partitions), execution_id)
        return list(found.values())

    async def id_on_the_partition_of(self, execution_id: str) -> str:
        """A fresh execution id whose commands land on ``execution_id``'s partition."""
        partitions = await self.log.partitions(Run.TOPIC)
        wanted = partition_for(execution_id, partitions)
        while True:
            other = f"ex-{uuid.uuid4().hex[:10]}"
            if partition_for(other, partitions) == wanted:
                return other

    async def workers_of(self, execution_id: str) -> list[str | None]:
        """Which workers started (or resumed) the execution, in log order."""
        events = await self.events(execution_id)
        return [e.payload.worker for e in events if isinstance(e, ExecutionStarted)]

    async def events(self, execution_id: str) -> list[Event]:
        return [r.event() for r in await self.log.read_execution(execution_id)]

    async def wait_for(
        self, execution_id: str, predicate: Callable[[ExecutionView], bool], timeout: float = 60
    ) -> ExecutionView:
        deadline = time.monotonic() + timeout
        while True:
            try:
                view = await current(self.log, execution_id)
            except NotFound:
                view = ExecutionView(execution_id=execution_id)
            if predicate(view):
                return view
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting; last view: {view.status} {view.steps}")
            await asyncio.sleep(0.05)

    async def log_shows(
        self, what: str, check: Callable[[], Awaitable[bool]], timeout: float = 60
    ) -> None:
        """Wait until ``check`` holds (a condition read from the log, never a fixed sleep)."""
        deadline = time.monotonic() + timeout
        while not await check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting until {what}")
            await asyncio.sleep(0.05)

    async def finished(self, execution_id: str, timeout: float = 60) -> ExecutionView:
        return await self.wait_for(execution_id, lambda v: v.finished, timeout)
