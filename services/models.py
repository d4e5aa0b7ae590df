"""The response models: the JSON contract of the CLI's ``--json`` and of the HTTP API.

Both faces serialise these models with :func:`dump` and nothing else, so the two cannot
drift: a field added here appears in ``omium executions show --json`` and in
``GET /api/v1/executions/{id}`` at once, and the OpenAPI document describes both.
Builders (``from_view``, ``from_replayed``…) turn the folds' dataclasses into them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from omium.producers import Record
from omium.projections import ExecutionView, Pos
from omium.schemas import InvalidEvent


class Model(BaseModel):
    """A response: frozen, and serialised by field alias (``from`` is a keyword)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)


def dump(model: BaseModel | list[Any]) -> Any:
    """The JSON value of a response (a model or a list of them), as both faces send it."""
    if isinstance(model, list):
        return [dump(m) for m in model]
    return model.model_dump(mode="json", by_alias=True)


class Position(Model):
    """Where a record sits in the log."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}/{self.partition}@{self.offset}"

    @classmethod
    def of(cls, pos: Pos | None) -> Position | None:
        """From a fold's ``(topic, partition, offset)``."""
        return None if pos is None else cls(topic=pos[0], partition=pos[1], offset=pos[2])


class RecordOut(Model):
    """A record of the log: where it sits, its key, and its event (or why it does not decode)."""

    position: Position
    key: str | None
    event: dict[str, Any] | None = None
    error: str | None = None

    @classmethod
    def of(cls, record: Record) -> RecordOut:
        """From a record read from the log."""
        where = record.position
        position = Position(topic=where.topic, partition=where.partition, offset=where.offset)
        try:
            event = record.event().model_dump(mode="json")
        except InvalidEvent as exc:
            return cls(position=position, key=record.key, error=str(exc))
        return cls(position=position, key=record.key, event=event)


class StepOut(Model):
    """One run of a step in one attempt.

    A subgraph's node is named by its path (``write/draft``); ``parent`` is then the index
    of the step it runs inside.
    """

    name: str
    index: int
    parent: int | None = None
    status: str
    attempt: int
    seq: int
    started_at: datetime | None
    ended_at: datetime | None
    error: str | None
    retry: int
    duration_ms: float | None


class CheckpointRef(Model):
    """A checkpoint as the execution view lists it (``omium checkpoints`` has its state).

    ``ns`` is LangGraph's checkpoint namespace ('' for the root graph); ``path`` the
    subgraph it belongs to, as a path of nodes.
    """

    checkpoint_id: str
    step: str | None
    index: int | None = None
    ns: str = ""
    path: str = ""
    attempt: int
    seq: int
    position: Position | None


class BranchOut(Model):
    """An attempt a rollback opened: where it continues from, with which edits."""

    attempt: int
    from_attempt: int
    checkpoint_id: str
    overrides: dict[str, Any]
    #: graphs: the node the edits were written as (``--as-node``)
    as_node: str | None = None


class UsageOut(Model):
    """LLM and tool use of every attempt."""

    llm_calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    tool_calls: int


class SaverOut(Model):
    """A LangGraph thread recorded by ``OmiumSaver`` outside the executor (no omium run)."""

    newest_checkpoint: str | None
    last_checkpoint_at: datetime | None


class ExecutionOut(Model):
    """One execution: ``omium executions show --json``, ``GET /executions/{id}``."""

    execution_id: str
    workflow: str | None
    status: str
    attempt: int
    inputs: dict[str, Any]
    output: dict[str, Any] | None
    error: str | None
    waiting: dict[str, Any] | None
    steps: list[StepOut]
    checkpoints: list[CheckpointRef]
    branches: list[BranchOut]
    usage: UsageOut
    saver: SaverOut | None = None

    @classmethod
    def from_view(cls, view: ExecutionView) -> ExecutionOut:
        """From the execution's view."""
        u = view.usage
        return cls(
            execution_id=view.execution_id,
            workflow=view.workflow,
            status=view.status,
            attempt=view.attempt,
            inputs=view.inputs,
            output=view.output,
            error=view.error,
            waiting=view.waiting,
            steps=[
                StepOut(
                    name=s.name,
                    index=s.index,
                    parent=s.parent,
                    status=s.status,
                    attempt=s.attempt,
                    seq=s.seq,
                    started_at=s.started_at,
                    ended_at=s.ended_at,
                    error=s.error,
                    retry=s.retry,
                    duration_ms=s.duration_ms,
                )
                for s in view.steps
            ],
            checkpoints=[
                CheckpointRef(
                    checkpoint_id=c.checkpoint_id,
                    step=c.step,
                    index=c.index,
                    ns=c.ns,
                    path=c.path,
                    attempt=c.attempt,
                    seq=c.seq,
                    position=Position.of(c.position),
                )
                for c in view.checkpoints
            ],
            branches=[
                BranchOut(
                    attempt=b.attempt,
                    from_attempt=b.from_attempt,
                    checkpoint_id=b.checkpoint_id,
                    overrides=b.overrides,
                    as_node=b.as_node,
                )
                for b in view.branches
            ],
            usage=UsageOut(
                llm_calls=u.llm_calls,
                input_tokens=u.input_tokens,
                output_tokens=u.output_tokens,
                cost_usd=u.cost_usd,
                tool_calls=u.tool_calls,
            ),
            saver=None
            if view.saver is None
            else SaverOut(
                newest_checkpoint=view.saver.newest,
                last_checkpoint_at=view.saver.last_checkpoint_at,
            ),
        )


class CallOut(Model):
    """An LLM call, a tool call or a handoff between agents, as the dashboard's timeline marks it.

    ``kind`` is ``llm``, ``tool`` or ``handoff``; ``name`` the model, the tool, or
    ``from → to``. ``ts`` is when it was recorded (a call: when it returned, after
    ``duration_ms``); ``step`` the step it ran in, where the event says.
    """

    kind: str
    attempt: int
    seq: int
    ts: datetime
    name: str
    step: str | None = None
    agent: str | None = None
    duration_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    error: str | None = None
    from_agent: str | None = None
    to_agent: str | None = None
    reason: str | None = None


class ExecutionSummary(Model):
    """A row of ``omium executions list --json`` and ``GET /executions``."""

    execution_id: str
    workflow: str | None
    status: str
    attempt: int
    submitted_at: datetime | None
    #: steps of the current attempt that completed
    steps_completed: int = 0

    @classmethod
    def from_view(cls, view: ExecutionView) -> ExecutionSummary:
        """From the execution's view."""
        return cls(
            execution_id=view.execution_id,
            workflow=view.workflow,
            status=view.status,
            attempt=view.attempt,
            submitted_at=view.submitted_at,
            steps_completed=sum(
                s.status == "completed" for s in view.steps if s.attempt == view.attempt
            ),
        )


class ExecutionPage(Model):
    """A page of executions, newest first; ``next_cursor`` asks for the next one."""

    executions: list[ExecutionSummary]
    next_cursor: str | None = None


class RunError(Model):
    """Why a run did not complete: the error's type and message, and its step."""

    type: str
    message: str | None
    step: str | None


class RunResult(Model):
    """``omium run --json``: how a submitted run stands (``queued`` when detached)."""

    execution_id: str
    status: str
    attempt: int
    output: dict[str, Any] | None = None
    error: RunError | None = None


class Submitted(Model):
    """``POST /executions``: the run command is on the log."""

    execution_id: str
    status: str
    workflow: str
    version: str | None


class WorkflowOut(Model):
    """A registered workflow version: ``omium workflows list --json``, ``GET /workflows``."""

    name: str
    version: str
    source: str
    modules: list[str]
    registered_at: datetime
    current: bool


class KeyCreated(Model):
    """``omium keys create --json``: the key, shown this once (only its hash is kept)."""

    key: str
    key_id: str
    tenant: str
    role: str
    name: str


class KeyOut(Model):
    """An API key as listed: never the key nor its hash."""

    key_id: str
    name: str
    tenant: str
    role: str
    created_at: datetime
    revoked_at: datetime | None


class Steered(Model):
    """A pause, resume or cancel on the log: the view it was checked against."""

    execution_id: str
    command: str
    status: str
    queued: bool = False
