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

import asyncio
import base64
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langgraph.config import get_config

from omium.adapters.langgraph import OmiumSaver
from omium.adapters.langgraph.runner import (
    Finished,
    GraphRun,
    Interrupted,
    load_graph,
    resume_command,
)
from omium.producers import Recorder
from omium.producers.calls import RecordingSink, calls_to
from omium.projections import ExecutionView
from omium.schemas.workflow import WorkflowSpec

if TYPE_CHECKING:
    from omium.processors.execution import ExecutionRunner

_ROLLBACK = "rollback"


class _RunnerSink:
    """Where the checkpointer's events go: the runner's current attempt, in order."""

    def __init__(self, runner: ExecutionRunner) -> None:
        self.runner = runner
        self.graph_run: GraphRun | None = None
        self.saver: OmiumSaver | None = None

    async def record(self, thread_id: str, events: list[tuple[str, dict[str, Any]]]) -> None:
        runner = self.runner
        rec = runner._rec
        assert rec is not None and thread_id == runner.execution_id
        prepared = []
        for event_type, payload in events:
            if event_type == "checkpoint.created":
                payload = self._named(payload)
            elif event_type == "checkpoint.writes_saved" and self.graph_run is not None:
                for step_type, step in self._finished(payload):
                    prepared.append(runner._sized(rec.prepare(step_type, **step)))
            prepared.append(runner._sized(rec.prepare(event_type, **payload)))
        await runner._emit(rec, *prepared)

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
        """Give a graph checkpoint the step index and nodes omium's views show."""
        metadata = payload.get("metadata") or {}
        step = metadata.get("step", -1) if isinstance(metadata, dict) else -1
        nodes = self.graph_run.checkpointed() if self.graph_run else ()
        source = metadata.get("source", "loop") if isinstance(metadata, dict) else "loop"
        named = ",".join(nodes) or ("start" if step == 0 else str(source))
        extra: dict[str, Any] = {"step": named}
        if isinstance(step, int) and step >= 0:
            extra["index"] = step
        return {**payload, **extra}


def _call_sink(runner: ExecutionRunner) -> RecordingSink:
    """LLM and tool calls join the run's events, named after the node that made them."""

    async def record(event_type: str, payload: dict[str, Any]) -> None:
        rec = runner._rec
        assert rec is not None
        try:
            node = get_config().get("metadata", {}).get("langgraph_node")
        except RuntimeError:  # called outside a node (or from a thread)
            node = None
        named = {**payload, "step": node} if node else payload
        runner._defer(rec, runner._sized(rec.prepare(event_type, **named)))

    return RecordingSink(record)


async def run_graph(
    runner: ExecutionRunner, rec: Recorder, spec: WorkflowSpec, view: ExecutionView
) -> str:
    """Run (or continue) the graph execution to a terminal status."""
    sink = _RunnerSink(runner)
    saver = sink.saver = OmiumSaver(runner.log, sink=sink)
    source = Path(runner.command.payload.source or ".")
    try:
        graph = load_graph(spec, source.parent, source.name, saver)
    except Exception as exc:  # valid where it was submitted, not importable here
        from omium.processors.execution import _error

        await rec.emit("execution.failed", error=_error(exc).model_dump())
        return "failed"
    run = GraphRun(graph, runner.execution_id, _deferring(runner), spec.agent_nodes)
    sink.graph_run = run
    answers = dict(view.human_inputs)
    asked = {view.waiting["request_id"]} if view.waiting else set()
    if runner.control.rollback is None:
        runner._defer(
            rec, rec.prepare("execution.started", workflow=spec.name, worker=runner.worker)
        )
    graph_input, checkpoint_id = await _start(run, view, runner._inputs(spec))
    with calls_to(_call_sink(runner)):
        while True:
            try:
                async with asyncio.timeout(spec.timeout):
                    status = await _attempt(runner, run, graph_input, checkpoint_id, answers, asked)
            except TimeoutError:
                return await runner._timed_out(spec)
            if status != _ROLLBACK and runner.control.rollback is None:
                return status
            rec = runner._rec or rec
            rec, _, _ = await runner._roll_back(rec, spec, {}, 0)
            graph_input, checkpoint_id = None, None
            if runner.rolled_back_to is not None:
                checkpoint_id, overrides = runner.rolled_back_to
                runner.rolled_back_to = None
                run.tasks_started = 0
                checkpoint_id = await _edited(run, checkpoint_id, overrides)


async def _start(
    run: GraphRun, view: ExecutionView, inputs: dict[str, Any]
) -> tuple[Any, str | None]:
    """Where the graph starts: fresh with the inputs, or from the run's restore point."""
    if view.last_checkpoint() is not None:
        mine = [s for s in view.steps if s.attempt == view.attempt]
        run.tasks_started = max((s.index + 1 for s in mine), default=0)
        for step in mine:  # cut by the crash: LangGraph runs them again
            if step.status == "running":
                run.unfinished.setdefault(step.name, []).append(step.index)
        # the thread's newest checkpoint is this attempt's last: continue it as LangGraph
        # does (naming it would replay it as a fork, with new task and interrupt ids)
        return None, None
    branch = view.branch()
    if branch is not None:  # a rollback recorded, no checkpoint in its attempt yet
        return None, await _edited(run, branch.checkpoint_id, branch.overrides)
    return inputs, None


async def _edited(run: GraphRun, checkpoint_id: str, overrides: dict[str, Any]) -> str:
    """``checkpoint_id``, or with ``overrides`` the fork ``update_state`` makes of it."""
    if not overrides:
        return checkpoint_id
    config = await run.graph.aupdate_state(run.config(checkpoint_id), overrides)
    return str(config["configurable"]["checkpoint_id"])


def _deferring(runner: ExecutionRunner) -> Any:
    async def record(event_type: str, payload: dict[str, Any]) -> None:
        rec = runner._rec
        assert rec is not None
        runner._defer(rec, runner._sized(rec.prepare(event_type, **payload)))

    return record


async def _attempt(
    runner: ExecutionRunner,
    run: GraphRun,
    graph_input: Any,
    checkpoint_id: str | None,
    answers: dict[str, Any],
    asked: set[str],
) -> str:
    """Stream the graph until it finishes, or a rollback is asked for."""
    control = runner.control
    while True:
        rec = runner._rec
        assert rec is not None
        supersteps = run.supersteps(graph_input, checkpoint_id)
        try:
            async for _ in supersteps:
                await runner._between_steps(rec)
                if control.rollback is not None:
                    return _ROLLBACK
        finally:
            await supersteps.aclose()
        outcome = await run.outcome()
        if isinstance(outcome, Finished):
            await runner._emit(rec, rec.prepare("execution.completed", output=outcome.output))
            return "completed"
        assert isinstance(outcome, Interrupted)
        request = outcome.requests[0]
        request_id = request["request_id"]
        if request_id not in answers:
            answered, value = await _ask(runner, rec, request, asked)
            if not answered:
                return _ROLLBACK
            answers[request_id] = value
        graph_input = resume_command({request_id: answers[request_id]})
        checkpoint_id = None


async def _ask(
    runner: ExecutionRunner, rec: Recorder, request: dict[str, Any], asked: set[str]
) -> tuple[bool, Any]:
    """Record the question (once), wait for the answer, record it.

    Returns ``(True, value)``, or ``(False, None)`` when a rollback came first.
    """
    control = runner.control
    request_id = request["request_id"]
    if request_id not in asked:
        value = request["value"]
        prompt = value if isinstance(value, str) else _prompt(value)
        await runner._emit(
            rec,
            rec.prepare(
                "human.input_requested", request_id=request_id, prompt=prompt, expected=value
            ),
        )
        asked.add(request_id)
    else:
        await runner._emit(rec)
    while control.answer is None:
        await control.answered.wait()
        if control.rollback is not None:
            return False, None
        if control.answer is None:
            control.answered.clear()
    taken = control.take_answer()
    assert taken is not None
    cause, value = taken
    await runner._emit(
        rec,
        rec.prepare("human.input_received", caused_by=cause, request_id=request_id, value=value),
    )
    return True, value


def _prompt(value: Any) -> str:
    if isinstance(value, dict):
        for key in ("question", "prompt", "message"):
            if isinstance(value.get(key), str):
                return str(value[key])
    import json

    return json.dumps(value, default=str)[:500]
