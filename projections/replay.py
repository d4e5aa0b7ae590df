"""Replay: fold an execution's events up to a chosen point, and compare states.

:func:`replay` takes the execution's events with their log positions (reading them is the
caller's job) and a :class:`Until`; it returns the view and timeline as they were at that
point. With ``verify`` it also checks every step checkpoint's snapshot on the way against
the state derived from the inputs and the steps' outputs (a branch starts from its
snapshot, with the rollback's edits).

A framework's own snapshot (a LangGraph checkpoint) is checked as far as omium can derive
it without the framework: the graph's reducers combine what a node writes with what was
there (a list that appends), so a key the steps wrote since the previous snapshot (or the
inputs, before the first: a graph keeps those its state has) may hold more than the write,
or nothing; every other key must be as it was. Checkpoints
that are not a state after steps are not compared: a graph's input checkpoint (its input
is still a pending write) and a subgraph's (its own state, in its namespace).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from omium.projections.executions import apply_at
from omium.projections.timeline import Timeline, fold_timeline
from omium.projections.views import ExecutionView, Pos
from omium.schemas import (
    CheckpointCreated,
    Event,
    ExecutionRolledBack,
    ExecutionSubmitted,
    NoSuchPoint,
    StepCompleted,
)


@dataclass(frozen=True, slots=True)
class Until:
    """Where a replay stops (inclusive). At most one of offset, seq, checkpoint, time."""

    offset: int | None = None
    seq: int | None = None
    checkpoint: str | None = None
    time: datetime | None = None
    #: the attempt ``seq`` counts in (default: the newest); alone: the end of that attempt
    attempt: int | None = None


@dataclass(frozen=True, slots=True)
class StateDiff:
    """What changed from one state to another, key by key."""

    added: dict[str, Any] = field(default_factory=dict)
    removed: dict[str, Any] = field(default_factory=dict)
    changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A checkpoint whose snapshot differs from the state derived from the events."""

    checkpoint_id: str
    attempt: int
    seq: int
    diff: StateDiff  # from the derived state to the snapshot


@dataclass(frozen=True, slots=True)
class Replayed:
    """The result of a replay: the execution as it was at the chosen point."""

    view: ExecutionView
    timeline: Timeline
    #: the last event folded: its attempt, seq and position
    attempt: int
    seq: int
    position: Pos | None
    mismatches: tuple[Mismatch, ...] = ()


def state_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> StateDiff:
    """Key-by-key difference between two states (values compared with ``==``)."""
    return StateDiff(
        added={k: after[k] for k in after if k not in before},
        removed={k: before[k] for k in before if k not in after},
        changed={k: (before[k], after[k]) for k in before if k in after and before[k] != after[k]},
    )


def replay(
    items: Iterable[tuple[Event, Pos | None]], until: Until, *, verify: bool = False
) -> Replayed:
    """Fold ``items`` (one execution's events in log order) up to ``until``."""
    events = list(items)
    if not events:
        raise NoSuchPoint("the execution has no events to replay")
    stop = _stop_index(events, until)
    view = ExecutionView(execution_id=events[0][0].execution_id)
    folded = events[: stop + 1]
    timeline = fold_timeline((e for e, _ in folded), positions=(p for _, p in folded))
    mismatches: list[Mismatch] = []
    written: set[str] = set()  # keys the steps wrote since the last framework snapshot
    for event, position in folded:
        derived = view.state
        view = apply_at(event, view, position)
        if not verify:
            continue
        if isinstance(event, ExecutionSubmitted):  # a graph keeps the inputs its state has
            written = set(event.payload.inputs)
        elif isinstance(event, StepCompleted) and event.attempt == view.attempt:
            written |= set(event.payload.output)
        elif isinstance(event, ExecutionRolledBack):
            written = set(event.payload.overrides)
        elif isinstance(event, CheckpointCreated):
            diff = _difference(event, derived, written)
            if diff:
                mismatches.append(
                    Mismatch(event.payload.checkpoint_id, event.attempt, event.seq, diff)
                )
            root = not event.payload.ns and event.payload.index is not None
            if event.payload.checkpoint is not None and root:
                written = set()
    last, position = events[stop]
    return Replayed(view, timeline, last.attempt, last.seq, position, tuple(mismatches))


def _difference(event: CheckpointCreated, derived: dict[str, Any], written: set[str]) -> StateDiff:
    """How the checkpoint's snapshot differs from the ``derived`` state (see the module docs)."""
    payload = event.payload
    if payload.index is None or payload.ns:
        return StateDiff()  # not a state after steps
    diff = state_diff(derived, payload.state)
    if payload.checkpoint is None:
        return diff
    return StateDiff(
        added={k: v for k, v in diff.added.items() if k not in written},
        removed={k: v for k, v in diff.removed.items() if k not in written},
        changed={k: v for k, v in diff.changed.items() if k not in written},
    )


def _stop_index(events: list[tuple[Event, Pos | None]], until: Until) -> int:
    """The index of the last event to fold."""
    chosen = [
        name for name in ("offset", "seq", "checkpoint", "time") if getattr(until, name) is not None
    ]
    if len(chosen) > 1:
        raise NoSuchPoint(
            f"choose one replay point, not {' and '.join(chosen)}",
            hint="use one of --to-offset, --to-seq, --to-checkpoint, --to-time",
        )
    attempts = sorted({e.attempt for e, _ in events})
    attempt = until.attempt if until.attempt is not None else attempts[-1]
    if attempt not in attempts:
        raise NoSuchPoint(
            f"no attempt {attempt}", hint=f"attempts: {', '.join(map(str, attempts))}"
        )
    if until.offset is not None:
        return _offset_index(events, until.offset)
    if until.seq is not None:
        in_attempt = [(i, e.seq) for i, (e, _) in enumerate(events) if e.attempt == attempt]
        for i, seq in in_attempt:
            if seq >= until.seq:
                if seq > until.seq:
                    break
                return i
        seqs = [s for _, s in in_attempt]
        raise NoSuchPoint(
            f"attempt {attempt} has no seq {until.seq}",
            hint=f"its seqs run {min(seqs)}..{max(seqs)}" if seqs else None,
        )
    if until.checkpoint is not None:
        for i, (event, _) in enumerate(events):
            if (
                isinstance(event, CheckpointCreated)
                and event.payload.checkpoint_id == until.checkpoint
            ):
                return i
        known = [e.payload.checkpoint_id for e, _ in events if isinstance(e, CheckpointCreated)]
        raise NoSuchPoint(
            f"no checkpoint {until.checkpoint!r}",
            hint=f"checkpoints: {', '.join(known)}" if known else "the run has no checkpoints",
        )
    if until.time is not None:
        found = [i for i, (e, _) in enumerate(events) if e.ts <= until.time]
        if not found:
            raise NoSuchPoint(
                f"{until.time.isoformat()} is before the execution's first event",
                hint=f"it began at {events[0][0].ts.isoformat()}",
            )
        return found[-1]
    if until.attempt is not None:
        return max(i for i, (e, _) in enumerate(events) if e.attempt == attempt)
    return len(events) - 1


def _offset_index(events: list[tuple[Event, Pos | None]], offset: int) -> int:
    """The last event at or before ``offset``; an offset outside the events is refused."""
    offsets = [p[2] for _, p in events if p is not None]
    span = f"its events sit at offsets {offsets[0]}..{offsets[-1]}" if offsets else None
    if offsets and offset > offsets[-1]:
        raise NoSuchPoint(f"offset {offset} is after the execution's last event", hint=span)
    found = [i for i, (_, p) in enumerate(events) if p is not None and p[2] <= offset]
    if not found:
        raise NoSuchPoint(f"offset {offset} is before the execution's first event", hint=span)
    return found[-1]
