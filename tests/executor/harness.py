"""Helpers for executor tests: workers running in the test's loop, and workflow specs."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omium.processors import service
from omium.processors.worker import Worker
from omium.producers import EventLog
from omium.projections import ExecutionView
from omium.schemas import Event, NotFound
from omium.schemas.workflow import WorkflowSpec

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

    async def submit(self, workflow: WorkflowSpec, **inputs: Any) -> str:
        execution_id = f"ex-{uuid.uuid4().hex[:10]}"
        inputs.setdefault("run_key", execution_id)
        return await service.submit(self.log, workflow, SOURCE, inputs, execution_id=execution_id)

    async def events(self, execution_id: str) -> list[Event]:
        return [r.event() for r in await self.log.read_execution(execution_id)]

    async def wait_for(
        self, execution_id: str, predicate: Callable[[ExecutionView], bool], timeout: float = 60
    ) -> ExecutionView:
        deadline = time.monotonic() + timeout
        while True:
            try:
                view = await service.show(self.log, execution_id)
            except NotFound:
                view = ExecutionView(execution_id=execution_id)
            if predicate(view):
                return view
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting; last view: {view.status} {view.steps}")
            await asyncio.sleep(0.05)

    async def finished(self, execution_id: str, timeout: float = 60) -> ExecutionView:
        return await self.wait_for(execution_id, lambda v: v.finished, timeout)
