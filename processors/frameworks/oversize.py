"""A step whose checkpoint does not fit in one event of the log.

A checkpoint holds the whole state, so two steps of 600 KiB each complete fine and the
checkpoint after the second is over the 1 MiB default limit (``OMIUM_MAX_EVENT_BYTES``).
The step did complete, so its ``step.completed`` is recorded; then the run fails with an
``execution.failed`` naming the step, the checkpoint's size, the limit, the state's
largest keys and the fix. Nothing after the step runs: without its checkpoint a crash
or a rollback could not continue from it.

The checkpoint is sized before the runner numbers it (:meth:`RunContext.checkpoint`
numbers the event, then sizes it), so a refused checkpoint leaves no gap in ``seq``.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from omium.processors.frameworks.base import RunContext
from omium.schemas import CheckpointCreated, ErrorInfo, Event, EventTooLarge, encode, validate
from omium.schemas.checkpoints import step_checkpoint_id

#: what the envelope may add to a checkpoint's state (ids, timestamps, step names): a state
#: this far below the limit is not sized exactly
ENVELOPE_ROOM = 4096

HINT = (
    "keep large values out of the state (store them elsewhere and return a reference such "
    "as a path or URL), or raise OMIUM_MAX_EVENT_BYTES (on Kafka also the broker's "
    "message.max.bytes)"
)


def oversized_checkpoint(
    ctx: RunContext, step: str, index: int, state: dict[str, Any]
) -> ErrorInfo | None:
    """Why the checkpoint after ``step`` cannot be recorded, or None when it fits."""
    limit = ctx.log.max_event_bytes
    if len(orjson.dumps(state)) + ENVELOPE_ROOM <= limit:
        return None
    # sized as the runner will record it, but not numbered (a seq it took would be a gap)
    dry = validate(
        CheckpointCreated,
        execution_id=ctx.execution_id,
        attempt=ctx.attempt,
        seq=2**53,
        causation_id=uuid.uuid4(),
        payload={
            "step": step,
            "index": index,
            "checkpoint_id": step_checkpoint_id(ctx.attempt, index, step),
            "state": state,
        },
    )
    try:
        encode(dry, max_bytes=limit)
    except EventTooLarge as exc:
        return checkpoint_too_large(step, exc, state)
    return None


def checkpoint_too_large(step: str, exc: EventTooLarge, state: dict[str, Any]) -> ErrorInfo:
    """The failure: the step, the checkpoint's size, the limit, the largest keys, the fix."""
    sizes = sorted(((k, len(orjson.dumps(v))) for k, v in state.items()), key=lambda ks: -ks[1])
    largest = ", ".join(f"{key!r} {size:,} bytes" for key, size in sizes[:3])
    return ErrorInfo(
        type="CheckpointTooLarge",
        message=f"the checkpoint after step {step!r} is {exc.size:,} bytes as an event, over "
        f"the log's {exc.limit:,}-byte limit (largest keys of the state: {largest}); {HINT}",
    )


async def record_completed_then_fail(
    ctx: RunContext, completed: Event, step: str, error: ErrorInfo
) -> str:
    """Record the step's completion, then the run's failure; returns ``"failed"``."""
    await ctx.emit(completed, ctx.prepare("execution.failed", step=step, error=error.model_dump()))
    return "failed"


def output_too_large(ctx: RunContext, completed: Event) -> ErrorInfo | None:
    """Why a step's own ``step.completed`` cannot be recorded (it fails the step), if so."""
    try:
        ctx.sized(completed)
    except EventTooLarge as exc:
        return ErrorInfo(type="InvalidOutput", message=str(exc))
    return None


def checkpoint_or_error(
    ctx: RunContext, step: str, index: int, state: dict[str, Any]
) -> Event | ErrorInfo:
    """The checkpoint after ``step`` (sized, not recorded), or why it cannot be recorded."""
    error = oversized_checkpoint(ctx, step, index, state)
    if error is not None:
        return error
    try:
        return ctx.checkpoint(step, index, state)
    except EventTooLarge as exc:  # within the envelope's bytes of the limit: numbered, refused
        return checkpoint_too_large(step, exc, state)
