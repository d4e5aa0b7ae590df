"""The :class:`~omium.services.client_port.Client` over the log itself (no gateway)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from omium.schemas.topics import EVENTS
from omium.schemas.workflow import WorkflowSpec
from omium.services import alerts, history, logs, registry, runs
from omium.services.alerts import AlertRow
from omium.services.client_port import Notify, OnEvent, Submission, quiet
from omium.services.context import Omium
from omium.services.history_models import CheckpointOut, DiffOut, ReplayOut, RollbackOut
from omium.services.local import follow_run
from omium.services.models import (
    ExecutionOut,
    ExecutionPage,
    ExecutionSummary,
    RecordOut,
    RunResult,
    Steered,
    WorkflowOut,
)
from omium.services.workflows import with_durability


class Local:
    """:class:`Client` over the log itself: the use cases of :mod:`omium.services`."""

    def __init__(self, app: Omium) -> None:
        self.app = app

    @property
    def where(self) -> str:
        """See :class:`Client`."""
        return self.app.log.url

    async def submit(
        self,
        name: str,
        inputs: Mapping[str, Any],
        *,
        execution_id: str | None = None,
        durability: str | None = None,
    ) -> Submission:
        """See :class:`Client`."""
        found = await registry.resolve(self.app, name)
        spec = with_durability(registry.spec_of(found), durability)
        return await self.submit_spec(
            spec, Path(found.source), inputs, execution_id=execution_id, version=found.version
        )

    async def submit_spec(
        self,
        spec: WorkflowSpec,
        source: Path,
        inputs: Mapping[str, Any],
        *,
        execution_id: str | None = None,
        version: str | None = None,
    ) -> Submission:
        """Submit a run of a workflow file read here (``omium run FILE``: a direct log only)."""
        ex = await runs.submit(
            self.app.log, spec, source, inputs, execution_id=execution_id, version=version
        )
        return Submission(ex, spec.name, len(spec.steps))

    async def no_worker(self) -> bool:
        """See :class:`Client`."""
        return await runs.no_worker(self.app.log)

    async def follow_run(
        self, execution_id: str, *, on_event: OnEvent = None, notify: Notify = quiet
    ) -> RunResult:
        """See :class:`Client`: a worker is hosted here if none serves the embedded log."""
        return await follow_run(self.app, execution_id, on_event=on_event, notify=notify)

    async def show(self, execution_id: str) -> ExecutionOut:
        """See :class:`Client`."""
        return await runs.show(self.app, execution_id)

    async def executions(self, status: str | None = None) -> list[ExecutionSummary]:
        """See :class:`Client`."""
        return await runs.executions(self.app, status)

    async def page(
        self,
        *,
        status: str | None = None,
        workflow: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> ExecutionPage:
        """See :class:`Client`."""
        return await runs.page(
            self.app, status=status, workflow=workflow, limit=limit, cursor=cursor
        )

    async def steer(self, execution_id: str, kind: str, **payload: Any) -> Steered:
        """See :class:`Client`."""
        return await runs.steer(self.app, execution_id, kind, **payload)

    async def rollback(
        self,
        execution_id: str,
        checkpoint_id: str,
        overrides: Mapping[str, Any],
        *,
        added: Mapping[str, Any] | None = None,
        as_node: str | None = None,
        wait: bool = False,
        on_event: OnEvent = None,
        notify: Notify = quiet,
    ) -> RollbackOut:
        """See :class:`Client`."""
        return await history.rollback(
            self.app,
            execution_id,
            checkpoint_id,
            overrides,
            added=added,
            as_node=as_node,
            wait=wait,
            on_event=on_event,
            notify=notify,
        )

    async def checkpoints(
        self, execution_id: str, attempt: int | None = None
    ) -> list[CheckpointOut]:
        """See :class:`Client`."""
        return await history.checkpoints(self.app, execution_id, attempt)

    async def replay(
        self,
        execution_id: str,
        *,
        to_offset: int | None = None,
        to_seq: int | None = None,
        to_checkpoint: str | None = None,
        to_time: datetime | None = None,
        attempt: int | None = None,
        verify: bool = False,
    ) -> ReplayOut:
        """See :class:`Client`."""
        return await history.replay(
            self.app,
            execution_id,
            to_offset=to_offset,
            to_seq=to_seq,
            to_checkpoint=to_checkpoint,
            to_time=to_time,
            attempt=attempt,
            verify=verify,
        )

    async def diff(self, execution_id: str, first: str, second: str) -> DiffOut:
        """See :class:`Client`."""
        return await history.diff(self.app, execution_id, first, second)

    async def records(
        self, execution_id: str, *, start: int = 0, end: int | None = None
    ) -> list[RecordOut]:
        """See :class:`Client`."""
        return await logs.read(
            self.app, topic=EVENTS.name, execution=execution_id, start=start, end=end
        )

    def tail(
        self,
        execution_id: str,
        *,
        from_beginning: bool = False,
        max_events: int | None = None,
        idle: float | None = None,
    ) -> AsyncIterator[RecordOut]:
        """See :class:`Client`."""
        return logs.tail(
            self.app,
            execution=execution_id,
            from_beginning=from_beginning,
            max_events=max_events,
            idle=idle,
        )

    async def workflows(self) -> list[WorkflowOut]:
        """See :class:`Client`."""
        return await registry.workflows(self.app)

    async def alerts_of(self, execution_id: str) -> list[AlertRow]:
        """See :class:`Client`."""
        tenant = self.app.caller.tenant if self.app.caller is not None else None
        return await alerts.of_execution(self.app.log, execution_id, tenant_id=tenant)
