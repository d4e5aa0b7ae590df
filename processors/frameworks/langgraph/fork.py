"""Forking a graph where a rollback asks, as LangGraph's ``update_state`` does.

A rollback with edits (``--set`` / ``--add``) writes them into the checkpoint as if a node
had returned them: LangGraph must know which node, for the edges that follow and for the
reducers. After a superstep that ran one node it infers that node; after a parallel one
it cannot (``InvalidUpdateError: Ambiguous update, specify as_node``). So the node is:

1. the one the rollback named (``omium rollback --as-node NODE``), recorded on its
   ``execution.rolled_back``;
2. else the one node that wrote the edited keys in the superstep that ended at the
   checkpoint (its ``step.completed`` events, between the previous root checkpoint and
   this one);
3. else LangGraph's own inference — and when that is ambiguous the attempt fails with a
   one-line reason naming ``--as-node``.

Used by the run (:mod:`.run`) and by re-execution (:mod:`.reexecute`), so both fork alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from langgraph.errors import InvalidUpdateError

from omium.adapters.langgraph.runner import GraphRun
from omium.schemas import (
    CheckpointCreated,
    ConfigError,
    Event,
    ExecutionRolledBack,
    StepCompleted,
    StepStarted,
)


def asked_node(events: Iterable[Event], attempt: int) -> str | None:
    """The node the rollback that opened ``attempt`` named (``--as-node``), if any."""
    for event in events:
        if isinstance(event, ExecutionRolledBack) and event.attempt == attempt:
            return event.payload.as_node
    return None


def writers(events: Sequence[Event], checkpoint_id: str, keys: Iterable[str]) -> list[str]:
    """The nodes that wrote any of ``keys`` in the superstep ending at ``checkpoint_id``."""
    wanted = set(keys)
    target = next(
        (
            e
            for e in events
            if isinstance(e, CheckpointCreated)
            and e.payload.checkpoint_id == checkpoint_id
            and not e.payload.ns
        ),
        None,
    )
    if target is None:
        return []
    mine = [e for e in events if e.attempt == target.attempt and e.seq < target.seq]
    before = [e.seq for e in mine if isinstance(e, CheckpointCreated) and not e.payload.ns]
    since = max(before, default=0)
    # a subgraph's node writes the subgraph's state, not the root graph's
    nested = {
        e.payload.index for e in mine if isinstance(e, StepStarted) and e.payload.parent is not None
    }
    found: list[str] = []
    for event in mine:
        if isinstance(event, StepCompleted) and event.seq > since:
            if event.payload.index in nested:
                continue
            if wanted & set(event.payload.output) and event.payload.step not in found:
                found.append(event.payload.step)
    return found


async def fork(
    run: GraphRun,
    checkpoint_id: str,
    overrides: dict[str, Any],
    as_node: str | None,
    events: Sequence[Event],
) -> str:
    """``checkpoint_id``, or with ``overrides`` the fork ``update_state`` makes of it.

    Raises:
        ConfigError: LangGraph cannot tell which node the edits are written as, or the
            named node does not exist (the attempt fails with this reason).
    """
    if not overrides:
        return checkpoint_id
    wrote = writers(events, checkpoint_id, overrides) if as_node is None else []
    node = as_node if as_node is not None else (wrote[0] if len(wrote) == 1 else None)
    try:
        config = await run.graph.aupdate_state(run.config(checkpoint_id), overrides, as_node=node)
    except InvalidUpdateError as exc:
        nodes = [n for n in run.graph.nodes if not n.startswith("__")]
        keys = ", ".join(sorted(overrides))
        if as_node is not None:
            why = f"--as-node {as_node}"
        elif wrote:
            why = f"{' and '.join(wrote)} all wrote {keys} in that superstep"
        else:
            why = f"no node wrote {keys} in that superstep"
        raise ConfigError(
            f"cannot apply the edits at checkpoint {checkpoint_id}: {exc} ({why})",
            hint=f"roll back with --as-node NODE (one of: {', '.join(nodes)})",
        ) from exc
    return str(config["configurable"]["checkpoint_id"])
