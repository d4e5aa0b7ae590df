"""Running a ``framework: langgraph`` workflow: the graph's supersteps are the run's steps.

The graph is compiled with an :class:`~omium.adapters.langgraph.OmiumSaver` that writes
through the runner (so its checkpoints are this execution's ``checkpoint.created`` events,
in order with the step events), with durability ``sync``: a superstep's checkpoint is on
the log before the next one runs. Then, as for python steps:

- pause / resume act between supersteps; cancel interrupts the running one;
- after a crash the run continues from the attempt's last checkpoint (LangGraph re-runs
  only the tasks whose writes were not saved);
- a rollback forks the graph at the chosen checkpoint (with ``--set`` edits applied by
  ``update_state``) in a new omium attempt;
- an ``interrupt()`` records ``human.input_requested`` and the run waits; the answer
  (``omium resume ID --input JSON``) is recorded as ``human.input_received`` and given to
  the graph as ``Command(resume=...)``. A run recovered after a crash reuses an answer
  already recorded.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from langgraph.config import get_config

from omium.adapters.langgraph import OmiumSaver
from omium.adapters.langgraph.runner import (
    Finished,
    GraphRun,
    Interrupted,
    load_graph,
    resume_command,
)
from omium.processors.frameworks.base import ROLLBACK, Branch, RunContext
from omium.processors.frameworks.langgraph.fork import asked_node, fork
from omium.producers.calls import RecordingSink, calls_to
from omium.projections import ExecutionView
from omium.schemas import Event, ns_path


class _SaverSink:
    """Where the checkpointer's events go: the runner's current attempt, in order."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.graph_run: GraphRun | None = None
        self.saver: OmiumSaver | None = None

    async def record(self, thread_id: str, events: list[tuple[str, dict[str, Any]]]) -> None:
        ctx = self.ctx
        assert thread_id == ctx.execution_id
        prepared = []
        for event_type, payload in events:
            if event_type == "checkpoint.created":
                payload = self._named(payload)
            elif event_type == "checkpoint.writes_saved" and self.graph_run is not None:
                for step_type, step in self._finished(payload):
                    prepared.append(ctx.sized(ctx.prepare(step_type, **step)))
            prepared.append(ctx.sized(ctx.prepare(event_type, **payload)))
        await ctx.emit(*prepared)

    def _finished(self, payload: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """The step fact of the task whose writes these are (before the writes)."""
        assert self.graph_run is not None and self.saver is not None
        writes: dict[str, Any] = {}
        error: Any = None
        interrupted = False
        for write in payload.get("writes", []):
            channel = write["channel"]
            if channel == "__interrupt__":
                interrupted = True
            elif channel == "__error__":
                error = {"type": "Error", "message": str(self._value(write))}
            elif not channel.startswith(("__", "branch:", "join:")):
                writes[channel] = self._value(write)
        return self.graph_run.finish(str(payload["task_id"]), writes, error, interrupted)

    def _value(self, write: dict[str, Any]) -> Any:
        assert self.saver is not None
        value = write["value"]
        return self.saver.serde.loads_typed((value["type"], base64.b64decode(value["data"])))

    def _named(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Give a graph checkpoint the step index and nodes omium's views show.

        A subgraph's checkpoint is named by its path: ``write/draft`` (after node ``draft``
        of subgraph node ``write``), ``write/start``.
        """
        metadata = payload.get("metadata") or {}
        step = metadata.get("step", -1) if isinstance(metadata, dict) else -1
        ns = str(payload.get("ns") or "")
        nodes = self.graph_run.checkpointed(ns) if self.graph_run else ()
        source = metadata.get("source", "loop") if isinstance(metadata, dict) else "loop"
        named = ",".join(nodes) or ("start" if step == 0 else str(source))
        if ns and not nodes:
            named = f"{ns_path(ns)}/{named}"
        extra: dict[str, Any] = {"step": named}
        if isinstance(step, int) and step >= 0:
            extra["index"] = step
        return {**payload, **extra}


class GraphWorkflowRun:
    """A graph workflow's run (see :class:`~omium.processors.frameworks.FrameworkRun`)."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        sink = _SaverSink(ctx)
        sink.saver = OmiumSaver(ctx.log, sink=sink)
        source = ctx.source
        graph = load_graph(ctx.spec, source.parent, source.name, sink.saver)
        self.run = sink.graph_run = GraphRun(
            graph, ctx.execution_id, ctx.record, ctx.spec.agent_nodes
        )
        self.graph_input: Any = None
        self.checkpoint_id: str | None = None
        self.answers: dict[str, Any] = {}
        self.asked: set[str] = set()

    async def start(self, view: ExecutionView) -> None:
        """Fresh with the inputs, or from the run's restore point."""
        self.answers = dict(view.human_inputs)
        self.asked = {view.waiting["request_id"]} if view.waiting else set()
        run = self.run
        if view.last_checkpoint() is not None:
            mine = [s for s in view.steps if s.attempt == view.attempt]
            run.tasks_started = max((s.index + 1 for s in mine), default=0)
            for step in mine:  # cut by the crash: LangGraph runs them again
                if step.status == "running":
                    run.unfinished.setdefault(step.name, []).append(step.index)
            # the thread's newest checkpoint is this attempt's last: continue it as LangGraph
            # does (naming it would replay it as a fork, with new task and interrupt ids)
            return
        branch = view.branch()
        if branch is not None:  # a rollback recorded, no checkpoint in its attempt yet
            events = await self._events() if branch.overrides else []
            as_node = asked_node(events, view.attempt)
            self.checkpoint_id = await fork(
                self.run, branch.checkpoint_id, branch.overrides, as_node, events
            )
            return
        self.graph_input = self.ctx.inputs

    async def branched(self, branch: Branch | None) -> None:
        """Fork the graph at the rollback's checkpoint (or go on with the thread as it is)."""
        self.graph_input, self.checkpoint_id = None, None
        if branch is not None:
            self.run.tasks_started = 0
            needs_events = branch.overrides and branch.as_node is None
            events = await self._events() if needs_events else []
            self.checkpoint_id = await fork(
                self.run, branch.checkpoint_id, branch.overrides, branch.as_node, events
            )

    async def _events(self) -> list[Event]:
        """The execution's events (a rollback with edits reads who wrote what)."""
        return [r.event() for r in await self.ctx.log.read_execution(self.ctx.execution_id)]

    async def attempt(self) -> str:
        """Stream the graph until it finishes, or a rollback is asked for."""
        ctx, run = self.ctx, self.run
        with calls_to(RecordingSink(self._record_call)):
            while True:
                supersteps = run.supersteps(self.graph_input, self.checkpoint_id)
                try:
                    async for _ in supersteps:
                        await ctx.between_steps()
                        if ctx.control.rollback is not None:
                            return ROLLBACK
                finally:
                    await supersteps.aclose()
                outcome = await run.outcome()
                if isinstance(outcome, Finished):
                    return await ctx.completed(outcome.output)
                assert isinstance(outcome, Interrupted)
                request = outcome.requests[0]
                request_id = request["request_id"]
                if request_id not in self.answers:
                    if not await self._ask(request):
                        return ROLLBACK
                self.graph_input = resume_command({request_id: self.answers[request_id]})
                self.checkpoint_id = None

    async def _record_call(self, event_type: str, payload: dict[str, Any]) -> None:
        """LLM and tool calls join the run's events, named after the node that made them."""
        try:
            node = get_config().get("metadata", {}).get("langgraph_node")
        except RuntimeError:  # called outside a node (or from a thread)
            node = None
        await self.ctx.record(event_type, {**payload, "step": node} if node else payload)

    async def _ask(self, request: dict[str, Any]) -> bool:
        """Record the question (once), wait for the answer, record it.

        Returns False when a rollback came first.
        """
        ctx, control = self.ctx, self.ctx.control
        request_id = request["request_id"]
        if request_id not in self.asked:
            value = request["value"]
            prompt = value if isinstance(value, str) else _prompt(value)
            await ctx.emit(
                ctx.prepare(
                    "human.input_requested", request_id=request_id, prompt=prompt, expected=value
                )
            )
            self.asked.add(request_id)
        else:
            await ctx.emit()
        while control.answer is None:
            async with ctx.idle():
                await control.answered.wait()
            if control.rollback is not None:
                return False
            if control.answer is None:
                control.answered.clear()
        taken = control.take_answer()
        assert taken is not None
        cause, value = taken
        await ctx.emit(
            ctx.prepare("human.input_received", caused_by=cause, request_id=request_id, value=value)
        )
        self.answers[request_id] = value
        return True


def _prompt(value: Any) -> str:
    if isinstance(value, dict):
        for key in ("question", "prompt", "message"):
            if isinstance(value.get(key), str):
                return str(value[key])
    return json.dumps(value, default=str)[:500]
