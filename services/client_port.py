"""The :class:`Client` port: the use cases a CLI command of the REST API's reach calls.

Two adapters: :class:`~omium.services.client_local.Local` (the use cases of
:mod:`omium.services` over the log) and :class:`~omium.services.client_http.HttpClient`
(the same, through a running ``omium serve``). Both return the same response models, so a
command prints the same thing and exits with the same code either way;
:func:`omium.services.client.connect` chooses between them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from omium.schemas import Event
from omium.services.alerts import AlertRow
from omium.services.history_models import CheckpointOut, DiffOut, ReplayOut, RollbackOut
from omium.services.models import (
    ExecutionOut,
    ExecutionPage,
    ExecutionSummary,
    RecordOut,
    RunResult,
    Steered,
    WorkflowOut,
)

#: what a long-lived call says it does (stderr, for the CLI)
Notify = Callable[[str], None]
OnEvent = Callable[[Event], None] | None


def quiet(message: str) -> None:
    """The default ``notify``: say nothing."""


@dataclass(frozen=True, slots=True)
class Submission:
    """A run on the log: its id, its workflow, and how many steps it has (if known)."""

    execution_id: str
    workflow: str
    steps: int | None


class Client(Protocol):
    """The use cases a CLI command of the API's reach calls (see the module docstring)."""

    @property
    def where(self) -> str:
        """What it talks to (a log URL or a gateway URL), for messages."""
        ...

    async def submit(
        self,
        name: str,
        inputs: Mapping[str, Any],
        *,
        execution_id: str | None = None,
        durability: str | None = None,
    ) -> Submission:
        """Submit a run of the registered workflow ``name`` (its current version)."""
        ...

    async def no_worker(self) -> bool:
        """Whether a command waits for a worker that is not there (False: cannot tell)."""
        ...

    async def follow_run(
        self, execution_id: str, *, on_event: OnEvent = None, notify: Notify = quiet
    ) -> RunResult:
        """Follow a submitted run to its end; ``on_event`` sees each event."""
        ...

    async def show(self, execution_id: str) -> ExecutionOut:
        """One execution."""
        ...

    async def executions(self, status: str | None = None) -> list[ExecutionSummary]:
        """Every execution (of one status), oldest submission first."""
        ...

    async def page(
        self,
        *,
        status: str | None = None,
        workflow: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> ExecutionPage:
        """The newest ``limit`` executions (after ``cursor``), as ``GET /executions`` pages."""
        ...

    async def steer(self, execution_id: str, kind: str, **payload: Any) -> Steered:
        """Pause, resume (``input``: answer a waiting run) or cancel."""
        ...

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
        """Continue from a checkpoint as a new attempt (``wait``: to its end)."""
        ...

    async def checkpoints(
        self, execution_id: str, attempt: int | None = None
    ) -> list[CheckpointOut]:
        """Every checkpoint with its state."""
        ...

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
        """The execution as it was at a point."""
        ...

    async def diff(self, execution_id: str, first: str, second: str) -> DiffOut:
        """The state from checkpoint ``first`` to ``second``."""
        ...

    async def records(
        self, execution_id: str, *, start: int = 0, end: int | None = None
    ) -> list[RecordOut]:
        """The execution's records with ``start <= offset < end`` (none: an empty list)."""
        ...

    def tail(
        self,
        execution_id: str,
        *,
        from_beginning: bool = False,
        max_events: int | None = None,
        idle: float | None = None,
    ) -> AsyncIterator[RecordOut]:
        """The execution's events as they are recorded, until ``max_events`` or ``idle``."""
        ...

    async def workflows(self) -> list[WorkflowOut]:
        """Every registered workflow and version."""
        ...

    async def alerts_of(self, execution_id: str) -> list[AlertRow]:
        """The alerts raised about one execution (any attempt), oldest first."""
        ...
