"""The response models: the JSON contract of the CLI's ``--json`` and of the HTTP API.

Both faces serialise these models with :func:`dump` and nothing else, so the two cannot
drift: a field added here appears in ``omium executions show --json`` and in
``GET /api/v1/executions/{id}`` at once, and the OpenAPI document describes both.
Builders (``from_view``, ``from_replayed``…) turn the folds' dataclasses into them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from omium.producers import Record
from omium.projections import CheckpointView, ExecutionView, Pos, Replayed, StateDiff
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
    """One run of a step in one attempt."""

    name: str
    status: str
    attempt: int
    seq: int
    started_at: datetime | None
    ended_at: datetime | None
    error: str | None
    retry: int
    duration_ms: float | None


class CheckpointRef(Model):
    """A checkpoint as the execution view lists it (``omium checkpoints`` has its state)."""

    checkpoint_id: str
    step: str | None
    attempt: int
    seq: int
    position: Position | None


class BranchOut(Model):
    """An attempt a rollback opened: where it continues from, with which edits."""

    attempt: int
    from_attempt: int
    checkpoint_id: str
    overrides: dict[str, Any]


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


class CheckpointOut(Model):
    """A checkpoint with its state: ``omium checkpoints --json``."""

    checkpoint_id: str
    step: str | None
    index: int | None
    attempt: int
    seq: int
    position: Position | None
    state: dict[str, Any] | None

    @classmethod
    def from_view(cls, c: CheckpointView) -> CheckpointOut:
        """From the fold's checkpoint."""
        return cls(
            checkpoint_id=c.checkpoint_id,
            step=c.step,
            index=c.index,
            attempt=c.attempt,
            seq=c.seq,
            position=Position.of(c.position),
            state=c.state,
        )


class Change(Model):
    """A key whose value changed."""

    from_: Any = Field(alias="from")
    to: Any


class DiffOut(Model):
    """``omium diff --json``: the state from one checkpoint to another."""

    added: dict[str, Any]
    removed: dict[str, Any]
    changed: dict[str, Change]

    @classmethod
    def from_diff(cls, diff: StateDiff) -> DiffOut:
        """From the fold's diff."""
        return cls(
            added=diff.added,
            removed=diff.removed,
            changed={k: Change(from_=a, to=b) for k, (a, b) in diff.changed.items()},
        )

    @property
    def empty(self) -> bool:
        """No key differs."""
        return not (self.added or self.removed or self.changed)


class TimelineEntryOut(Model):
    """One event of a replay's timeline."""

    attempt: int
    seq: int
    ts: datetime
    type: str
    summary: str
    position: Position | None


class MismatchOut(Model):
    """A checkpoint whose snapshot differs from the state its events add up to."""

    checkpoint_id: str
    attempt: int
    seq: int
    added: dict[str, Any]
    removed: dict[str, Any]
    changed: dict[str, Change]


class ReplayOut(Model):
    """``omium replay --json``: the execution as it was at a point of its log."""

    execution_id: str
    attempt: int
    position: Position | None
    seq: int
    status: str
    state: dict[str, Any]
    timeline: list[TimelineEntryOut]
    mismatches: list[MismatchOut]

    @classmethod
    def from_replayed(cls, result: Replayed) -> ReplayOut:
        """From the fold's replay."""
        mismatches = []
        for m in result.mismatches:
            diff = DiffOut.from_diff(m.diff)
            mismatches.append(
                MismatchOut(
                    checkpoint_id=m.checkpoint_id,
                    attempt=m.attempt,
                    seq=m.seq,
                    added=diff.added,
                    removed=diff.removed,
                    changed=diff.changed,
                )
            )
        return cls(
            execution_id=result.view.execution_id,
            attempt=result.attempt,
            position=Position.of(result.position),
            seq=result.seq,
            status=result.view.status,
            state=result.view.state,
            timeline=[
                TimelineEntryOut(
                    attempt=e.attempt,
                    seq=e.seq,
                    ts=e.ts,
                    type=e.type,
                    summary=e.summary,
                    position=Position.of(e.position),
                )
                for e in result.timeline.entries
            ],
            mismatches=mismatches,
        )


class RollbackOut(Model):
    """``omium rollback --json``, ``POST /executions/{id}/rollback``."""

    execution_id: str
    attempt: int
    from_checkpoint: str
    status: str
    #: the rollback waits for a worker: none serves the (embedded) log
    queued: bool = False


class StepReexecuted(Model):
    """What re-executing one step did."""

    name: str
    mode: str
    result: str
    calls_answered: int


class DivergenceOut(Model):
    """Where re-executed code first asked or did something the recording does not have."""

    at: str
    recorded: Any
    now: Any


class ReexecutionOut(Model):
    """``omium replay --reexecute --json``."""

    execution_id: str
    attempt: int
    steps: list[StepReexecuted]
    state: dict[str, Any]
    connections: int
    divergence: DivergenceOut | None


class RebuiltExecution(Model):
    """One execution of a rebuild."""

    workflow: str | None
    status: str
    attempt: int
    seq: int


class RebuildOut(Model):
    """``omium projections rebuild --json``."""

    records: int
    dead_letters: int
    executions: dict[str, RebuiltExecution]
    differences: dict[str, list[str]] | None = None


class WorkflowOut(Model):
    """A registered workflow version: ``omium workflows list --json``, ``GET /workflows``."""

    name: str
    version: str
    source: str
    modules: list[str]
    registered_at: datetime
    current: bool


class Steered(Model):
    """A pause, resume or cancel on the log: the view it was checked against."""

    execution_id: str
    command: str
    status: str
    queued: bool = False
