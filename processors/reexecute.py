"""Debug re-execution: run a recorded attempt's workflow code again, in this process, for free.

Each step is either *served* (its recorded output is used, its code does not run) or run
*live* (``--live STEP``): its code runs here, where a debugger can stop in it, and every
:func:`~omium.producers.llm_call` / :func:`~omium.producers.tool_call` it makes is answered
from the log instead of the provider. The first point where the code asks for something
the recording does not have, or returns something else than it recorded, is the
divergence, reported with both sides. Nothing is appended to the log.

An attempt opened by a rollback is re-executed from its branch point, with the state it
started from (the snapshot plus the rollback's edits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omium.adapters.python import resolve_steps, run_step
from omium.processors.history import events_of, original_run
from omium.processors.reader import ProjectionReader
from omium.producers import EventLog
from omium.producers.calls import Call, calls_to
from omium.projections import ExecutionView, Until, fold, replay
from omium.schemas import ConfigError, Event, LLMCall, StepCompleted, StepFailed, StepStarted
from omium.schemas import ToolCall as ToolCallEvent
from omium.schemas.workflow import WorkflowSpec


class Diverged(BaseException):  # noqa: N818 - a BaseException: step code must not catch it
    """The re-executed code asked for something the recording does not have."""

    def __init__(self, where: str, expected: Any, actual: Any) -> None:
        super().__init__(where)
        self.where, self.expected, self.actual = where, expected, actual


@dataclass
class RecordedStep:
    """One step of the attempt as the log has it (its last try)."""

    name: str
    output: dict[str, Any] | None = None
    error: str | None = None
    calls: list[LLMCall | ToolCallEvent] = field(default_factory=list)


@dataclass
class StepOutcome:
    """What re-executing one step did."""

    name: str
    mode: str  # served | live
    result: str  # completed | failed | diverged
    calls_answered: int = 0


@dataclass
class Reexecution:
    """The report of a re-execution."""

    execution_id: str
    attempt: int
    steps: list[StepOutcome]
    state: dict[str, Any]
    divergence: Diverged | None = None
    #: calls that reached a real provider or tool (always 0: replay answers them all)
    live_calls: int = 0


class ReplaySink:
    """Answers a step's calls from its recorded ones, in order; never calls ``fn``."""

    def __init__(self, step: str, recorded: list[LLMCall | ToolCallEvent]) -> None:
        self.step = step
        self.pending = list(recorded)
        self.answered = 0

    async def call(self, kind: str, name: str, request: Any, fn: Call, **extra: Any) -> Any:
        """See :class:`~omium.producers.calls.CallSink`."""
        asked = {"kind": kind, "name": name, "request": request}
        if not self.pending:
            raise Diverged(
                f"step {self.step}: a {kind} call the recording does not have", None, asked
            )
        recorded = self.pending.pop(0)
        if isinstance(recorded, LLMCall):
            had = {
                "kind": "llm",
                "name": recorded.payload.model,
                "request": recorded.payload.request,
            }
            answer = recorded.payload.response
        else:
            had = {
                "kind": "tool",
                "name": recorded.payload.tool,
                "request": recorded.payload.arguments,
            }
            answer = recorded.payload.result
        if had != asked:
            raise Diverged(f"step {self.step}: call {self.answered + 1} differs", had, asked)
        self.answered += 1
        return answer


def recorded_steps(events: list[Event], attempt: int) -> dict[int, RecordedStep]:
    """Index -> the attempt's step as recorded (the last try's calls and outcome)."""
    steps: dict[int, RecordedStep] = {}
    current: RecordedStep | None = None
    for event in events:
        if event.attempt != attempt:
            continue
        if isinstance(event, StepStarted):
            current = steps[event.payload.index] = RecordedStep(event.payload.step)
        elif isinstance(event, LLMCall | ToolCallEvent) and current is not None:
            current.calls.append(event)
        elif isinstance(event, StepCompleted) and event.payload.index in steps:
            steps[event.payload.index].output = dict(event.payload.output)
        elif isinstance(event, StepFailed) and event.payload.index in steps:
            error = event.payload.error
            steps[event.payload.index].error = f"{error.type}: {error.message}"
    return steps


def branch_start(
    view: ExecutionView, events: list[Event], attempt: int
) -> tuple[dict[str, Any], int]:
    """The state ``attempt`` started from and the index of its first step.

    Attempt 1 starts from the inputs at step 0; an attempt a rollback opened starts after
    its branch checkpoint, with the snapshot plus the rollback's edits.
    """
    branch = view.branch(attempt)
    if branch is None:
        return dict(view.inputs), 0
    opened = replay([(e, None) for e in events], Until(seq=1, attempt=attempt)).view
    origin = opened.checkpoint(branch.checkpoint_id)
    return dict(opened.state), (origin.index or 0) + 1 if origin else 0


async def reexecute(
    log: EventLog,
    execution_id: str,
    *,
    attempt: int | None = None,
    until_step: str | None = None,
    live: frozenset[str] = frozenset(),
    reader: ProjectionReader | None = None,
) -> Reexecution:
    """Re-execute one attempt (default: the newest) of a workflow run; see the module docs."""
    events = [r.event() for r in await events_of(log, execution_id, reader)]
    view = fold(events)
    attempt = attempt or view.attempt
    if attempt not in view.last_seq:
        raise ConfigError(f"execution {execution_id} has no attempt {attempt}")
    run = await original_run(log, view, "re-executed")
    spec = WorkflowSpec.model_validate(run.payload.spec or {})
    if spec.framework == "langgraph":
        from omium.processors.graph_reexecute import reexecute_graph  # langgraph is an extra

        source = Path(run.payload.source or ".")
        return await reexecute_graph(spec, source, view, events, attempt, until_step)
    if spec.framework == "crewai":
        from omium.processors.crew_reexecute import reexecute_crew  # crewai is an extra

        source = Path(run.payload.source or ".")
        return await reexecute_crew(spec, source, view, events, attempt, until_step)
    names = [s.name for s in spec.steps]
    for wanted in [*live - {"*"}, *([until_step] if until_step else [])]:
        if wanted not in names:
            raise ConfigError(
                f"the workflow has no step {wanted!r}", hint=f"steps: {', '.join(names)}"
            )
    source = Path(run.payload.source or ".")
    steps = resolve_steps(spec, source.parent, source.name)
    state, start = branch_start(view, events, attempt)
    recorded = recorded_steps(events, attempt)
    report = Reexecution(execution_id, attempt, [], state)
    for index in range(start, len(steps)):
        step, had = steps[index], recorded.get(index)
        if had is None:
            break  # the recorded attempt ended before this step
        if had.name != step.name:
            report.divergence = Diverged(f"step {index}", had.name, step.name)
            break
        if step.name in live or "*" in live:
            outcome = await _run_live(step, had, report, spec.steps[index].timeout)
        else:
            outcome = StepOutcome(step.name, "served", "failed" if had.error else "completed")
            report.state.update(had.output or {})
        report.steps.append(outcome)
        if outcome.result != "completed" or step.name == until_step:
            break
    return report


async def _run_live(
    step: Any, had: RecordedStep, report: Reexecution, timeout: float | None
) -> StepOutcome:
    sink = ReplaySink(step.name, had.calls)
    try:
        with calls_to(sink):
            output = await run_step(step, report.state, timeout)
    except Diverged as diverged:
        report.divergence = diverged
        return StepOutcome(step.name, "live", "diverged", sink.answered)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        if error != had.error:
            report.divergence = Diverged(
                f"step {step.name}: outcome", had.error or had.output, error
            )
            return StepOutcome(step.name, "live", "diverged", sink.answered)
        return StepOutcome(step.name, "live", "failed", sink.answered)  # failed as recorded
    if had.error is not None or output != had.output:
        report.divergence = Diverged(f"step {step.name}: output", had.error or had.output, output)
        return StepOutcome(step.name, "live", "diverged", sink.answered)
    if sink.pending:
        left = [c.type for c in sink.pending]
        report.divergence = Diverged(f"step {step.name}: calls not made", left, None)
        return StepOutcome(step.name, "live", "diverged", sink.answered)
    report.state.update(output)
    return StepOutcome(step.name, "live", "completed", sink.answered)
