"""The executor drives a framework only through the registry and its public context.

A framework of the test's own, registered in place of ``python``, runs through the same
runner as the built-in ones: its steps and checkpoints are recorded, pause and rollback
work at its step boundaries, and the runner never asks what framework it is.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from harness import Harness, spec

from omium.processors import frameworks, history
from omium.processors.frameworks import (
    ROLLBACK,
    Branch,
    Framework,
    Reexecution,
    ReexecutionRequest,
    RunContext,
    StepOutcome,
)
from omium.projections import ExecutionView


class CountingRun:
    """Adds 1 to ``n`` per step, for as many steps as the spec has."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx, self.state, self.index = ctx, dict(ctx.inputs), 0
        self.names = [s.name for s in ctx.spec.steps]

    async def start(self, view: ExecutionView) -> None:
        last = view.last_checkpoint()
        if last is not None and last.index is not None and last.state is not None:
            self.state, self.index = dict(last.state), last.index + 1

    async def branched(self, branch: Branch | None) -> None:
        if branch is not None:
            self.state, self.index = dict(branch.state), branch.index

    async def attempt(self) -> str:
        ctx = self.ctx
        while self.index < len(self.names):
            await ctx.between_steps()
            if ctx.control.rollback is not None:
                return ROLLBACK
            name = self.names[self.index]
            ctx.defer(ctx.prepare("step.started", step=name, index=self.index, retry=0))
            self.state["n"] = self.state.get("n", 0) + 1
            done = ctx.prepare(
                "step.completed",
                step=name,
                index=self.index,
                retry=0,
                output={"n": self.state["n"]},
                duration_ms=0.0,
            )
            ctx.defer(done, ctx.checkpoint(name, self.index, self.state))
            self.index += 1
        return await ctx.completed(self.state)


async def served(request: ReexecutionRequest) -> Reexecution:
    steps = [StepOutcome(s.name, "served", "completed") for s in request.spec.steps]
    return Reexecution(request.view.execution_id, request.attempt, steps, {})


@pytest.fixture
def counting() -> Iterator[None]:
    builtin = frameworks.framework("python")
    frameworks.register(Framework("python", builtin.check, CountingRun, served))
    try:
        yield
    finally:
        frameworks.register(builtin)


@pytest.mark.usefixtures("counting")
async def test_a_registered_framework__runs_through_the_executor(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(spec("never_called", "never_called", "never_called"), n=10)
    view = await harness.finished(ex)
    assert view.status == "completed"
    assert view.output is not None and view.output["n"] == 13
    assert [c.checkpoint_id for c in view.checkpoints] == [
        "a1-0-never_called0",
        "a1-1-never_called1",
        "a1-2-never_called2",
    ]
    types = [e.type for e in await harness.events(ex)]
    assert types[:2] == ["execution.submitted", "execution.started"]


@pytest.mark.usefixtures("counting")
async def test_a_registered_framework__rolls_back_through_the_runner(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(spec("a", "b", "c"), n=0)
    await harness.finished(ex)
    await history.rollback(harness.log, ex, "a1-0-a0", {"n": 100})
    view = await harness.wait_for(ex, lambda v: v.attempt == 2 and v.finished)
    assert view.status == "completed"
    assert view.output is not None and view.output["n"] == 102  # b1 and c2 ran again


def test_unknown_framework__is_a_clear_error() -> None:
    with pytest.raises(Exception, match="no framework 'nope'; frameworks: crewai, langgraph"):
        frameworks.framework("nope")
