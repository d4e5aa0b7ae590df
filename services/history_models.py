"""The response models of history: checkpoints, replay, diff, rollback, re-execution, rebuild.

The rest of the JSON contract is in :mod:`omium.services.models`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from omium.projections import CheckpointView, Replayed, StateDiff
from omium.services.models import Model, Position


class CheckpointOut(Model):
    """A checkpoint with its state: ``omium checkpoints --json``.

    ``ns`` and ``path``: as :class:`CheckpointRef`.
    """

    checkpoint_id: str
    step: str | None
    index: int | None
    ns: str = ""
    path: str = ""
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
            ns=c.ns,
            path=c.path,
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
