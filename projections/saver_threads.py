"""LangGraph threads an ``OmiumSaver`` recorded outside the executor, folded into a view.

Such a thread has no ``execution.submitted`` or ``execution.started`` and no worker: only
``checkpoint.created`` (a LangGraph snapshot, its metadata: ``source``, ``step``) and
``checkpoint.writes_saved`` (a task's writes against the checkpoint it started from; its
``task_path`` names the node). Its first checkpoint on an execution nobody started
makes the view a thread's (:attr:`ExecutionView.saver`); then:

- the status is what the log can tell: ``waiting`` while the newest checkpoint has a
  pending ``interrupt()``, else ``idle`` (with the newest checkpoint's time) — never
  ``running``, which would promise a worker that does not exist;
- every superstep is a step: the nodes that wrote against a checkpoint, at the index of
  the checkpoint their writes led to, ``completed`` once that checkpoint is recorded,
  else ``waiting`` (an interrupt), ``failed`` (a task error) or ``incomplete`` (writes
  saved, the superstep not checkpointed: still running in its process, or cut short);
- the workflow is the graph's name when the metadata has one (``graph_id``, as the
  LangGraph platform and ``config={"metadata": {"graph_id": ...}}`` set it).

Writes may be recorded just before the checkpoint they name, so a superstep's row is
(re)computed whenever its checkpoint or its writes arrive.
"""

from __future__ import annotations

from dataclasses import replace

from omium.projections.views import ExecutionView, SaverThread, StepView
from omium.schemas import CheckpointCreated, CheckpointWritesSaved

INTERRUPT, RESUME, ERROR = "__interrupt__", "__resume__", "__error__"


def opens_thread(event: CheckpointCreated, view: ExecutionView) -> bool:
    """Whether ``event`` is the first checkpoint of a thread no run started."""
    return view.saver is None and view.status == "unknown" and event.payload.checkpoint is not None


def checkpointed(event: CheckpointCreated, view: ExecutionView) -> ExecutionView:
    """A root checkpoint of a saver thread: the newest, and the end of its parent's superstep."""
    if view.saver is None and not opens_thread(event, view):
        return view
    saver = view.saver or SaverThread()
    payload = event.payload
    graph = (payload.metadata or {}).get("graph_id")
    view = replace(
        view,
        workflow=view.workflow or (graph if isinstance(graph, str) else None),
        started_at=view.started_at or event.ts,
    )
    if payload.ns != "":  # a subgraph's checkpoint: the thread's steps are the root's
        return _with(view, saver)
    cid, parent = payload.checkpoint_id, payload.parent_id
    saver = replace(saver, newest=cid, last_checkpoint_at=event.ts)
    if parent is not None and parent in saver.pending:
        view = _row(view, saver, parent, event, done=True)
        saver = saver.forget(parent)
    view = _with(view, saver)
    if cid in saver.pending:  # writes recorded just before their checkpoint
        view = _row(view, saver, cid, event, done=False)
    return view


def writes_saved(event: CheckpointWritesSaved, view: ExecutionView) -> ExecutionView:
    """A task's writes: its node joins the superstep run from the checkpoint it names."""
    saver, payload = view.saver, event.payload
    if saver is None or payload.ns != "":
        return view
    cid = payload.checkpoint_id
    channels = {w.channel for w in payload.writes}
    nodes = saver.pending.get(cid, ())
    node = node_of(payload.task_path)
    if node is not None and node not in nodes and channels - {RESUME}:
        nodes = (*nodes, node)
    saver = replace(saver, pending={**saver.pending, cid: nodes})
    if INTERRUPT in channels:
        saver = replace(saver, interrupted=saver.interrupted | {cid})
    if RESUME in channels:  # the interrupt is being answered
        saver = replace(saver, interrupted=saver.interrupted - {cid})
    if ERROR in channels:
        saver = replace(saver, errored=saver.errored | {cid})
    view = _with(view, saver)
    return _row(view, saver, cid, event, done=False)


def node_of(task_path: str) -> str | None:
    """The node a task ran (``"~__pregel_pull, triage"`` -> ``triage``; a ``Send`` -> None)."""
    parts = [part.strip() for part in task_path.split(",")]
    return parts[1] if len(parts) > 1 and parts[0] == "~__pregel_pull" else None


def _with(view: ExecutionView, saver: SaverThread) -> ExecutionView:
    status = "waiting" if saver.newest in saver.interrupted else "idle"
    return replace(view, saver=saver, status=status)


def _row(
    view: ExecutionView,
    saver: SaverThread,
    cid: str,
    event: CheckpointCreated | CheckpointWritesSaved,
    *,
    done: bool,
) -> ExecutionView:
    """The step row of the superstep run from checkpoint ``cid`` (if ``cid`` is known)."""
    origin = view.checkpoint(cid)
    if origin is None:
        return view  # its checkpoint is not recorded yet (or was forgotten)
    index = (origin.index if origin.index is not None else -1) + 1
    nodes = saver.pending.get(cid, ())
    if done:
        status = "completed"
    elif cid in saver.interrupted:
        status = "waiting"
    elif cid in saver.errored:
        status = "failed"
    else:
        status = "incomplete"
    key = (event.attempt, index)
    earlier = view.step_map.get(key)
    step = StepView(
        ", ".join(nodes) or f"superstep {index}",
        index,
        event.attempt,
        status,
        event.seq,
        started_at=earlier.started_at if earlier is not None else event.ts,
        ended_at=event.ts if done else None,
    )
    return replace(view, step_map={**view.step_map, key: step})
