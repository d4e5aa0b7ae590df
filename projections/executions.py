"""The execution view: one run's status, steps, checkpoints and output, folded from its events.

Pure: ``apply(event, view) -> view`` registered per event class with ``singledispatch``;
:func:`fold` applies a sequence. A redelivered event (same ``attempt``, ``seq`` already
applied) changes nothing. The executor derives recovery from this view; the CLI shows it.

:func:`queue` folds a ``run`` command (``omium.commands``) into the view of an execution no
worker started yet: status ``queued``, so listings show work that waits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import singledispatch
from typing import Any

from omium.projections import saver_threads
from omium.projections.step_endings import close_steps, ended_as
from omium.projections.views import (
    Branch,
    CheckpointView,
    ExecutionView,
    Pos,
    StepView,
    already_applied,
    mark_applied,
    with_positions,
)
from omium.schemas import (
    CheckpointCreated,
    CheckpointRunsDeleted,
    CheckpointsPruned,
    CheckpointThreadDeleted,
    CheckpointWritesSaved,
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
    HumanInputReceived,
    HumanInputRequested,
    LLMCall,
    Run,
    StepCompleted,
    StepFailed,
    StepRetried,
    StepStarted,
    ToolCall,
)

#: Facts whose ``causation_id`` names a command (the worker skips commands already acted on).
CAUSED_BY_COMMANDS = (
    ExecutionSubmitted,
    ExecutionPaused,
    ExecutionResumed,
    ExecutionCancelled,
    ExecutionRolledBack,
    HumanInputReceived,
)


def fold(
    events: Iterable[Event],
    view: ExecutionView | None = None,
    positions: Iterable[Pos | None] | None = None,
) -> ExecutionView:
    """Apply ``events`` in order (with their log positions, when known)."""
    for event, position in with_positions(events, positions):
        view = view or ExecutionView(execution_id=event.execution_id)
        view = apply_at(event, view, position)
    return view or ExecutionView(execution_id="")


def applies(event: Event, view: ExecutionView) -> bool:
    """Whether folding ``event`` would change ``view`` (it is not a redelivery)."""
    return not already_applied(event, view.last_seq)


def apply_at(event: Event, view: ExecutionView, position: Pos | None) -> ExecutionView:
    """Apply one event unless it was already applied (same attempt, seq not newer)."""
    if not applies(event, view):
        return view
    updates: dict[str, Any] = {"last_seq": mark_applied(event, view.last_seq)}
    if not view.last_seq:  # the first event says whose execution it is
        updates["tenant_id"] = event.tenant_id
    if position is not None:
        updates["last_position"] = position
        if view.first_position is None:
            updates["first_position"] = position
    if _stale_lifecycle(event, view):
        return replace(view, **updates)
    view = apply(event, view)
    if isinstance(event, CheckpointCreated) and position is not None and view.checkpoints:
        last = view.checkpoints[-1]
        updates["checkpoints"] = (*view.checkpoints[:-1], replace(last, position=position))
    if event.causation_id is not None and isinstance(event, CAUSED_BY_COMMANDS):
        updates["applied_commands"] = view.applied_commands | {str(event.causation_id)}
    return replace(view, **updates)


def _stale_lifecycle(event: Event, view: ExecutionView) -> bool:
    """A lifecycle fact that must not change the status.

    A run ends once per attempt (a late write after the end changes nothing), and an
    attempt that a rollback replaced no longer decides the status; only a rollback opens
    the next attempt.
    """
    if not event.type.startswith("execution.") or isinstance(event, ExecutionRolledBack):
        return False
    if event.attempt < view.attempt:
        return True
    return view.finished and event.attempt == view.attempt


@singledispatch
def apply(event: Event, view: ExecutionView) -> ExecutionView:
    """Fold one event into the view (types the view does not track change nothing)."""
    return view


@apply.register
def _(event: ExecutionSubmitted, view: ExecutionView) -> ExecutionView:
    inputs = dict(event.payload.inputs)
    return replace(
        view,
        workflow=event.payload.workflow,
        status="submitted",
        inputs=inputs,
        state=inputs,
        submitted_at=event.ts,
    )


@apply.register
def _(event: ExecutionStarted, view: ExecutionView) -> ExecutionView:
    return replace(
        view,
        workflow=view.workflow or event.payload.workflow,
        status="waiting" if view.waiting else "running",  # a restarted run still waits
        attempt=max(view.attempt, event.attempt),
        started_at=view.started_at or event.ts,
    )


@apply.register
def _(event: ExecutionPaused, view: ExecutionView) -> ExecutionView:
    return replace(view, status="paused")


@apply.register
def _(event: ExecutionResumed, view: ExecutionView) -> ExecutionView:
    if view.finished:  # a rollback of a finished run was refused: it stays as it ended
        return view
    return replace(view, status="waiting" if view.waiting else "running")


@apply.register
def _(event: ExecutionCancelled, view: ExecutionView) -> ExecutionView:
    view = close_steps(view, event, "cancelled")
    return replace(view, status="cancelled", error=event.payload.reason, ended_at=event.ts)


@apply.register
def _(event: ExecutionCompleted, view: ExecutionView) -> ExecutionView:
    view = close_steps(view, event, "abandoned")
    return replace(view, status="completed", output=dict(event.payload.output), ended_at=event.ts)


@apply.register
def _(event: ExecutionFailed, view: ExecutionView) -> ExecutionView:
    error = f"{event.payload.error.type}: {event.payload.error.message}"
    view = close_steps(view, event, "abandoned")
    return replace(view, status="failed", error=error, ended_at=event.ts)


@apply.register
def _(event: ExecutionTimedOut, view: ExecutionView) -> ExecutionView:
    error = f"timed out after {event.payload.timeout_s:g} s"
    view = close_steps(view, event, "timed_out")
    return replace(view, status="timed_out", error=error, ended_at=event.ts)


@apply.register
def _(event: ExecutionRolledBack, view: ExecutionView) -> ExecutionView:
    payload = event.payload
    branch = Branch(
        event.attempt,
        payload.from_attempt,
        payload.checkpoint_id,
        payload.branch_seq,
        dict(payload.overrides),
        payload.as_node,
    )
    base = payload.state
    if base is None:  # recorded before rollbacks carried their state: find the snapshot
        source = view.checkpoint(payload.checkpoint_id)
        base = source.state if source is not None and source.state is not None else view.state
    view = close_steps(view, event, "abandoned")  # the attempts it supersedes
    return replace(
        view,
        status="running" if view.saver is None else view.status,  # a thread's fork runs nothing
        attempt=event.attempt,
        state={**base, **branch.overrides},
        branches=(*view.branches, branch),
        waiting=None,
        output=None,
        error=None,
        ended_at=None,
    )


@apply.register
def _(event: HumanInputRequested, view: ExecutionView) -> ExecutionView:
    if view.finished or event.payload.request_id in view.human_inputs:
        return view
    waiting = event.payload.model_dump(mode="json")
    return replace(view, status="waiting", waiting=waiting)


@apply.register
def _(event: HumanInputReceived, view: ExecutionView) -> ExecutionView:
    answered = {**view.human_inputs, event.payload.request_id: event.payload.value}
    waiting = view.waiting
    if waiting is None or waiting.get("request_id") != event.payload.request_id:
        return replace(view, human_inputs=answered)
    status = "running" if view.status == "waiting" else view.status
    return replace(view, status=status, waiting=None, human_inputs=answered)


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
        parent=event.payload.parent,
    )
    ended = ended_as(view, event.attempt)
    if ended is not None:  # a late write of an attempt that is over: it never ran on
        step = replace(step, status=ended, ended_at=event.ts)
    return _put_step(view, step)


@apply.register
def _(event: StepCompleted, view: ExecutionView) -> ExecutionView:
    nested = _nested(view, event)
    view = _end_step(view, event, "completed", None)
    if event.attempt == view.attempt and not nested:  # a subgraph's state is not the run's
        payload = event.payload
        view = replace(view, state={**view.state, **payload.output, **payload.accumulated})
    return view


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
        ns=event.payload.ns,
        run_id=_run_id(event.payload.metadata),
    )
    view = replace(view, checkpoints=(*view.checkpoints, checkpoint))
    if event.payload.checkpoint is not None and event.payload.ns == "":
        # a framework's own snapshot (a LangGraph checkpoint) is the state: its reducers
        # (lists that append, …) are not a merge of the node outputs
        if event.attempt == view.attempt and (event.payload.state or not view.state):
            view = replace(view, state=dict(event.payload.state))
    return saver_threads.checkpointed(event, view)


@apply.register
def _(event: CheckpointWritesSaved, view: ExecutionView) -> ExecutionView:
    return saver_threads.writes_saved(event, view)


def _run_id(metadata: dict[str, Any] | None) -> str | None:
    run_id = (metadata or {}).get("run_id")
    return run_id if isinstance(run_id, str) else None  # run_ids of a tombstone are str


# A framework checkpointer forgets checkpoints with tombstones; the view forgets what the
# checkpointer forgets (as ``ThreadIndex`` in omium.adapters.langgraph.index reads them),
# so `omium checkpoints` and rollback never offer a checkpoint the saver no longer has.


@apply.register
def _(event: CheckpointThreadDeleted, view: ExecutionView) -> ExecutionView:
    return replace(view, checkpoints=())


@apply.register
def _(event: CheckpointsPruned, view: ExecutionView) -> ExecutionView:
    kept = {(ref.ns, ref.checkpoint_id) for ref in event.payload.kept}
    return _keep(view, lambda c: (c.ns, c.checkpoint_id) in kept)


@apply.register
def _(event: CheckpointRunsDeleted, view: ExecutionView) -> ExecutionView:
    run_ids = set(event.payload.run_ids)
    return _keep(view, lambda c: c.run_id not in run_ids)


def _keep(view: ExecutionView, live: Callable[[CheckpointView], bool]) -> ExecutionView:
    return replace(view, checkpoints=tuple(c for c in view.checkpoints if live(c)))


@apply.register
def _(event: LLMCall, view: ExecutionView) -> ExecutionView:
    usage, payload = view.usage, event.payload
    return replace(
        view,
        usage=replace(
            usage,
            llm_calls=usage.llm_calls + 1,
            input_tokens=usage.input_tokens + payload.input_tokens,
            output_tokens=usage.output_tokens + payload.output_tokens,
            cost_usd=usage.cost_usd + (payload.cost_usd or 0.0),
        ),
    )


@apply.register
def _(event: ToolCall, view: ExecutionView) -> ExecutionView:
    return replace(view, usage=replace(view.usage, tool_calls=view.usage.tool_calls + 1))


def _nested(view: ExecutionView, event: StepCompleted) -> bool:
    """Whether the step runs inside another (a subgraph's node)."""
    current = view.step_map.get((event.attempt, event.payload.index))
    return current is not None and current.parent is not None


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
        duration_ms=_duration(event),
        parent=current.parent if current else None,
    )
    return _put_step(view, step)


def _duration(event: StepCompleted | StepFailed | StepRetried) -> float | None:
    """The measured run time of the step's code (a retry's payload has none)."""
    return getattr(event.payload, "duration_ms", None)


def queue(command: Run, view: ExecutionView) -> ExecutionView:
    """The view of an execution that a ``run`` command asked for: ``queued`` until its events.

    A command has no seq, so this is idempotent by content instead: it changes only a view
    that has no event folded (nor an earlier ``run``); once the execution's events are
    folded they decide, whichever of the two topics a processor reads first.
    """
    if view.last_seq or view.status != "unknown":
        return view
    return replace(
        view,
        workflow=command.payload.workflow,
        status="queued",
        inputs=dict(command.payload.inputs),
        submitted_at=command.ts,
        tenant_id=command.tenant_id,
    )
