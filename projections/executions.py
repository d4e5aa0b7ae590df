"""The execution view: one run's status, steps, checkpoints and output, folded from its events.

Pure: ``apply(event, view) -> view`` registered per event class with ``singledispatch``;
:func:`fold` applies a sequence. A redelivered event (same ``attempt``, ``seq`` already
applied) changes nothing. The executor derives recovery from this view; the CLI shows it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import singledispatch
from typing import Any

from omium.schemas import (
    CheckpointCreated,
    Event,
    ExecutionCancelled,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionPaused,
    ExecutionResumed,
    ExecutionRolledBack,
    ExecutionStarted,
    ExecutionSubmitted,
    ExecutionTimedOut,
    StepCompleted,
    StepFailed,
    StepRetried,
    StepStarted,
)

TERMINAL = frozenset({"completed", "failed", "cancelled", "timed_out"})

#: Facts whose ``causation_id`` names a command (the worker skips commands already acted on).
CAUSED_BY_COMMANDS = (
    ExecutionSubmitted,
    ExecutionPaused,
    ExecutionResumed,
    ExecutionCancelled,
    ExecutionRolledBack,
)


@dataclass(frozen=True, slots=True)
class StepView:
    """One step of one attempt."""

    name: str
    index: int
    attempt: int
    status: str  # running | completed | failed | retrying
    seq: int
    retry: int = 0
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CheckpointView:
    """A checkpoint: the state after a step, and where its event sits in the log."""

    checkpoint_id: str
    step: str | None
    index: int | None
    attempt: int
    seq: int
    state: dict[str, Any]
    position: tuple[str, int, int] | None = None


@dataclass(frozen=True, slots=True)
class ExecutionView:
    """Everything the CLI shows about one execution."""

    execution_id: str
    workflow: str | None = None
    status: str = "unknown"  # submitted | running | paused | + TERMINAL
    attempt: int = 1
    inputs: dict[str, Any] = field(default_factory=dict)
    output: dict[str, Any] | None = None
    error: str | None = None
    #: (attempt, step index) -> the step's latest state, in the order steps first started
    step_map: dict[tuple[int, int], StepView] = field(default_factory=dict)
    checkpoints: tuple[CheckpointView, ...] = ()
    last_seq: dict[int, int] = field(default_factory=dict)
    applied_commands: frozenset[str] = frozenset()
    submitted_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def steps(self) -> tuple[StepView, ...]:
        """Every step of every attempt, in the order they first started."""
        return tuple(self.step_map.values())

    @property
    def finished(self) -> bool:
        """Whether the execution reached a terminal status."""
        return self.status in TERMINAL

    def last_checkpoint(self, attempt: int | None = None) -> CheckpointView | None:
        """The newest checkpoint of ``attempt`` (default: the current attempt)."""
        wanted = self.attempt if attempt is None else attempt
        found = [c for c in self.checkpoints if c.attempt == wanted]
        return found[-1] if found else None


def fold(
    events: Iterable[Event],
    view: ExecutionView | None = None,
    positions: Iterable[tuple[str, int, int] | None] | None = None,
) -> ExecutionView:
    """Apply ``events`` in order (with their log positions, when known)."""
    items = list(events)
    where = list(positions) if positions is not None else [None] * len(items)
    for event, position in zip(items, where, strict=True):
        view = view or ExecutionView(execution_id=event.execution_id)
        view = apply_at(event, view, position)
    return view or ExecutionView(execution_id="")


def apply_at(
    event: Event, view: ExecutionView, position: tuple[str, int, int] | None
) -> ExecutionView:
    """Apply one event unless it was already applied (same attempt, seq not newer)."""
    if event.seq and event.seq <= view.last_seq.get(event.attempt, 0):
        return view
    if view.finished and event.attempt == view.attempt and event.type.startswith("execution."):
        # a run ends once per attempt (a late write after the end changes nothing);
        # only a rollback opens the next attempt
        if not isinstance(event, ExecutionRolledBack):
            return replace(view, last_seq={**view.last_seq, event.attempt: event.seq})
    view = apply(event, view)
    if isinstance(event, CheckpointCreated) and position is not None and view.checkpoints:
        last = view.checkpoints[-1]
        view = replace(view, checkpoints=(*view.checkpoints[:-1], replace(last, position=position)))
    updates: dict[str, Any] = {"last_seq": {**view.last_seq, event.attempt: event.seq}}
    if event.causation_id is not None and isinstance(event, CAUSED_BY_COMMANDS):
        updates["applied_commands"] = view.applied_commands | {str(event.causation_id)}
    return replace(view, **updates)


@singledispatch
def apply(event: Event, view: ExecutionView) -> ExecutionView:
    """Fold one event into the view (types the view does not track change nothing)."""
    return view


@apply.register
def _(event: ExecutionSubmitted, view: ExecutionView) -> ExecutionView:
    return replace(
        view,
        workflow=event.payload.workflow,
        status="submitted",
        inputs=dict(event.payload.inputs),
        submitted_at=event.ts,
    )


@apply.register
def _(event: ExecutionStarted, view: ExecutionView) -> ExecutionView:
    return replace(
        view,
        workflow=view.workflow or event.payload.workflow,
        status="running",
        attempt=event.attempt,
    )


@apply.register
def _(event: ExecutionPaused, view: ExecutionView) -> ExecutionView:
    return replace(view, status="paused")


@apply.register
def _(event: ExecutionResumed, view: ExecutionView) -> ExecutionView:
    return replace(view, status="running")


@apply.register
def _(event: ExecutionCancelled, view: ExecutionView) -> ExecutionView:
    return replace(view, status="cancelled", error=event.payload.reason, ended_at=event.ts)


@apply.register
def _(event: ExecutionCompleted, view: ExecutionView) -> ExecutionView:
    return replace(view, status="completed", output=dict(event.payload.output), ended_at=event.ts)


@apply.register
def _(event: ExecutionFailed, view: ExecutionView) -> ExecutionView:
    error = f"{event.payload.error.type}: {event.payload.error.message}"
    return replace(view, status="failed", error=error, ended_at=event.ts)


@apply.register
def _(event: ExecutionTimedOut, view: ExecutionView) -> ExecutionView:
    error = f"timed out after {event.payload.timeout_s:g} s"
    return replace(view, status="timed_out", error=error, ended_at=event.ts)


@apply.register
def _(event: ExecutionRolledBack, view: ExecutionView) -> ExecutionView:
    return replace(
        view, status="running", attempt=event.attempt, output=None, error=None, ended_at=None
    )


@apply.register
def _(event: StepStarted, view: ExecutionView) -> ExecutionView:
    step = StepView(
        event.payload.step,
        event.payload.index,
        event.attempt,
        "running",
        event.seq,
        event.payload.retry,
        started_at=event.ts,
    )
    return _put_step(view, step)


@apply.register
def _(event: StepCompleted, view: ExecutionView) -> ExecutionView:
    return _end_step(view, event, "completed", None)


@apply.register
def _(event: StepFailed, view: ExecutionView) -> ExecutionView:
    return _end_step(
        view, event, "failed", f"{event.payload.error.type}: {event.payload.error.message}"
    )


@apply.register
def _(event: StepRetried, view: ExecutionView) -> ExecutionView:
    return _end_step(
        view, event, "retrying", f"{event.payload.error.type}: {event.payload.error.message}"
    )


@apply.register
def _(event: CheckpointCreated, view: ExecutionView) -> ExecutionView:
    checkpoint = CheckpointView(
        event.payload.checkpoint_id,
        event.payload.step,
        event.payload.index,
        event.attempt,
        event.seq,
        dict(event.payload.state),
    )
    return replace(view, checkpoints=(*view.checkpoints, checkpoint))


def _put_step(view: ExecutionView, step: StepView) -> ExecutionView:
    """Set ``step``'s row (a step keeps its place when it is tried again)."""
    return replace(view, step_map={**view.step_map, (step.attempt, step.index): step})


def _end_step(
    view: ExecutionView,
    event: StepCompleted | StepFailed | StepRetried,
    status: str,
    error: str | None,
) -> ExecutionView:
    current = view.step_map.get((event.attempt, event.payload.index))
    started = current.started_at if current else None
    step = StepView(
        event.payload.step,
        event.payload.index,
        event.attempt,
        status,
        event.seq,
        event.payload.retry,
        started_at=started,
        ended_at=event.ts,
        error=error,
    )
    return _put_step(view, step)
