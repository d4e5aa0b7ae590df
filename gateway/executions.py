"""``/api/v1/executions``: look runs up, steer them, go back in their history.

HTTP mapping only: each route calls one use case of :mod:`omium.services` and returns its
response model, which is also what the CLI's ``--json`` prints.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, Field

from omium.gateway.deps import OmiumDep, needs
from omium.gateway.errors import RESPONSES
from omium.services import history, runs
from omium.services.history_models import (
    CheckpointOut,
    DiffOut,
    ReplayOut,
    RollbackOut,
    TimelineEntryOut,
)
from omium.services.models import ExecutionOut, ExecutionPage, RecordOut

#: the routes that change a run want an operator (or admin) key
STEERS = needs("operator")

router = APIRouter(prefix="/api/v1/executions", tags=["executions"], responses=RESPONSES)

#: an ISO 8601 date or time, with or without a zone (a number is not a time here)
ISO_TIME = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"

Time = Annotated[str | None, Query(pattern=ISO_TIME, description="ISO 8601 (no zone: UTC)")]

#: the statuses a listing can ask for (another is refused by the use case, with the
#: message the CLI gives: the same 422 detail either way)
STATUS_HELP = f"one of {', '.join(sorted(runs.STATUSES))}"


@router.get("", response_model=ExecutionPage)
async def list_executions(
    omium: OmiumDep,
    status: Annotated[str | None, Query(description=STATUS_HELP)] = None,
    workflow: str | None = None,
    since: Annotated[
        str | None, Query(pattern=ISO_TIME, description="ISO 8601 (no zone: UTC)")
    ] = None,
    until: Annotated[
        str | None, Query(pattern=ISO_TIME, description="ISO 8601 (no zone: UTC)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=runs.PAGE_LIMIT)] = 50,
    cursor: str | None = None,
) -> ExecutionPage:
    """Executions, newest submission first; follow ``next_cursor`` for older ones."""
    return await runs.page(
        omium,
        status=status,
        workflow=workflow,
        since=history.parse_time(since, "since") if since else None,
        until=history.parse_time(until, "until") if until else None,
        limit=limit,
        cursor=cursor,
    )


@router.get("/{execution_id}", response_model=ExecutionOut)
async def show(omium: OmiumDep, execution_id: str) -> ExecutionOut:
    """One execution, as ``omium executions show --json``."""
    return await runs.show(omium, execution_id)


class Reason(BaseModel):
    """Why (recorded with the command)."""

    reason: str | None = Field(None, max_length=2000)


class Answer(Reason):
    """Resume a paused run, or answer one that waits for input (``input``)."""

    input: Any = None


async def _steer(omium: OmiumDep, execution_id: str, kind: str, **payload: Any) -> ExecutionOut:
    await runs.steer(omium, execution_id, kind, **payload)
    return await runs.show(omium, execution_id)


@router.post(
    "/{execution_id}/pause", dependencies=[STEERS], response_model=ExecutionOut, status_code=202
)
async def pause(
    omium: OmiumDep, execution_id: str, body: Annotated[Reason | None, Body()] = None
) -> ExecutionOut:
    """Pause before the next step (acted on by the run's worker)."""
    return await _steer(omium, execution_id, "pause", reason=(body or Reason()).reason)


@router.post(
    "/{execution_id}/resume", dependencies=[STEERS], response_model=ExecutionOut, status_code=202
)
async def resume(
    omium: OmiumDep, execution_id: str, body: Annotated[Answer | None, Body()] = None
) -> ExecutionOut:
    """Resume a paused execution; with ``input``, answer the question a run waits on."""
    body = body or Answer()
    payload: dict[str, Any] = {"reason": body.reason}
    if body.input is not None:
        payload["input"] = body.input
    return await _steer(omium, execution_id, "resume", **payload)


@router.post(
    "/{execution_id}/cancel", dependencies=[STEERS], response_model=ExecutionOut, status_code=202
)
async def cancel(
    omium: OmiumDep, execution_id: str, body: Annotated[Reason | None, Body()] = None
) -> ExecutionOut:
    """Cancel (the running step is interrupted)."""
    return await _steer(omium, execution_id, "cancel", reason=(body or Reason()).reason)


class RollbackRequest(BaseModel):
    """Continue from a checkpoint as a new attempt, with optional edits."""

    checkpoint: str = Field(min_length=1)
    set: dict[str, Any] = Field(default_factory=dict)
    add: dict[str, Any] = Field(default_factory=dict)
    as_node: str | None = None


@router.post(
    "/{execution_id}/rollback", dependencies=[STEERS], response_model=RollbackOut, status_code=202
)
async def rollback(omium: OmiumDep, execution_id: str, body: RollbackRequest) -> RollbackOut:
    """Roll back to ``checkpoint`` (nothing is deleted); the new attempt runs on a worker."""
    return await history.rollback(
        omium, execution_id, body.checkpoint, body.set, added=body.add, as_node=body.as_node
    )


@router.get("/{execution_id}/checkpoints", response_model=list[CheckpointOut])
async def checkpoints(
    omium: OmiumDep, execution_id: str, attempt: Annotated[int | None, Query(ge=1)] = None
) -> list[CheckpointOut]:
    """Every checkpoint with its state (of one attempt, when given)."""
    return await history.checkpoints(omium, execution_id, attempt)


@router.get("/{execution_id}/replay", response_model=ReplayOut)
async def replay(
    omium: OmiumDep,
    execution_id: str,
    to_offset: Annotated[int | None, Query(ge=0)] = None,
    to_seq: Annotated[int | None, Query(ge=0)] = None,
    to_checkpoint: str | None = None,
    to_time: Time = None,
    attempt: Annotated[int | None, Query(ge=1)] = None,
    verify: bool = False,
) -> ReplayOut:
    """The execution as it was at a point of its log (default: its last event)."""
    return await history.replay(
        omium,
        execution_id,
        to_offset=to_offset,
        to_seq=to_seq,
        to_checkpoint=to_checkpoint,
        to_time=history.parse_time(to_time) if to_time else None,
        attempt=attempt,
        verify=verify,
    )


@router.get("/{execution_id}/timeline", response_model=list[TimelineEntryOut])
async def timeline(omium: OmiumDep, execution_id: str) -> list[TimelineEntryOut]:
    """Every event of every attempt, summarised, in the order they were recorded."""
    return (await history.replay(omium, execution_id)).timeline


@router.get("/{execution_id}/diff", response_model=DiffOut)
async def diff(
    omium: OmiumDep,
    execution_id: str,
    a: Annotated[str, Query(min_length=1)],
    b: Annotated[str, Query(min_length=1)],
) -> DiffOut:
    """What changed in the state from checkpoint ``a`` to checkpoint ``b``."""
    return await history.diff(omium, execution_id, a, b)


@router.get("/{execution_id}/events", response_model=list[RecordOut])
async def events(omium: OmiumDep, execution_id: str) -> list[RecordOut]:
    """The execution's recorded events, in log order."""
    return await runs.records(omium, execution_id)
