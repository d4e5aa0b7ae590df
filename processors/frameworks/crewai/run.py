"""Running a ``framework: crewai`` workflow: the crew's tasks are the run's steps.

The crew runs task by task on a thread (:class:`~omium.adapters.crewai.CrewRun`). After
each task the runner records ``step.completed`` and a checkpoint whose state is the run's
inputs plus every finished task's output under the task's name::

    {"topic": "...", "research": {"raw": "..."}, "analysis": {"raw": "..."}}

so, as for python steps:

- pause / resume act between tasks; cancel stops the crew (a model call in flight on the
  crew's thread cannot be interrupted; its result is dropped);
- after a crash the run continues with the task after the attempt's last checkpoint, the
  earlier tasks' recorded outputs given to the crew as context (not crewai's own store);
- a rollback to task *k*'s checkpoint re-runs the tasks after it in a new attempt;
  ``--set research="..."`` replaces a task's output (or an input) before it continues.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, cast

from crewai import Crew

from omium.adapters.crewai import CrewRun, TaskDone, crew_factory
from omium.adapters.crewai.prepare import step_name
from omium.processors.frameworks.base import ROLLBACK, RunContext, StepwiseRun
from omium.processors.frameworks.oversize import (
    checkpoint_or_error,
    output_too_large,
    record_completed_then_fail,
)
from omium.schemas import ErrorInfo
from omium.schemas.errors import CrewTaskFailed


def split_state(
    state: dict[str, Any], names: list[str], index: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The inputs and the outputs of tasks ``0..index-1`` held in a checkpoint's state."""
    inputs = {k: v for k, v in state.items() if k not in names}
    prior = []
    for name in names[:index]:
        output = state.get(name)
        prior.append(output if isinstance(output, dict) else {"raw": str(output)})
    return inputs, prior


class CrewWorkflowRun(StepwiseRun):
    """A crew workflow's run (see :class:`~omium.processors.frameworks.FrameworkRun`)."""

    def __init__(self, ctx: RunContext, first: Crew | None = None) -> None:
        """``first``: a crew the factory built already (its tasks name the steps)."""
        super().__init__(ctx)
        source = ctx.source
        self.factory = crew_factory(ctx.spec, source.parent.resolve(), source.name)
        tasks = (first or self.factory()).tasks
        self.names = [step_name(task, i) for i, task in enumerate(tasks)]

    async def attempt(self) -> str:
        """Run the tasks from the current index; a terminal status, or :data:`ROLLBACK`."""
        ctx, names = self.ctx, self.names
        if self.index >= len(names):  # rolled back to the last task: nothing left to run
            return await ctx.completed({**self.state, "result": self.state.get(names[-1])})
        await ctx.between_steps()
        if ctx.control.rollback is not None:
            return ROLLBACK
        inputs, prior = split_state(self.state, names, self.index)
        crew = CrewRun(self.factory, inputs, record=ctx.record, start=self.index, prior=prior)
        tasks = cast(AsyncGenerator[TaskDone, None], crew.tasks())
        ctx.defer(ctx.prepare("step.started", step=names[self.index], index=self.index, retry=0))
        try:
            async for done in tasks:
                self.state = {**self.state, done.name: done.output}
                completed = ctx.prepare(
                    "step.completed",
                    step=done.name,
                    index=done.index,
                    retry=0,
                    output={done.name: done.output},  # the state gains the task's output
                    duration_ms=done.duration_ms,
                )
                too_big = output_too_large(ctx, completed)
                if too_big is not None:  # the task's own output: it fails, as a step's
                    return await ctx.step_failed(done.name, done.index, 0, too_big, 0.0)
                checkpoint = checkpoint_or_error(ctx, done.name, done.index, self.state)
                if isinstance(checkpoint, ErrorInfo):
                    return await record_completed_then_fail(ctx, completed, done.name, checkpoint)
                await ctx.emit(completed, checkpoint)
                self.index = done.index + 1
                await ctx.between_steps()
                if ctx.control.rollback is not None:
                    return ROLLBACK
                if self.index < len(names):
                    step = names[self.index]
                    ctx.defer(ctx.prepare("step.started", step=step, index=self.index, retry=0))
        except CrewTaskFailed as failed:
            error = ErrorInfo.of(failed.__cause__ or failed)
            return await ctx.step_failed(failed.name, failed.index, 0, error, 0.0)
        finally:
            await tasks.aclose()
        # crewai's token_usage counts only the tasks this process ran (not those before a
        # crash or a rollback): the execution view's usage counts every recorded call
        result = {k: v for k, v in crew.result.items() if k != "token_usage"}
        return await ctx.completed({**self.state, "result": result})
