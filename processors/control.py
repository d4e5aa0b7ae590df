"""What a running execution is asked to do, and where a run continues from.

:class:`Control` carries the commands (pause, resume, cancel, rollback) from the worker to
the runner, which acts on them between steps. :func:`load_view` folds an execution from
the log and :func:`restore` says which state and step a run continues with.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import InitVar, dataclass, field
from typing import Any
from uuid import UUID

from omium.producers import EventLog
from omium.projections import CheckpointView, ExecutionView, fold
from omium.schemas import Rollback


@dataclass
class Control:
    """What commands ask of a running execution; the runner acts between steps."""

    paused: InitVar[bool] = False
    running: asyncio.Event = field(default_factory=asyncio.Event)
    pause_cause: UUID | None = None
    resume_cause: UUID | None = None
    cancel_cause: UUID | None = None
    cancel_reason: str | None = None
    #: set when the runner begins; a cancel before that is acted on by the runner itself
    started: bool = False
    #: a rollback to act on at the next step boundary
    rollback: Rollback | None = None
    #: a person's answer to the input the run waits for: (resume command id, value)
    answer: tuple[UUID, Any] | None = None
    #: set when an answer (or a rollback) arrives for a run that waits for input
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    #: the worker hands the run over (its partition moves, or the worker stops): the run
    #: ends at its next step boundary with everything it did recorded, unfinished
    handing_over: bool = False
    #: how many waits the run is parked in (paused, waiting for input): nothing is in
    #: flight then, so a hand-over need not wait for a step boundary
    parked: int = 0
    #: set while the log answers (the worker shares one among its runs): no step starts
    #: while it is clear, so a stalled log stops runs instead of letting them run ahead
    log_ready: asyncio.Event = field(default_factory=asyncio.Event)
    #: whether the worker stood still and is not yet confirmed as the owner (its
    #: :class:`~omium.processors.outage.Freezes`): then no step starts, nothing is written
    frozen: Callable[[], bool] = field(default=lambda: False)

    def __post_init__(self, paused: bool) -> None:
        if not paused:
            self.running.set()
        self.log_ready.set()

    def pause(self, cause: UUID) -> None:
        """Stop before the next step."""
        self.pause_cause = cause
        self.running.clear()

    def resume(self, cause: UUID) -> None:
        """Continue a paused execution."""
        self.resume_cause = cause
        self.running.set()

    def roll_back(self, command: Rollback) -> None:
        """Pause at the next step boundary, then continue from ``command``'s checkpoint."""
        self.rollback = command
        self.running.set()  # a paused run wakes up to roll back
        self.answered.set()  # so does one waiting for input

    def hand_over(self) -> None:
        """Ask the run to end at its next step boundary (see :attr:`handing_over`)."""
        self.handing_over = True

    def give_input(self, cause: UUID, value: Any) -> None:
        """Answer the input the run waits for (kept until the run asks, if it does not yet)."""
        self.answer = (cause, value)
        self.answered.set()

    def take_answer(self) -> tuple[UUID, Any] | None:
        """The answer given, once (then the run may wait for the next one)."""
        answer, self.answer = self.answer, None
        self.answered.clear()
        return answer


async def load_view(
    log: EventLog, execution_id: str, since_ms: int | None = None, *, start: int = 0
) -> ExecutionView:
    """Fold an execution's events.

    ``since_ms`` (none is older) and ``start`` (none sits before this offset) only narrow
    the read on a log without a key index (see ``read_execution``).
    """
    records = await log.read_execution(execution_id, since_ms=since_ms, start=start)
    return fold(
        (r.event() for r in records),
        ExecutionView(execution_id=execution_id),
        ((r.position.topic, r.position.partition, r.position.offset) for r in records),
    )


def restore(view: ExecutionView, inputs: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The state to continue from and the index of the next step to run.

    After the current attempt's last checkpoint; else, in an attempt a rollback opened,
    after the checkpoint it branched from (with the rollback's edits); else from the start.
    """
    checkpoint: CheckpointView | None = view.last_checkpoint()
    if checkpoint is not None and checkpoint.state is not None and checkpoint.index is not None:
        return dict(checkpoint.state), checkpoint.index + 1
    branch = view.branch()
    source = view.checkpoint(branch.checkpoint_id) if branch is not None else None
    if branch is not None and source is not None and source.index is not None:
        return dict(view.state), source.index + 1
    return dict(inputs), 0
