"""Steps their attempt left unfinished: the final status they get when it ends.

An execution that times out, is cancelled mid-step or fails (an event the log refused, a
bug) would otherwise show the interrupted step ``running`` forever. Pure, and a function
of the events folded so far, so redelivery and folding in batches change nothing.
"""

from __future__ import annotations

from dataclasses import replace

from omium.projections.views import ExecutionView
from omium.schemas import Event, ExecutionRolledBack

#: statuses of a step that has not ended (a retry waits for its next try)
UNFINISHED = frozenset({"running", "retrying"})
#: what an unfinished step becomes when its attempt ends with this status (else abandoned)
_ENDED_AS = {"cancelled": "cancelled", "timed_out": "timed_out"}


def close_steps(view: ExecutionView, event: Event, status: str) -> ExecutionView:
    """Give each step that ``event`` ends (and is unfinished) the final ``status``.

    A terminal fact ends its attempt and any earlier one; ``execution.rolled_back`` ends
    the attempts before the one it opens (they are superseded).
    """
    last = event.attempt - 1 if isinstance(event, ExecutionRolledBack) else event.attempt
    closed = {
        key: replace(step, status=status, ended_at=event.ts)
        for key, step in view.step_map.items()
        if step.attempt <= last and step.status in UNFINISHED
    }
    return replace(view, step_map={**view.step_map, **closed}) if closed else view


def ended_as(view: ExecutionView, attempt: int) -> str | None:
    """The final status of a step that ``attempt`` left unfinished, if the attempt is over."""
    if attempt < view.attempt:
        return "abandoned"  # superseded by a rollback
    if attempt == view.attempt and view.finished:
        return _ENDED_AS.get(view.status, "abandoned")
    return None
