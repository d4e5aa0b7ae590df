"""``framework: crewai``: a crew's tasks, or a Flow's methods, as the run's steps.

``crew: module:factory`` may name a function returning a Crew, or a CrewAI Flow (its class,
or a function returning one); agents and tasks inline make a crew.

- :mod:`.run`: a crew through the executor (a checkpoint after each task, rollback to
  any task with ``--set`` edits of earlier outputs);
- :mod:`.reexecute`: the crew run again here, every LLM and tool answered from the log;
- :mod:`.flow`: a Flow through the executor (a checkpoint of the flow's state after each
  method) and its re-execution;
- :mod:`.for_each`: ``for_each: KEY``, one sub-execution of the crew per input.
"""

from pathlib import Path

from crewai import Crew

from omium.adapters.crewai.build import crewai_factory, flows_only
from omium.processors.frameworks.base import (
    Framework,
    FrameworkRun,
    Reexecution,
    ReexecutionRequest,
    RunContext,
)
from omium.processors.frameworks.crewai.flow import FlowWorkflowRun, reexecute_flow
from omium.processors.frameworks.crewai.for_each import ForEachRun
from omium.processors.frameworks.crewai.reexecute import reexecute_crew
from omium.processors.frameworks.crewai.run import CrewWorkflowRun, split_state
from omium.schemas import ConfigError
from omium.schemas.workflow import WorkflowSpec


def check(spec: WorkflowSpec, folder: Path, filename: str) -> None:
    """Build the crew's factory: its agents, tasks, tools and LLMs are imported and checked."""
    crewai_factory(spec, folder, filename)


def load(ctx: RunContext) -> FrameworkRun:
    """The run of a crew, or of a flow when ``crew:`` builds one (or their ``for_each``)."""
    if ctx.spec.for_each is not None:
        return ForEachRun(ctx, ctx.spec.for_each)
    source = ctx.source
    factory = crewai_factory(ctx.spec, source.parent.resolve(), source.name)
    first = factory()
    if isinstance(first, Crew):
        return CrewWorkflowRun(ctx, first)
    return FlowWorkflowRun(ctx, flows_only(factory))


async def reexecute(request: ReexecutionRequest) -> Reexecution:
    """Re-execute a recorded attempt of a crew or a flow."""
    if request.spec.for_each is not None:
        raise ConfigError(
            "a for_each run does nothing itself: its sub-executions ran the crew",
            hint=f"re-execute one: omium replay {request.view.execution_id}-ATTEMPT-I --reexecute",
        )
    source = request.source
    factory = crewai_factory(request.spec, source.parent.resolve(), source.name)
    if isinstance(factory(), Crew):
        return await reexecute_crew(request)
    return await reexecute_flow(request, flows_only(factory))


FRAMEWORK = Framework("crewai", check, load, reexecute)

__all__ = [
    "FRAMEWORK",
    "CrewWorkflowRun",
    "FlowWorkflowRun",
    "ForEachRun",
    "check",
    "load",
    "reexecute",
    "split_state",
]
