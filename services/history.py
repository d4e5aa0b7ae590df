"""Going back in a run's history: checkpoints, replay, diff, rollback, re-execution, rebuild.

The work is done by :mod:`omium.processors.history` (over the log, the truth) and the
pure folds; this module opens nothing, checks the request and shapes the answer into the
response models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from omium.processors import history
from omium.processors.rebuild import differences, rebuild
from omium.processors.reexecute import reexecute
from omium.projections import ExecutionView, Until
from omium.projections import describe as describe  # an event in one line, for the faces
from omium.schemas import ConfigError, Event
from omium.services.context import Omium
from omium.services.history_models import (
    CheckpointOut,
    DiffOut,
    DivergenceOut,
    RebuildOut,
    RebuiltExecution,
    ReexecutionOut,
    ReplayOut,
    RollbackOut,
    StepReexecuted,
)
from omium.services.local import LocalWorker, Notify
from omium.services.runs import follow, no_worker, visible


def parse_time(text: str, flag: str = "--to-time") -> datetime:
    """ISO 8601; a time without a zone is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{flag} {text!r}: not an ISO 8601 time", hint="e.g. 2026-11-26T10:15:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def checkpoints(
    app: Omium, execution_id: str, attempt: int | None = None
) -> list[CheckpointOut]:
    """Every checkpoint (of one attempt, when given), with its state."""
    await visible(app, execution_id)
    _, found = await history.checkpoints(app.log, execution_id, attempt, app.reader)
    return [CheckpointOut.from_view(c) for c in found]


async def replay(
    app: Omium,
    execution_id: str,
    *,
    to_offset: int | None = None,
    to_seq: int | None = None,
    to_checkpoint: str | None = None,
    to_time: datetime | None = None,
    attempt: int | None = None,
    verify: bool = False,
) -> ReplayOut:
    """The execution as it was at a point (default: its last event).

    The point is the event at ``to_offset`` of its partition, ``to_seq`` of ``attempt``,
    checkpoint ``to_checkpoint``, or the last at or before ``to_time`` (naive: UTC).
    ``verify`` checks every checkpoint snapshot against the state its events add up to.
    """
    await visible(app, execution_id)
    if to_time is not None and to_time.tzinfo is None:
        to_time = to_time.replace(tzinfo=UTC)
    until = Until(
        offset=to_offset, seq=to_seq, checkpoint=to_checkpoint, time=to_time, attempt=attempt
    )
    result = await history.replay_execution(
        app.log, execution_id, until, verify=verify, reader=app.reader
    )
    return ReplayOut.from_replayed(result)


async def diff(app: Omium, execution_id: str, first: str, second: str) -> DiffOut:
    """What changed in the state from checkpoint ``first`` to ``second``."""
    await visible(app, execution_id)
    return DiffOut.from_diff(await history.diff(app.log, execution_id, first, second, app.reader))


async def rollback(
    app: Omium,
    execution_id: str,
    checkpoint_id: str,
    overrides: Mapping[str, Any],
    *,
    added: Mapping[str, Any] | None = None,
    as_node: str | None = None,
    wait: bool = False,
    on_event: Callable[[Event], None] | None = None,
    notify: Notify = lambda message: None,
) -> RollbackOut:
    """Continue ``execution_id`` from ``checkpoint_id`` as a new attempt (nothing deleted).

    With ``wait`` the new attempt is followed to its end (``on_event`` sees its events, a
    worker is hosted here if none serves the embedded log) and ``status`` is its outcome;
    otherwise ``status`` is ``requested`` (and ``queued`` says whether it waits for a worker).
    """
    await visible(app, execution_id)
    request = await history.rollback(
        app.log, execution_id, checkpoint_id, overrides, app.reader, added=added, as_node=as_node
    )
    queued = False
    if wait:
        status = await _follow_attempt(app, request, on_event, notify)
    else:
        status, queued = "requested", await no_worker(app.log)
    return RollbackOut(
        execution_id=execution_id,
        attempt=request.attempt,
        from_checkpoint=checkpoint_id,
        status=status,
        queued=queued,
    )


async def _follow_attempt(
    app: Omium,
    request: history.RollbackRequest,
    on_event: Callable[[Event], None] | None,
    notify: Notify,
) -> str:
    execution_id = request.view.execution_id
    local = LocalWorker(app.log, execution_id, notify)
    outcome: str | None = None

    def done(view: ExecutionView) -> bool:
        nonlocal outcome
        outcome = request.outcome(view)
        return outcome is not None

    try:
        async for event in follow(app.log, execution_id, check=local.check, done=done):
            if on_event is not None and (
                event.attempt >= request.attempt or event.type == "execution.resumed"
            ):
                on_event(event)
    finally:
        await local.close()
    return outcome or "unknown"


async def reexecute_attempt(
    app: Omium,
    execution_id: str,
    *,
    attempt: int | None = None,
    until_step: str | None = None,
    live: frozenset[str] = frozenset(),
) -> ReexecutionOut:
    """Run a recorded attempt's code again here, answering its calls from the log."""
    await visible(app, execution_id)
    report = await reexecute(
        app.log,
        execution_id,
        attempt=attempt,
        until_step=until_step,
        live=live,
        reader=app.reader,
    )
    diverged = report.divergence
    return ReexecutionOut(
        execution_id=report.execution_id,
        attempt=report.attempt,
        steps=[
            StepReexecuted(
                name=s.name, mode=s.mode, result=s.result, calls_answered=s.calls_answered
            )
            for s in report.steps
        ],
        state=report.state,
        connections=report.connections,
        divergence=DivergenceOut(at=diverged.where, recorded=diverged.expected, now=diverged.actual)
        if diverged
        else None,
    )


async def rebuild_views(
    app: Omium, *, to_offset: int | None = None, to_time: datetime | None = None
) -> RebuildOut:
    """Refold every view from the log; as of now, compared with the live views too."""
    if to_offset is not None and to_time is not None:
        raise ConfigError("choose --to-offset or --to-time, not both")
    rebuilt = await rebuild(app.log, to_offset=to_offset, to_time=to_time)
    diffs = None
    if to_offset is None and to_time is None:
        live = {v.execution_id: v for v in await app.reader.executions()}
        diffs = differences(live, rebuilt.views)
    return RebuildOut(
        records=rebuilt.records,
        dead_letters=rebuilt.dead_letters,
        executions={
            v.execution_id: RebuiltExecution(
                workflow=v.workflow, status=v.status, attempt=v.attempt, seq=v.seq
            )
            for v in rebuilt.views.values()
        },
        differences=diffs,
    )
