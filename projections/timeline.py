"""The timeline: what happened to one execution, in log order, across every attempt.

Each entry is one fact with a one-line description; an attempt opened by a rollback
starts with a ``branch`` entry naming the checkpoint it continues from. Pure, and
idempotent like every fold here: an entry already applied (same attempt, seq) is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from omium.projections.views import Pos, already_applied, mark_applied, with_positions
from omium.schemas import (
    AgentHandoff,
    CheckpointCreated,
    Event,
    ExecutionFailed,
    ExecutionRolledBack,
    ExecutionSubmitted,
    HumanInputReceived,
    HumanInputRequested,
    LLMCall,
    StepCompleted,
    StepFailed,
    StepRetried,
    StepStarted,
    ToolCall,
    ns_path,
)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One fact on the timeline."""

    attempt: int
    seq: int
    ts: datetime
    type: str
    summary: str
    position: Pos | None = None


@dataclass(frozen=True, slots=True)
class Timeline:
    """An execution's facts in log order."""

    execution_id: str
    entries: tuple[TimelineEntry, ...] = ()
    last_seq: dict[int, int] = field(default_factory=dict)


def fold_timeline(
    events: Iterable[Event],
    timeline: Timeline | None = None,
    positions: Iterable[Pos | None] | None = None,
) -> Timeline:
    """Apply ``events`` in order to ``timeline`` (a new one when omitted).

    The same as :func:`apply_timeline` event by event, in linear time: the entries are
    gathered in a list and frozen once, not copied per event.
    """
    pairs = with_positions(events, positions)
    if timeline is None:
        timeline = Timeline(execution_id=pairs[0][0].execution_id if pairs else "")
    entries, last_seq = list(timeline.entries), dict(timeline.last_seq)
    for event, position in pairs:
        if already_applied(event, last_seq):
            continue
        entries.append(_entry(event, position))
        last_seq = mark_applied(event, last_seq)
    return replace(timeline, entries=tuple(entries), last_seq=last_seq)


def _entry(event: Event, position: Pos | None) -> TimelineEntry:
    return TimelineEntry(event.attempt, event.seq, event.ts, event.type, describe(event), position)


def apply_timeline(event: Event, timeline: Timeline, position: Pos | None = None) -> Timeline:
    """Add ``event``'s entry unless it was already applied."""
    if already_applied(event, timeline.last_seq):
        return timeline
    return replace(
        timeline,
        entries=(*timeline.entries, _entry(event, position)),
        last_seq=mark_applied(event, timeline.last_seq),
    )


def describe(event: Event) -> str:
    """A one-line, human description of a fact."""
    match event:
        case ExecutionSubmitted():
            return f"submitted {event.payload.workflow}"
        case ExecutionRolledBack():
            back = event.payload
            edits = f" with {', '.join(sorted(back.overrides))} set" if back.overrides else ""
            node = f" as node {back.as_node}" if back.as_node else ""
            where = f"attempt {event.attempt} continues from {back.checkpoint_id}"
            return f"branch: {where}{edits}{node}"
        case ExecutionFailed():
            return f"failed: {event.payload.error.type}: {event.payload.error.message}"
        case StepStarted():
            again = f" (try {event.payload.retry + 1})" if event.payload.retry else ""
            return f"step {event.payload.step} started{again}"
        case StepCompleted():
            return f"step {event.payload.step} completed in {event.payload.duration_ms:.0f} ms"
        case StepFailed() | StepRetried():
            verb = "failed" if isinstance(event, StepFailed) else "will retry"
            error = event.payload.error
            return f"step {event.payload.step} {verb}: {error.type}: {error.message}"
        case CheckpointCreated():
            inside = f" in subgraph {ns_path(event.payload.ns)}" if event.payload.ns else ""
            return f"checkpoint {event.payload.checkpoint_id}{inside}"
        case AgentHandoff():
            handoff = event.payload
            what = f" ({handoff.reason})" if handoff.reason else ""
            context = handoff.context if isinstance(handoff.context, str) else None
            handed = f": {_short(context)}" if context else ""
            return f"handoff {handoff.from_agent} -> {handoff.to_agent}{what}{handed}"
        case LLMCall():
            call = event.payload
            return f"llm {call.model}: {call.input_tokens} in / {call.output_tokens} out"
        case ToolCall():
            return f"tool {event.payload.tool}"
        case HumanInputRequested():
            return f"waiting for input: {event.payload.prompt}"
        case HumanInputReceived():
            return f"input received for {event.payload.request_id}"
    return event.type.removeprefix("execution.")


def _short(text: str, width: int = 60) -> str:
    """``text`` on one line, cut to ``width`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"
