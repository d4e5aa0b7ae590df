"""Going back in a run's history: replay to a point, list checkpoints, diff them, roll back.

Replay reads the execution's own events from the log (the log is the truth) and folds them
with the pure :func:`~omium.projections.replay`. A rollback is a command: the worker that
owns the execution records ``execution.rolled_back`` and continues as a new attempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from omium.processors.control import load_view
from omium.processors.reader import ProjectionReader
from omium.processors.worker import CLOCK_SKEW_MS
from omium.producers import EventLog, Record
from omium.projections import (
    CheckpointView,
    ExecutionView,
    Replayed,
    StateDiff,
    Until,
    replay,
    state_diff,
)
from omium.schemas import ConfigError, Conflict, NoSuchPoint, NotFound, NoViews, Run, from_dict
from omium.schemas.topics import COMMANDS


def _pairs(records: list[Record]) -> list[tuple[Any, tuple[str, int, int]]]:
    return [
        (r.event(), (r.position.topic, r.position.partition, r.position.offset)) for r in records
    ]


@dataclass(frozen=True)
class RollbackRequest:
    """A rollback command sent: the view it was checked against, its id, the attempt due."""

    view: ExecutionView
    command_id: str
    attempt: int

    def outcome(self, view: ExecutionView) -> str | None:
        """The new attempt's end status, ``refused``, or None while pending or running."""
        if view.attempt >= self.attempt:
            return view.status if view.finished else None
        return "refused" if self.command_id in view.applied_commands else None


async def events_of(
    log: EventLog, execution_id: str, reader: ProjectionReader | None = None
) -> list[Record]:
    """The execution's events, in log order (``NotFound`` when it has none).

    With a ``reader`` the read starts at the execution's first event, as its view
    recorded it: on Kafka (no key index) the cost then grows with the execution's own span
    of its partition, not with everything before it.
    """
    start = 0
    if reader is not None:
        try:
            view = await reader.execution(execution_id)
        except NoViews:
            view = None  # no processor ran yet: read the partition from its start
        if view is not None and view.first_position is not None:
            start = view.first_position[2]
    records = await log.read_execution(execution_id, start=start)
    if not records:
        await pending(log, execution_id)  # raises NotFound when it was never submitted
        raise NotFound(f"execution {execution_id} has not started yet; nothing to replay")
    return records


async def replay_execution(
    log: EventLog,
    execution_id: str,
    until: Until,
    *,
    verify: bool = False,
    reader: ProjectionReader | None = None,
) -> Replayed:
    """The execution as it was at ``until``."""
    records = await events_of(log, execution_id, reader)
    return replay(_pairs(records), until, verify=verify)


async def checkpoints(
    log: EventLog,
    execution_id: str,
    attempt: int | None = None,
    reader: ProjectionReader | None = None,
) -> tuple[ExecutionView, list[CheckpointView]]:
    """Every checkpoint (of one attempt, when given), with its state."""
    view = replay(_pairs(await events_of(log, execution_id, reader)), Until()).view
    found = [c for c in view.checkpoints if attempt is None or c.attempt == attempt]
    if attempt is not None and attempt not in view.last_seq:
        attempts = ", ".join(map(str, sorted(view.last_seq)))
        raise NoSuchPoint(f"execution {execution_id} has no attempt {attempt} (it has {attempts})")
    return view, found


async def diff(
    log: EventLog,
    execution_id: str,
    first: str,
    second: str,
    reader: ProjectionReader | None = None,
) -> StateDiff:
    """What changed in the state from checkpoint ``first`` to ``second``."""
    view, _ = await checkpoints(log, execution_id, reader=reader)
    a, b = _checkpoint(view, first), _checkpoint(view, second)
    return state_diff(a.state or {}, b.state or {})


def _checkpoint(view: ExecutionView, checkpoint_id: str) -> CheckpointView:
    found = view.checkpoint(checkpoint_id)
    if found is None:
        known = ", ".join(c.checkpoint_id for c in view.checkpoints) or "none yet"
        raise NoSuchPoint(
            f"execution {view.execution_id} has no checkpoint {checkpoint_id!r}",
            hint=f"its checkpoints: {known}",
        )
    return found


async def rollback(
    log: EventLog,
    execution_id: str,
    checkpoint_id: str,
    overrides: Mapping[str, Any],
    reader: ProjectionReader | None = None,
    *,
    added: Mapping[str, Any] | None = None,
    as_node: str | None = None,
) -> RollbackRequest:
    """Ask the execution's worker to continue from ``checkpoint_id`` as a new attempt.

    ``overrides`` change keys the checkpoint's state has (another key is refused: a typo
    would otherwise be a silent no-op); ``added`` may also set keys it does not have.
    ``as_node`` (graphs): the node the edits are written as, as LangGraph's
    ``update_state(as_node=...)`` (default: the one node that wrote them there).
    """
    view, _ = await checkpoints(log, execution_id, reader=reader)
    refuse_saver_thread(view)
    target = _checkpoint(view, checkpoint_id)
    refuse_subgraph_checkpoint(view, target)
    if target.index is None:
        raise ConfigError(
            f"checkpoint {checkpoint_id} was not taken after a workflow step; "
            "only step checkpoints can be continued from"
        )
    state = target.state or {}
    unknown = sorted(set(overrides) - set(state))
    if unknown:
        raise ConfigError(
            f"--set {', '.join(unknown)}: the state at {checkpoint_id} has no such key",
            hint=f"its keys: {', '.join(state) or 'none'}; to add a key, use --add KEY=VALUE",
        )
    overrides = {**overrides, **(added or {})}
    original = await original_run(log, view, "rolled back")
    if as_node is not None:
        if not overrides:
            raise ConfigError("--as-node names who writes the edits: give --set or --add too")
        if not (original.payload.spec or {}).get("graph"):
            raise ConfigError(
                f"--as-node: execution {execution_id} is not a graph run; "
                "only graphs write edits as a node"
            )
    command = from_dict(
        {
            "type": "rollback",
            "execution_id": execution_id,
            "tenant_id": original.tenant_id,
            "payload": {
                "checkpoint_id": checkpoint_id,
                "overrides": dict(overrides),
                "as_node": as_node,
                "run": original.payload.model_dump(mode="json"),
            },
        }
    )
    await log.append(command)
    return RollbackRequest(view, str(command.event_id), view.next_attempt)


def refuse_subgraph_checkpoint(view: ExecutionView, target: CheckpointView) -> None:
    """Refuse a rollback to a checkpoint inside a subgraph, naming the root one to use.

    A rollback continues the whole graph from a root checkpoint; LangGraph's own
    ``update_state`` on a subgraph's config forks only the subgraph's thread, which the
    parent never reads again once its node finished. So rather than fork the wrong graph,
    the rollback is refused, naming the root checkpoint whose superstep ran the subgraph.

    Raises:
        ConfigError: ``target`` is a subgraph's checkpoint.
    """
    if not target.ns:
        return
    path = target.path
    root = view.containing_root(target)
    node = path.split("/", 1)[0]
    if root is None:
        raise ConfigError(
            f"checkpoint {target.checkpoint_id} is inside subgraph {path}; "
            "only the root graph's checkpoints can be rolled back to"
        )
    raise ConfigError(
        f"checkpoint {target.checkpoint_id} is inside subgraph {path}, within root checkpoint "
        f"{root.checkpoint_id}: roll back to {root.checkpoint_id} to run node {node} again",
        hint=f"omium rollback {view.execution_id} {root.checkpoint_id} [--set KEY=VALUE]",
    )


def refuse_saver_thread(view: ExecutionView) -> None:
    """Refuse to steer a LangGraph thread an ``OmiumSaver`` recorded: no worker runs it.

    Raises:
        Conflict: ``view`` is such a thread (exit 2).
    """
    if view.saver is not None:
        raise Conflict(
            f"{view.execution_id} is a LangGraph thread recorded by OmiumSaver, not an omium "
            "run; it has no worker to steer"
        )


async def pending(log: EventLog, execution_id: str) -> ExecutionView:
    """The ``queued`` view of an execution submitted but not started.

    Raises:
        NotFound: no ``run`` command names ``execution_id`` either.
    """
    commands = await log.read_execution(execution_id, topic=COMMANDS.name)
    if not commands:
        raise NotFound(
            f"no execution {execution_id!r} in {log.url}",
            hint="list them with `omium executions list`",
        )
    first = commands[0].event()
    return ExecutionView(
        execution_id=execution_id,
        status="queued",
        workflow=first.payload.model_dump().get("workflow"),
        tenant_id=first.tenant_id,
    )


async def current(log: EventLog, execution_id: str) -> ExecutionView:
    """The execution folded from its own events, or its queued view (see :func:`pending`).

    Commands are checked against this, not against the projections: it is what the
    worker will see, however far the processors lag behind.
    """
    view = await load_view(log, execution_id)
    return await pending(log, execution_id) if view.status == "unknown" else view


async def original_run(log: EventLog, view: ExecutionView, action: str) -> Run:
    """The ``run`` command that started the execution (its workflow, spec and source)."""
    # the run command came shortly before the first event (less a margin for clocks)
    since = int(view.submitted_at.timestamp() * 1000) - CLOCK_SKEW_MS if view.submitted_at else None
    commands = await log.read_execution(view.execution_id, topic=COMMANDS.name, since_ms=since)
    original = next((c for c in (r.event() for r in commands) if isinstance(c, Run)), None)
    if original is None:
        raise ConfigError(
            f"execution {view.execution_id} was not started by `omium run`; "
            f"only workflow runs can be {action}"
        )
    return original
