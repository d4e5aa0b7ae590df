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

import asyncio
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from omium.adapters.crewai import CrewRun, CrewTaskFailed, TaskDone, crew_factory
from omium.adapters.crewai.prepare import step_name
from omium.processors.control import restore
from omium.processors.execution import _error
from omium.producers import Recorder
from omium.projections import ExecutionView
from omium.schemas import ErrorInfo
from omium.schemas.workflow import WorkflowSpec

if TYPE_CHECKING:
    from omium.processors.execution import ExecutionRunner

_ROLLBACK = "rollback"


def _without_usage(crew: CrewRun) -> dict[str, Any]:
    return {k: v for k, v in crew.result.items() if k != "token_usage"}


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


async def run_crew(
    runner: ExecutionRunner, rec: Recorder, spec: WorkflowSpec, view: ExecutionView
) -> str:
    """Run (or continue) the crew execution to a terminal status."""
    source = Path(runner.command.payload.source or ".")
    try:
        factory = crew_factory(spec, source.parent.resolve(), source.name)
        names = [step_name(task, i) for i, task in enumerate(factory().tasks)]
    except Exception as exc:  # valid where it was submitted, not importable here
        await rec.emit("execution.failed", error=_error(exc).model_dump())
        return "failed"
    state, index = restore(view, runner._inputs(spec))
    if runner.control.rollback is None:
        runner._defer(
            rec, rec.prepare("execution.started", workflow=spec.name, worker=runner.worker)
        )
    while True:
        try:
            async with asyncio.timeout(spec.timeout):
                status = await _attempt(runner, factory, names, state, index)
        except TimeoutError:
            return await runner._timed_out(spec)
        if status != _ROLLBACK and runner.control.rollback is None:
            return status
        rec = runner._rec or rec
        rec, state, index = await runner._roll_back(rec, spec, state, index)


async def _attempt(
    runner: ExecutionRunner,
    factory: Any,
    names: list[str],
    state: dict[str, Any],
    index: int,
) -> str:
    """Run the tasks from ``index``; returns a terminal status, or asks for the rollback."""
    rec = runner._rec
    assert rec is not None
    inputs, prior = split_state(state, names, index)

    async def record(event_type: str, payload: dict[str, Any]) -> None:
        runner._defer(rec, runner._sized(rec.prepare(event_type, **payload)))

    if index >= len(names):  # rolled back to the last task: nothing left to run
        output = {**state, "result": state.get(names[-1])}
        await runner._emit(rec, rec.prepare("execution.completed", output=output))
        return "completed"
    await runner._between_steps(rec)
    if runner.control.rollback is not None:
        return _ROLLBACK
    crew = CrewRun(factory, inputs, record=record, start=index, prior=prior)
    tasks = cast(AsyncGenerator[TaskDone, None], crew.tasks())
    runner._defer(rec, rec.prepare("step.started", step=names[index], index=index, retry=0))
    try:
        async for done in tasks:
            state = {**state, done.name: done.output}
            completed = rec.prepare(
                "step.completed",
                step=done.name,
                index=done.index,
                retry=0,
                output={done.name: done.output},  # the state gains the task's output
                duration_ms=done.duration_ms,
            )
            checkpoint = rec.prepare(
                "checkpoint.created",
                step=done.name,
                index=done.index,
                checkpoint_id=f"a{rec.attempt}-{done.index}-{done.name}",
                state=state,
            )
            await runner._emit(rec, runner._sized(completed), runner._sized(checkpoint))
            index = done.index + 1
            await runner._between_steps(rec)
            if runner.control.rollback is not None:
                return _ROLLBACK
            if index < len(names):
                runner._defer(
                    rec, rec.prepare("step.started", step=names[index], index=index, retry=0)
                )
    except CrewTaskFailed as failed:
        cause = failed.__cause__ or failed
        error = ErrorInfo.model_validate(_error(cause).model_dump())
        await runner._emit(
            rec,
            rec.prepare(
                "step.failed",
                step=failed.name,
                index=failed.index,
                retry=0,
                error=error.model_dump(),
                duration_ms=0.0,
            ),
            rec.prepare("execution.failed", step=failed.name, error=error.model_dump()),
        )
        return "failed"
    finally:
        await tasks.aclose()
    await runner._emit(
        # crewai's token_usage counts only the tasks this process ran (not those before a
        # crash or a rollback): the execution view's usage counts every recorded call
        rec,
        rec.prepare("execution.completed", output={**state, "result": _without_usage(crew)}),
    )
    return "completed"
