"""The read models: what one execution looks like once its events are folded.

Plain frozen dataclasses. ``Pos`` is a log position as a tuple ``(topic, partition,
offset)`` (the pure layer does not import the producers' ``Position``). A checkpoint's
``state`` is ``None`` in a stored view: the snapshot lives in the log at the checkpoint's
position and is read from there when needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from omium.schemas import Event, ns_path

Pos = tuple[str, int, int]


def with_positions(
    events: Iterable[Event], positions: Iterable[Pos | None] | None
) -> list[tuple[Event, Pos | None]]:
    """Pair events with their positions (``None`` each when positions are not known)."""
    items = list(events)
    where = list(positions) if positions is not None else [None] * len(items)
    return list(zip(items, where, strict=True))


def already_applied(event: Event, last_seq: Mapping[int, int]) -> bool:
    """Whether a fold that applied up to ``last_seq`` (attempt -> seq) has seen ``event``.

    The one redelivery check of every fold: an event whose ``seq`` is not newer than its
    attempt's last applied one is a redelivery and changes nothing. A ``seq`` of 0 (not
    numbered) is never a redelivery.
    """
    return bool(event.seq) and event.seq <= last_seq.get(event.attempt, 0)


def mark_applied(event: Event, last_seq: Mapping[int, int]) -> dict[int, int]:
    """``last_seq`` once ``event`` is applied: an unnumbered event (seq 0) moves nothing back."""
    return {**last_seq, event.attempt: max(event.seq, last_seq.get(event.attempt, 0))}


TERMINAL = frozenset({"completed", "failed", "cancelled", "timed_out"})
#: every status an execution view can have (``queued``: a run command no worker took yet;
#: ``idle``: a LangGraph thread recorded by ``OmiumSaver`` without a run, see SaverThread)
STATUSES = frozenset({"queued", "submitted", "running", "paused", "waiting", "idle"}) | TERMINAL


@dataclass(frozen=True, slots=True)
class StepView:
    """One step of one attempt."""

    name: str
    index: int
    attempt: int
    #: running | retrying (between tries) | completed | failed, or once its attempt ended
    #: without it finishing: cancelled | timed_out | abandoned (the run failed, completed
    #: without it, or a rollback superseded its attempt)
    status: str
    seq: int
    retry: int = 0
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error: str | None = None
    #: how long the step's code ran, as the worker measured it (the events' timestamps
    #: also hold the recording around it)
    duration_ms: float | None = None
    #: the index of the step this one runs inside (a LangGraph subgraph's node: its
    #: ``name`` is its path, ``write/draft``); None: a step of the workflow itself
    parent: int | None = None


@dataclass(frozen=True, slots=True)
class CheckpointView:
    """A checkpoint: the state after a step, and where its event sits in the log."""

    checkpoint_id: str
    step: str | None
    index: int | None
    attempt: int
    seq: int
    state: dict[str, Any] | None
    position: Pos | None = None
    #: the framework's namespace ('' = the root graph) and the run its metadata names:
    #: what a checkpointer's tombstones (``checkpoint.pruned``/``runs_deleted``) select by
    ns: str = ""
    run_id: str | None = None

    @property
    def path(self) -> str:
        """The subgraph the checkpoint belongs to, as a path of nodes ('' = the root graph).

        LangGraph's namespace ``write:<task id>|inner:<task id>`` is ``write/inner``.
        """
        return ns_path(self.ns)


@dataclass(frozen=True, slots=True)
class Branch:
    """Where an attempt opened by a rollback branches off an earlier one."""

    attempt: int
    from_attempt: int
    checkpoint_id: str
    branch_seq: int
    overrides: dict[str, Any] = field(default_factory=dict)
    #: graphs: the node the edits were written as (``omium rollback --as-node``)
    as_node: str | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """LLM and tool usage summed over every attempt."""

    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    tool_calls: int = 0


@dataclass(frozen=True, slots=True)
class SaverThread:
    """What a LangGraph thread recorded by ``OmiumSaver`` outside the executor shows.

    See :mod:`omium.projections.saver_threads`. Checkpoint ids are the root namespace's.
    """

    #: the newest checkpoint and when it was recorded
    newest: str | None = None
    last_checkpoint_at: datetime | None = None
    #: checkpoint id -> the nodes that wrote against it, until its next checkpoint
    pending: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: checkpoints with a pending ``interrupt()`` / a task error among their writes
    interrupted: frozenset[str] = frozenset()
    errored: frozenset[str] = frozenset()

    def forget(self, checkpoint_id: str) -> SaverThread:
        """The thread once ``checkpoint_id``'s superstep is checkpointed."""
        pending = {k: v for k, v in self.pending.items() if k != checkpoint_id}
        return SaverThread(
            self.newest,
            self.last_checkpoint_at,
            pending,
            self.interrupted - {checkpoint_id},
            self.errored - {checkpoint_id},
        )


@dataclass(frozen=True, slots=True)
class ExecutionView:
    """Everything omium knows about one execution, as of the last event folded."""

    execution_id: str
    workflow: str | None = None
    status: str = "unknown"  # see STATUSES
    attempt: int = 1
    inputs: dict[str, Any] = field(default_factory=dict)
    #: the run's state derived from the inputs and the outputs of completed steps
    state: dict[str, Any] = field(default_factory=dict)
    output: dict[str, Any] | None = None
    error: str | None = None
    #: (attempt, step index) -> the step's latest state, in the order steps first started
    step_map: dict[tuple[int, int], StepView] = field(default_factory=dict)
    checkpoints: tuple[CheckpointView, ...] = ()
    branches: tuple[Branch, ...] = ()
    usage: Usage = Usage()
    #: attempt -> the newest seq applied (a redelivered event changes nothing)
    last_seq: dict[int, int] = field(default_factory=dict)
    applied_commands: frozenset[str] = frozenset()
    #: the person's answer the run waits for (``request_id``, ``prompt``, ``expected``, ``step``)
    waiting: dict[str, Any] | None = None
    #: request_id -> the answer received (a run resumed after a crash reuses it)
    human_inputs: dict[str, Any] = field(default_factory=dict)
    submitted_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    #: where the execution's first and newest folded events sit in the log
    first_position: Pos | None = None
    last_position: Pos | None = None
    #: set for a LangGraph thread an ``OmiumSaver`` recorded outside the executor (no run)
    saver: SaverThread | None = None
    #: whose execution this is: the tenant of its first event (the gateway scopes by it)
    tenant_id: str = "default"

    @property
    def steps(self) -> tuple[StepView, ...]:
        """Every step of every attempt, in the order they first started."""
        return tuple(self.step_map.values())

    @property
    def finished(self) -> bool:
        """Whether the execution reached a terminal status."""
        return self.status in TERMINAL

    @property
    def seq(self) -> int:
        """The newest seq of the current attempt."""
        return self.last_seq.get(self.attempt, 0)

    @property
    def next_attempt(self) -> int:
        """The attempt a rollback opens: after the newest one (also a newer branch's)."""
        return max([self.attempt, *self.last_seq]) + 1

    def last_checkpoint(self, attempt: int | None = None) -> CheckpointView | None:
        """The newest checkpoint of ``attempt`` (default: the current attempt)."""
        wanted = self.attempt if attempt is None else attempt
        found = [c for c in self.checkpoints if c.attempt == wanted]
        return found[-1] if found else None

    def checkpoint(self, checkpoint_id: str) -> CheckpointView | None:
        """The checkpoint with that id (ids are unique within an execution)."""
        return next((c for c in self.checkpoints if c.checkpoint_id == checkpoint_id), None)

    def containing_root(self, checkpoint: CheckpointView) -> CheckpointView | None:
        """The root-graph checkpoint a subgraph's ``checkpoint`` was taken inside.

        A subgraph runs within one superstep of its parent: the one that continues from
        the newest root checkpoint before it (of the same attempt). None for a root
        checkpoint, or when no root checkpoint precedes it.
        """
        if not checkpoint.ns:
            return None
        before = [
            c
            for c in self.checkpoints
            if not c.ns and c.attempt == checkpoint.attempt and c.seq < checkpoint.seq
        ]
        return before[-1] if before else None

    def branch(self, attempt: int | None = None) -> Branch | None:
        """How ``attempt`` (default: the current one) began, if a rollback opened it."""
        wanted = self.attempt if attempt is None else attempt
        return next((b for b in self.branches if b.attempt == wanted), None)
