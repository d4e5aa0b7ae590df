"""Debug re-execution of a ``framework: crewai`` run: the crew runs again, here, for free.

Every agent's LLM and every tool is answered from the attempt's recorded ``llm.call`` /
``tool.call`` events (:func:`~omium.adapters.crewai.crew_calls`): no provider and no tool
is called. Each task's output is compared with its recorded ``step.completed``; the first
difference, or a call the recording does not have, is the divergence. An attempt a
rollback opened starts after its branch checkpoint, with that checkpoint's task outputs
(and the rollback's edits) as the earlier tasks' results.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, cast

from omium.adapters.crewai import CrewRun, TaskDone, crew_calls, crew_factory
from omium.adapters.crewai.prepare import step_name
from omium.processors.frameworks.base import (
    Reexecution,
    ReexecutionRequest,
    StepOutcome,
    branch_start,
    refuse_live_choice,
)
from omium.processors.frameworks.crewai.run import split_state
from omium.producers.recorded import Diverged
from omium.schemas import LLMCall, StepCompleted, ToolCall
from omium.schemas.errors import CrewTaskFailed


async def reexecute_crew(request: ReexecutionRequest) -> Reexecution:
    """Re-execute one attempt of a crew run (see the module docs)."""
    source = request.source
    factory = crew_factory(request.spec, source.parent.resolve(), source.name)
    names = [step_name(task, i) for i, task in enumerate(factory().tasks)]
    refuse_live_choice(request, names, "crew")
    state, start = branch_start(request)
    inputs, prior = split_state(state, names, start)
    mine = request.events_of_attempt()
    recorded = {  # step.completed holds {task name: its output}
        e.payload.index: e.payload.output.get(e.payload.step)
        for e in mine
        if isinstance(e, StepCompleted)
    }
    calls = crew_calls(
        (e.type, e.payload.model_dump(mode="json"))
        for e in mine
        if isinstance(e, LLMCall | ToolCall)
    )
    report = Reexecution(request.view.execution_id, request.attempt, [], state)

    async def ignore(event_type: str, payload: dict[str, Any]) -> None:
        return None

    crew = CrewRun(factory, inputs, record=ignore, start=start, prior=prior, replay=calls)
    tasks = cast(AsyncGenerator[TaskDone, None], crew.tasks())
    before = 0  # calls.answered counts the whole crew; a row shows its own task's

    def outcome(name: str, result: str) -> StepOutcome:
        nonlocal before
        answered, before = calls.answered - before, calls.answered
        return StepOutcome(name, "live", result, answered)

    try:
        async for done in tasks:
            had = recorded.get(done.index)
            if had != done.output:
                report.steps.append(outcome(done.name, "diverged"))
                report.divergence = Diverged(f"task {done.name}: output", had, done.output)
                break
            report.steps.append(outcome(done.name, "completed"))
            report.state[done.name] = done.output
            if done.name == request.until_step or done.index + 1 not in recorded:
                break
    except Diverged as diverged:
        report.divergence = diverged
    except CrewTaskFailed as failed:
        cause = failed.__cause__
        if isinstance(cause, Diverged):
            report.divergence = cause
        else:
            report.divergence = Diverged(f"task {failed.name}: raised", None, str(failed))
    finally:
        await tasks.aclose()
    return report
