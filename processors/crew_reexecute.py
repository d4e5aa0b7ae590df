"""Debug re-execution of a ``framework: crewai`` run: the crew runs again, here, for free.

Every agent's LLM and every tool is answered from the attempt's recorded ``llm.call`` /
``tool.call`` events (:class:`~omium.adapters.crewai.RecordedCalls`): no provider and no
tool is called. Each task's output is compared with its recorded ``step.completed``; the
first difference, or a call the recording does not have, is the divergence. An attempt a
rollback opened starts after its branch checkpoint, with that checkpoint's task outputs
(and the rollback's edits) as the earlier tasks' results.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any, cast

from omium.adapters.crewai import (
    CrewRun,
    CrewTaskFailed,
    RecordedCalls,
    ReplayDiverged,
    TaskDone,
    crew_factory,
)
from omium.adapters.crewai.prepare import step_name
from omium.processors.crew_run import split_state
from omium.processors.reexecute import Diverged, Reexecution, StepOutcome, branch_start
from omium.projections import ExecutionView
from omium.schemas import Event, LLMCall, StepCompleted, ToolCall
from omium.schemas.workflow import WorkflowSpec


async def reexecute_crew(
    spec: WorkflowSpec,
    source: Path,
    view: ExecutionView,
    events: list[Event],
    attempt: int,
    until_step: str | None,
) -> Reexecution:
    """Re-execute ``attempt`` of a crew run (see the module docs)."""
    factory = crew_factory(spec, source.parent.resolve(), source.name)
    names = [step_name(task, i) for i, task in enumerate(factory().tasks)]
    state, start = branch_start(view, events, attempt)
    inputs, prior = split_state(state, names, start)
    mine = [e for e in events if e.attempt == attempt]
    recorded = {  # step.completed holds {task name: its output}
        e.payload.index: e.payload.output.get(e.payload.step)
        for e in mine
        if isinstance(e, StepCompleted)
    }
    calls = RecordedCalls.from_events(e for e in mine if isinstance(e, LLMCall | ToolCall))
    report = Reexecution(view.execution_id, attempt, [], state)

    async def ignore(event_type: str, payload: dict[str, Any]) -> None:
        return None

    crew = CrewRun(factory, inputs, record=ignore, start=start, prior=prior, replay=calls)
    tasks = cast(AsyncGenerator[TaskDone, None], crew.tasks())
    try:
        async for done in tasks:
            had = recorded.get(done.index)
            answered = calls.answered
            if had != done.output:
                report.steps.append(StepOutcome(done.name, "live", "diverged", answered))
                report.divergence = Diverged(f"task {done.name}: output", had, done.output)
                break
            report.steps.append(StepOutcome(done.name, "live", "completed", answered))
            report.state[done.name] = done.output
            if done.name == until_step or done.index + 1 not in recorded:
                break
    except ReplayDiverged as diverged:
        report.divergence = Diverged(str(diverged.where), diverged.expected, diverged.actual)
    except CrewTaskFailed as failed:
        cause = failed.__cause__
        if isinstance(cause, ReplayDiverged):
            report.divergence = Diverged(str(cause.where), cause.expected, cause.actual)
        else:
            report.divergence = Diverged(f"task {failed.name}: raised", None, str(failed))
    finally:
        await tasks.aclose()
    return report
