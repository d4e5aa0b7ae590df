"""Debug re-execution of a ``framework: langgraph`` run: the graph runs again, here, for free.

Every node runs live in this process, checkpointed on a private in-memory log (nothing is
appended to the real one). Each LLM and tool call the graph's recorded model and tools make
(``record_model`` / ``record_tool``) is answered from the recorded ``llm.call`` /
``tool.call`` events, so no provider is called; each ``interrupt()`` is answered with the
recorded ``human.input_received`` values, in order. Each node's output is compared with its
recorded ``step.completed``; the first difference (an output, or a call the recording does
not have) is the divergence, reported with both sides.

Calls are matched by content among those not yet answered, not by strict order: nodes of
one superstep run concurrently and may call in another order than they did. Content is
what is asked (:func:`~omium.adapters.langgraph.models.semantic_request`: messages' types,
contents and tool calls), not the ids LangGraph gives messages anew on every run (a
prebuilt agent's input and tool messages); node outputs are compared without those ids. An attempt a
rollback opened starts from its branch checkpoint's recorded LangGraph snapshot, with the
rollback's edits applied by ``update_state``, as the rollback itself did.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any, cast

from langgraph.checkpoint.base import CheckpointMetadata

from omium.adapters.langgraph import OmiumSaver
from omium.adapters.langgraph.models import semantic_output, semantic_request
from omium.adapters.langgraph.runner import Finished, GraphRun, load_graph, resume_command
from omium.processors.frameworks.base import (
    Reexecution,
    ReexecutionRequest,
    StepOutcome,
    refuse_live_choice,
)
from omium.processors.frameworks.langgraph.fork import asked_node, fork
from omium.producers import open_log
from omium.producers.calls import calls_to
from omium.producers.recorded import Diverged, RecordedCalls, ReplaySink
from omium.schemas import (
    CheckpointCreated,
    ConfigError,
    Event,
    HumanInputReceived,
    LLMCall,
    StepCompleted,
    ToolCall,
)


class _Stop(BaseException):
    """Reached ``--until-step``."""


async def reexecute(request: ReexecutionRequest) -> Reexecution:
    """Re-execute one attempt of a graph run (see the module docs)."""
    scratch = open_log("sqlite:///:memory:")  # a private log: nothing reaches the real one
    try:
        await scratch.create_topics()
        return await _reexecute(request, OmiumSaver(scratch))
    finally:
        await scratch.close()


async def _reexecute(request: ReexecutionRequest, memory: OmiumSaver) -> Reexecution:
    mine = request.events_of_attempt()
    answers = [e.payload.value for e in mine if isinstance(e, HumanInputReceived)]
    outputs: dict[str, list[dict[str, Any]]] = {}  # node -> its recorded outputs, in order
    for event in mine:
        if isinstance(event, StepCompleted):
            outputs.setdefault(event.payload.step, []).append(dict(event.payload.output))
    calls = RecordedCalls.from_events(
        (e for e in mine if isinstance(e, LLMCall | ToolCall)),
        any_order=True,
        semantic=semantic_request,
    )
    source, view = request.source, request.view
    graph = load_graph(request.spec, source.parent, source.name, memory)
    refuse_live_choice(request, [n for n in graph.nodes if not n.startswith("__")], "graph")
    report = Reexecution(view.execution_id, request.attempt, [], dict(view.inputs))
    seen: dict[str, int] = {}

    async def compare(event_type: str, payload: dict[str, Any]) -> None:
        if event_type not in ("step.completed", "step.failed"):
            return
        node = payload["step"]
        had = outputs.get(node, [])
        count = seen[node] = seen.get(node, 0) + 1
        expected = had[count - 1] if count <= len(had) else None
        now = payload.get("output") if event_type == "step.completed" else payload.get("error")
        if semantic_output(now) != semantic_output(expected):  # new message ids are no change
            report.steps.append(StepOutcome(node, "live", "diverged", calls.answered))
            raise Diverged(f"node {node}: output", expected, now)
        report.steps.append(StepOutcome(node, "live", "completed", calls.answered))
        if node == request.until_step:
            raise _Stop

    run = GraphRun(graph, f"reexecute-{uuid.uuid4().hex[:8]}", compare)
    graph_input: Any = dict(view.inputs)
    checkpoint_id: str | None = None
    branch = view.branch(request.attempt)
    if branch is not None:  # fork the graph where the rollback did, with its edits
        checkpoint_id = await _seed(memory, run, request.events, branch.checkpoint_id)
        as_node = asked_node(request.events, request.attempt)
        checkpoint_id = await fork(run, checkpoint_id, branch.overrides, as_node, request.events)
        graph_input = None
    try:
        with calls_to(ReplaySink(calls)):
            while True:
                async for _ in run.supersteps(graph_input, checkpoint_id):
                    pass
                outcome = await run.outcome()
                if isinstance(outcome, Finished):
                    report.state = outcome.output
                    break
                if not answers:
                    raise Diverged("interrupt(): no recorded answer left", None, outcome.requests)
                request_id = outcome.requests[0]["request_id"]
                graph_input = resume_command({request_id: answers.pop(0)})
                checkpoint_id = None
        if request.until_step is None:
            calls.check_all_used()
    except Diverged as diverged:
        # the graph may have turned a divergence into a node error: report the first
        report.divergence = calls.diverged or diverged
    except _Stop:
        pass
    return report


async def _seed(memory: OmiumSaver, run: GraphRun, events: list[Event], checkpoint_id: str) -> str:
    """Put the recorded checkpoint ``checkpoint_id`` into ``memory``; returns its id.

    Raises:
        ConfigError: the log has no framework snapshot for it.
    """
    for event in events:
        if isinstance(event, CheckpointCreated) and event.payload.checkpoint_id == checkpoint_id:
            snapshot = event.payload.checkpoint
            if snapshot is None:
                break
            checkpoint = memory.serde.loads_typed((snapshot.type, base64.b64decode(snapshot.data)))
            metadata = cast(CheckpointMetadata, dict(event.payload.metadata or {}))
            versions = dict(checkpoint["channel_versions"])
            await memory.aput(run.config(), checkpoint, metadata, versions)
            return checkpoint_id
    raise ConfigError(
        f"the log has no LangGraph snapshot of checkpoint {checkpoint_id}",
        hint="re-execute attempt 1 with --attempt 1",
    )
