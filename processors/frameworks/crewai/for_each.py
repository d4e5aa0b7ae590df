"""``for_each: KEY`` in a crewai workflow: one sub-execution of the crew per input.

crewai's ``crew.kickoff_for_each(inputs=[...])`` kicks a crew off once per input. As an
omium workflow, ``for_each: items`` makes the run (the parent) submit one execution of the
same workflow (without ``for_each``) per mapping in ``inputs["items"]``, each with the
parent's other inputs under the item's keys, and wait for them::

    framework: crewai
    crew: research:build_crew
    for_each: topics
    inputs: {audience: ops, topics: [{topic: partitions}, {topic: offsets}]}

- a child is an execution of its own (run, paused, rolled back, replayed and re-executed
  like any crew run) named ``<parent>-<attempt>-<i>``: ``omium executions list`` shows the
  children beside their parent, and the name says whose they are; its ``run`` command
  carries ``parent`` (the schema's link; ``execution.submitted`` has the field too, for
  the executor to copy);
- the parent's step ``kickoff_<i>`` waits for child *i* and completes with
  ``{"execution_id": ..., "status": ..., "output": ...}``, checkpointed as any step, so
  ``omium executions show PARENT`` lists every child with its output (its ``result``: the
  children's results, in order); a child that fails or is cancelled fails the parent's
  step;
- every child is submitted when the parent starts (they run in parallel, as the workers'
  partitions allow); submitting again after a crash changes nothing (a run command for an
  execution that exists is ignored or resumes it);
- a rollback of the parent to ``kickoff_<k>`` opens a new attempt whose children
  ``k+1..`` are new executions; the parent's re-execution is its children's (re-execute
  each child).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from omium.processors.control import load_view
from omium.processors.frameworks.base import ROLLBACK, RunContext, StepwiseRun
from omium.processors.frameworks.oversize import checkpoint_or_error, record_completed_then_fail
from omium.projections import ExecutionView
from omium.schemas import ConfigError, ErrorInfo, Run

#: how often the parent looks at a child it waits for (seconds)
POLL_S = 0.2


def child_id(parent: str, attempt: int, index: int) -> str:
    """The execution id of the parent's ``index``-th child in ``attempt``."""
    return f"{parent}-{attempt}-{index}"


def child_inputs(inputs: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """One input mapping per child: the parent's inputs (less ``key``) under each item.

    Raises:
        ConfigError: ``inputs[key]`` is not a list of mappings.
    """
    items = inputs.get(key)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ConfigError(
            f"for_each: input {key!r} must be a list of mappings, got {type(items).__name__}",
            hint=f"e.g. inputs: {{{key}: [{{topic: a}}, {{topic: b}}]}}",
        )
    shared = {k: v for k, v in inputs.items() if k != key}
    return [{**shared, **item} for item in items]


class ForEachRun(StepwiseRun):
    """The parent of a ``for_each`` workflow (see the module docs)."""

    def __init__(self, ctx: RunContext, key: str) -> None:
        super().__init__(ctx)
        self.key = key
        self.tenant = "default"

    async def start(self, view: ExecutionView) -> None:
        """Continue where the execution as folded says; children share its tenant."""
        await super().start(view)
        self.tenant = view.tenant_id

    async def attempt(self) -> str:
        """Submit the children not run yet and wait for each in turn."""
        ctx = self.ctx
        try:
            items = child_inputs(self.state, self.key)
        except ConfigError as exc:
            return await ctx.step_failed("kickoff_0", 0, 0, ErrorInfo.of(exc), 0.0)
        own = {k: v for k, v in ctx.spec.inputs.items() if k != self.key}
        spec = ctx.spec.model_copy(update={"for_each": None, "inputs": own})
        spec_data = spec.model_dump(mode="json")
        children = [child_id(ctx.execution_id, ctx.attempt, i) for i in range(len(items))]
        for index in range(self.index, len(items)):
            run = Run.model_validate(
                {
                    "execution_id": children[index],
                    "tenant_id": self.tenant,
                    "payload": {
                        "workflow": ctx.spec.name,
                        "spec": spec_data,
                        "inputs": items[index],
                        "source": str(ctx.source.resolve()),
                        "parent": ctx.execution_id,
                    },
                }
            )
            await ctx.log.append(run)
        while self.index < len(items):
            await ctx.between_steps()
            if ctx.control.rollback is not None:
                return ROLLBACK
            index, name, began = self.index, f"kickoff_{self.index}", time.perf_counter()
            await ctx.emit(ctx.prepare("step.started", step=name, index=index, retry=0))
            child = await _finished(ctx, children[index])
            took = (time.perf_counter() - began) * 1000
            if child.status != "completed":
                error = ErrorInfo(
                    type="SubExecutionFailed",
                    message=f"{child.execution_id} {child.status}: {child.error or ''}".strip(),
                )
                return await ctx.step_failed(name, index, 0, error, took)
            result = {"execution_id": child.execution_id, "status": child.status}
            self.state = {**self.state, name: {**result, "output": child.output}}
            completed = ctx.prepare(
                "step.completed",
                step=name,
                index=index,
                retry=0,
                output={name: self.state[name]},
                duration_ms=took,
            )
            checkpoint = checkpoint_or_error(ctx, name, index, self.state)
            if isinstance(checkpoint, ErrorInfo):
                return await record_completed_then_fail(ctx, completed, name, checkpoint)
            await ctx.emit(completed, checkpoint)
            self.index = index + 1
        outputs = [self.state[f"kickoff_{i}"]["output"] for i in range(len(items))]
        results = [o.get("result") if isinstance(o, dict) else o for o in outputs]
        return await ctx.completed({**self.state, "result": results})


async def _finished(ctx: RunContext, execution_id: str) -> ExecutionView:
    """The child's view once it has finished (polled: its events are on its own partition)."""
    while True:
        view = await load_view(ctx.log, execution_id)
        if view.finished:
            return view
        await asyncio.sleep(POLL_S)
