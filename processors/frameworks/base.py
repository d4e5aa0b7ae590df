"""The contract between the executor and each framework's run and re-execution.

The executor (:class:`~omium.processors.execution.ExecutionRunner`) drives every framework
the same way, and never names one:

1. ``framework.load(ctx)`` imports the workflow's code (steps, a graph, a crew) and returns
   a :class:`FrameworkRun`; an error here fails the execution with that error;
2. the runner records ``execution.started`` (unless a rollback is pending), then
   ``await run.start(view)`` picks where the run continues: the inputs, the attempt's last
   checkpoint, or the branch point of a rollback;
3. ``await run.attempt()`` runs to a terminal status (``completed``, ``failed``), or stops at
   a step boundary when ``ctx.control.rollback`` is set (returning :data:`ROLLBACK`). The
   runner bounds each attempt by the workflow's timeout, performs the rollback and calls
   ``await run.branched(branch)`` (None: the rollback was refused), then the next attempt.

A run records through its :class:`RunContext`: it prepares events of the current attempt,
defers them into the runner's group commit, or emits them now.

Re-execution (``omium replay --reexecute``) gets a :class:`ReexecutionRequest` and returns a
:class:`Reexecution`; it appends nothing to the log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from omium.processors.control import Control, restore
from omium.producers import EventLog
from omium.producers.recorded import Diverged
from omium.projections import ExecutionView, Until, replay
from omium.schemas import ConfigError, ErrorInfo, Event
from omium.schemas.workflow import WorkflowSpec

#: what :meth:`FrameworkRun.attempt` returns when it stopped for a rollback
ROLLBACK = "rollback"


@dataclass(frozen=True)
class Branch:
    """Where a rollback continues a run: after ``checkpoint_id``, with ``overrides`` applied."""

    checkpoint_id: str
    overrides: dict[str, Any]
    #: the checkpoint's state with the overrides applied
    state: dict[str, Any]
    #: the index of the first step to run
    index: int
    #: graphs: the node ``overrides`` are written as (None: the framework picks)
    as_node: str | None = None


class RunContext(Protocol):
    """What a framework's run sees of the runner driving it."""

    log: EventLog
    execution_id: str
    worker: str
    control: Control
    #: the sync step running on a thread now, if any (a cancel cannot stop a thread)
    sync_step: str | None

    @property
    def spec(self) -> WorkflowSpec:
        """The workflow as submitted."""
        ...

    @property
    def source(self) -> Path:
        """The workflow file (its folder is where the workflow's modules are)."""
        ...

    @property
    def inputs(self) -> dict[str, Any]:
        """The spec's inputs with the submitter's on top."""
        ...

    @property
    def attempt(self) -> int:
        """The current attempt (a rollback opens a new one)."""
        ...

    def prepare(self, event_type: str, **payload: Any) -> Event:
        """An event of the current attempt, validated and numbered, not yet recorded."""
        ...

    def sized(self, event: Event) -> Event:
        """``event``, refused now (``EventTooLarge``) if the log would refuse it later."""
        ...

    def defer(self, *events: Event) -> None:
        """Record ``events`` with the next write, or within the group-commit window."""
        ...

    async def emit(self, *events: Event) -> None:
        """Record the deferred events and ``events`` now, in one write."""
        ...

    async def record(self, event_type: str, payload: dict[str, Any]) -> None:
        """Prepare, size and defer one event: the ``record`` callback adapters take."""
        ...

    def checkpoint(self, step: str, index: int, state: dict[str, Any]) -> Event:
        """The ``checkpoint.created`` after step ``index`` (sized, not yet recorded)."""
        ...

    async def between_steps(self) -> None:
        """A step boundary: act on a cancel, wait out a pause (record both)."""
        ...

    def idle(self) -> AbstractAsyncContextManager[None]:
        """Wrap a wait for a person: not counted against the timeout; hand-over is at once."""
        ...

    async def completed(self, output: dict[str, Any]) -> str:
        """Record ``execution.completed``; returns ``"completed"``."""
        ...

    async def step_failed(
        self, step: str, index: int, retry: int, error: ErrorInfo, duration_ms: float
    ) -> str:
        """Record that ``step`` failed for good, and so the execution; returns ``"failed"``."""
        ...


class FrameworkRun(Protocol):
    """One execution of a framework's workflow, driven by the runner (see the module docs)."""

    async def start(self, view: ExecutionView) -> None:
        """Pick where the run continues, from the execution as folded."""
        ...

    async def attempt(self) -> str:
        """Run to a terminal status, or to a step boundary where a rollback is asked for."""
        ...

    async def branched(self, branch: Branch | None) -> None:
        """Continue from ``branch`` (None: the rollback was refused; go on as before)."""
        ...


class StepwiseRun:
    """A run of numbered steps over a state dict (python steps, crew tasks).

    It continues after the attempt's last checkpoint (or a rollback's branch point, or from
    the start) and, after a rollback, from the branch's restored state; subclasses run the
    steps from :attr:`index` in :meth:`FrameworkRun.attempt`.
    """

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.state: dict[str, Any] = {}
        #: the next step to run
        self.index = 0

    async def start(self, view: ExecutionView) -> None:
        """Continue where the execution as folded says (see :func:`~.control.restore`)."""
        self.state, self.index = restore(view, self.ctx.inputs)

    async def branched(self, branch: Branch | None) -> None:
        """Continue after the rollback's checkpoint, with its edits (None: go on as before)."""
        if branch is not None:
            self.state, self.index = dict(branch.state), branch.index


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
    #: network connections the process opened while the code re-ran (any thread): a call
    #: that reached a provider or a remote tool opens one, an answer from the log does not
    connections: int = 0


@dataclass(frozen=True)
class ReexecutionRequest:
    """What a framework's re-execution gets: the recorded run and what to re-execute."""

    spec: WorkflowSpec
    #: the workflow file as submitted
    source: Path
    view: ExecutionView
    events: list[Event]
    attempt: int
    until_step: str | None = None
    #: steps to run live (``*``: all); frameworks that always run live ignore it
    live: frozenset[str] = field(default_factory=frozenset)

    def events_of_attempt(self) -> list[Event]:
        """The events of the attempt being re-executed, in log order."""
        return [e for e in self.events if e.attempt == self.attempt]


@dataclass(frozen=True)
class Framework:
    """A framework omium can run: its name in workflow files, its run and its re-execution.

    Attributes:
        name: what workflow files say (``framework: NAME``).
        check: imports a workflow's code where it is submitted, so a typo fails there and
            not in a worker (``spec``, the workflow file's folder, its name for messages);
            raises ``InvalidSpec``.
        load: builds the run of one execution (see the module docs).
        reexecute: re-executes a recorded attempt.
    """

    name: str
    check: Callable[[WorkflowSpec, Path, str], None]
    load: Callable[[RunContext], FrameworkRun]
    reexecute: Callable[[ReexecutionRequest], Awaitable[Reexecution]]


def branch_start(request: ReexecutionRequest) -> tuple[dict[str, Any], int]:
    """The state the requested attempt started from and the index of its first step.

    Attempt 1 starts from the inputs at step 0; an attempt a rollback opened starts after
    its branch checkpoint, with the snapshot plus the rollback's edits.
    """
    view, attempt = request.view, request.attempt
    branch = view.branch(attempt)
    if branch is None:
        return dict(view.inputs), 0
    opened = replay([(e, None) for e in request.events], Until(seq=1, attempt=attempt)).view
    origin = opened.checkpoint(branch.checkpoint_id)
    return dict(opened.state), (origin.index or 0) + 1 if origin else 0


def check_step_names(request: ReexecutionRequest, names: Sequence[str], what: str) -> None:
    """Refuse ``--live`` and ``--until-step`` names that are not steps of the workflow.

    ``what`` names the workflow's kind in the message (``"workflow"``, ``"crew"``, ``"graph"``).
    """
    wanted = [*sorted(request.live - {"*"})]
    if request.until_step is not None:
        wanted.append(request.until_step)
    for name in wanted:
        if name not in names:
            raise ConfigError(f"the {what} has no step {name!r}", hint=f"steps: {', '.join(names)}")


def refuse_live_choice(request: ReexecutionRequest, names: Sequence[str], what: str) -> None:
    """For a framework whose re-execution runs every step live: refuse ``--live STEP``.

    Such a run cannot serve one step its recorded output (the framework passes its own
    state from step to step), so ``--live`` may only be ``*`` (what it does anyway).
    """
    check_step_names(request, names, what)
    named = sorted(request.live - {"*"})
    if named:
        raise ConfigError(
            f"--live {named[0]}: a {what} re-executes every step live, its LLM and tool "
            "calls answered from the log; --live picks steps of python workflows only",
            hint="leave --live out",
        )
