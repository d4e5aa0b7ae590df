"""Debug re-execution of a ``framework: langgraph`` run: the graph runs again, here, for free.

Every node runs live in this process, checkpointed on a private in-memory log (nothing is
appended to the real one). Each LLM and tool call the graph's recorded model and tools make
(``record_model`` / ``record_tool``) is answered from the recorded ``llm.call`` /
``tool.call`` events, so no provider is called; each ``interrupt()`` is answered with the
recorded ``human.input_received`` values, in order. Each node's output is compared with its
recorded ``step.completed``; the first difference (an output, or a call the recording does
not have) is the divergence, reported with both sides.

Calls are matched by content among those not yet answered, not by strict order: nodes of
one superstep run concurrently and may call in another order than they did. An attempt a
rollback opened starts from its branch checkpoint's recorded LangGraph snapshot, with the
rollback's edits applied by ``update_state``, as the rollback itself did.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from langgraph.checkpoint.base import CheckpointMetadata

from omium.adapters.langgraph import OmiumSaver
from omium.adapters.langgraph.runner import Finished, GraphRun, load_graph, resume_command
from omium.processors.reexecute import Diverged, Reexecution, StepOutcome
from omium.producers import open_log
from omium.producers.calls import Call, calls_to
from omium.projections import ExecutionView
from omium.schemas import (
    CheckpointCreated,
    ConfigError,
    Event,
    HumanInputReceived,
    LLMCall,
    StepCompleted,
    StepStarted,
)
from omium.schemas import ToolCall as ToolCallEvent
from omium.schemas.workflow import WorkflowSpec


class GraphReplaySink:
    """Answers calls from the recorded ones, matched by kind, name and request."""

    def __init__(self, recorded: list[LLMCall | ToolCallEvent]) -> None:
        self.pending = list(recorded)
        self.answered = 0
        #: the first call not in the recording (the graph may turn it into a node error)
        self.diverged: Diverged | None = None

    async def call(self, kind: str, name: str, request: Any, fn: Call, **extra: Any) -> Any:
        """See :class:`~omium.producers.calls.CallSink`; never calls ``fn``."""
        asked = {"kind": kind, "name": name, "request": request}
        for index, recorded in enumerate(self.pending):
            if _asked(recorded) == asked:
                del self.pending[index]
                self.answered += 1
                if isinstance(recorded, LLMCall):
                    return recorded.payload.response
                return recorded.payload.result
        nearest = _asked(self.pending[0]) if self.pending else None
        diverged = Diverged(f"call {self.answered + 1}: not in the recording", nearest, asked)
        self.diverged = self.diverged or diverged
        raise diverged


def _asked(event: LLMCall | ToolCallEvent) -> dict[str, Any]:
    if isinstance(event, LLMCall):
        return {"kind": "llm", "name": event.payload.model, "request": event.payload.request}
    return {"kind": "tool", "name": event.payload.tool, "request": event.payload.arguments}


@dataclass
class _Recorded:
    calls: list[LLMCall | ToolCallEvent] = field(default_factory=list)
    answers: list[Any] = field(default_factory=list)
    #: node -> its recorded outputs, in order
    outputs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    nodes: list[str] = field(default_factory=list)


def _recorded(events: list[Event], attempt: int) -> _Recorded:
    found = _Recorded()
    for event in events:
        if event.attempt != attempt:
            continue
        if isinstance(event, LLMCall | ToolCallEvent):
            found.calls.append(event)
        elif isinstance(event, HumanInputReceived):
            found.answers.append(event.payload.value)
        elif isinstance(event, StepStarted):
            found.nodes.append(event.payload.step)
        elif isinstance(event, StepCompleted):
            found.outputs.setdefault(event.payload.step, []).append(dict(event.payload.output))
    return found


async def reexecute_graph(
    spec: WorkflowSpec,
    source: Path,
    view: ExecutionView,
    events: list[Event],
    attempt: int,
    until_step: str | None,
) -> Reexecution:
    """Re-execute ``attempt`` of a graph run (see the module docs)."""
    recorded = _recorded(events, attempt)
    scratch = open_log("sqlite:///:memory:")  # a private log: nothing reaches the real one
    try:
        await scratch.create_topics()
        memory = OmiumSaver(scratch)
        return await _reexecute(spec, source, view, events, attempt, until_step, recorded, memory)
    finally:
        await scratch.close()


async def _reexecute(
    spec: WorkflowSpec,
    source: Path,
    view: ExecutionView,
    events: list[Event],
    attempt: int,
    until_step: str | None,
    recorded: _Recorded,
    memory: OmiumSaver,
) -> Reexecution:
    graph = load_graph(spec, source.parent, source.name, memory)
    steps: list[StepOutcome] = []
    seen: dict[str, int] = {}
    report = Reexecution(view.execution_id, attempt, steps, dict(view.inputs))
    sink = GraphReplaySink(recorded.calls)

    async def compare(event_type: str, payload: dict[str, Any]) -> None:
        if event_type not in ("step.completed", "step.failed"):
            return
        node = payload["step"]
        had = recorded.outputs.get(node, [])
        count = seen.get(node, 0)
        seen[node] = count + 1
        expected = had[count] if count < len(had) else None
        now = payload.get("output") if event_type == "step.completed" else payload.get("error")
        if now != expected:
            steps.append(StepOutcome(node, "live", "diverged", sink.answered))
            raise Diverged(f"node {node}: output", expected, now)
        steps.append(StepOutcome(node, "live", "completed", sink.answered))
        if node == until_step:
            raise _Stop

    run = GraphRun(graph, f"reexecute-{uuid.uuid4().hex[:8]}", compare)
    graph_input: Any = dict(view.inputs)
    checkpoint_id: str | None = None
    branch = view.branch(attempt)
    if branch is not None:  # fork the graph where the rollback did, with its edits
        checkpoint_id = await _seed(memory, run, events, branch.checkpoint_id)
        if branch.overrides:
            config = await graph.aupdate_state(run.config(checkpoint_id), branch.overrides)
            checkpoint_id = str(config["configurable"]["checkpoint_id"])
        graph_input = None
    answers = list(recorded.answers)
    try:
        with calls_to(sink):
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
    except Diverged as diverged:
        report.divergence = sink.diverged or diverged
    except _Stop:
        pass
    if report.divergence is None and until_step is None and sink.pending:
        left = [_asked(c) for c in sink.pending]
        report.divergence = Diverged("calls the recording has that were not made", left, None)
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


class _Stop(BaseException):
    """Reached ``--until-step``."""
