"""Debug re-execution of a ``framework: langgraph`` run: the graph runs again, here, for free.

Every node runs live in this process, on a private in-memory checkpointer (nothing is
appended to the log). Each LLM and tool call the graph's recorded model and tools make
(``record_model`` / ``record_tool``) is answered from the recorded ``llm.call`` /
``tool.call`` events, so no provider is called; each ``interrupt()`` is answered with the
recorded ``human.input_received`` values, in order. Each node's output is compared with its
recorded ``step.completed``; the first difference (an output, or a call the recording does
not have) is the divergence, reported with both sides.

Calls are matched by content among those not yet answered, not by strict order: nodes of
one superstep run concurrently and may call in another order than they did.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from omium.adapters.langgraph.runner import Finished, GraphRun, load_graph, resume_command
from omium.processors.reexecute import Diverged, Reexecution, StepOutcome
from omium.producers.calls import Call, calls_to
from omium.projections import ExecutionView
from omium.schemas import (
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
    if view.branch(attempt) is not None:
        raise ConfigError(
            f"attempt {attempt} of {view.execution_id} began with a rollback; re-executing "
            "a graph from a branch point is not supported yet",
            hint="re-execute attempt 1 with --attempt 1",
        )
    recorded = _recorded(events, attempt)
    graph = load_graph(spec, source.parent, source.name, InMemorySaver())
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
    answers = list(recorded.answers)
    try:
        with calls_to(sink):
            while True:
                async for _ in run.supersteps(graph_input):
                    pass
                outcome = await run.outcome()
                if isinstance(outcome, Finished):
                    report.state = outcome.output
                    break
                if not answers:
                    raise Diverged("interrupt(): no recorded answer left", None, outcome.requests)
                request_id = outcome.requests[0]["request_id"]
                graph_input = resume_command({request_id: answers.pop(0)})
    except Diverged as diverged:
        report.divergence = sink.diverged or diverged
    except _Stop:
        pass
    if report.divergence is None and until_step is None and sink.pending:
        left = [_asked(c) for c in sink.pending]
        report.divergence = Diverged("calls the recording has that were not made", left, None)
    return report


class _Stop(BaseException):
    """Reached ``--until-step``."""
