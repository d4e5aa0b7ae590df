"""``framework: langgraph`` workflows through the executor, on every log (SQLite and Kafka)."""

from __future__ import annotations

import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from harness import HERE, Harness, spec

from omium.adapters.langgraph.models import ScriptedChatModel
from omium.processors import history
from omium.processors.history import current
from omium.processors.reexecute import reexecute
from omium.projections import ExecutionView
from omium.schemas import (
    AgentHandoff,
    ConfigError,
    HumanInputReceived,
    HumanInputRequested,
    LLMCall,
    StepRetried,
    ToolCall,
)
from omium.schemas.workflow import WorkflowSpec
from omium.services import runs as service
from omium.services.workflows import load_workflow

EXAMPLES = HERE.parents[1] / "examples"


async def submit_file(harness: Harness, path: Path, **inputs: Any) -> str:
    spec = load_workflow(path)
    execution_id = f"ex-{uuid.uuid4().hex[:10]}"
    return await service.submit(harness.log, spec, path, inputs, execution_id=execution_id)


def graph_spec(factory: str, **extra: Any) -> WorkflowSpec:
    return WorkflowSpec.model_validate(
        {"name": "graph-flow", "framework": "langgraph", "graph": f"flow_graphs:{factory}", **extra}
    )


async def answer(harness: Harness, ex: str, value: Any, attempt: int = 1) -> ExecutionView:
    await harness.wait_for(ex, lambda v: v.status == "waiting" and v.attempt == attempt)
    await service.command(harness.log, ex, "resume", input=value)
    return await harness.finished(ex)


async def test_support_graph__waits_for_approval_then_finishes(harness: Harness) -> None:
    await harness.start_worker()
    ex = await submit_file(harness, EXAMPLES / "support_graph.yaml")
    waiting = await harness.wait_for(ex, lambda v: v.status == "waiting")
    assert waiting.waiting is not None and waiting.waiting["prompt"] == "Refund $120.00 to acme?"
    view = await answer(harness, ex, {"approved": True})
    assert view.status == "completed", view.error
    trace = [
        (e.seq, e.type, getattr(e.payload, "step", None), getattr(e.payload, "task_path", None))
        for e in await harness.events(ex)
    ]
    assert all(s.status == "completed" for s in view.steps), "\n".join(map(str, trace))
    assert view.output is not None and view.output["reply"].startswith("We are sorry")
    assert [(s.name, s.status) for s in view.steps] == [
        ("triage", "completed"),
        ("billing_agent", "completed"),
        ("approval", "completed"),
        ("send", "completed"),
    ]
    events = await harness.events(ex)
    handoffs = [
        (e.payload.from_agent, e.payload.to_agent) for e in events if isinstance(e, AgentHandoff)
    ]
    assert handoffs == [("triage", "billing_agent")]
    assert [e.payload.step for e in events if isinstance(e, LLMCall)] == ["triage", "billing_agent"]
    tools = [e.payload for e in events if isinstance(e, ToolCall)]
    assert [(t.tool, t.arguments) for t in tools] == [("lookup_invoices", {"customer": "acme"})]
    asked = [e for e in events if isinstance(e, HumanInputRequested)]
    got = [e for e in events if isinstance(e, HumanInputReceived)]
    assert len(asked) == 1 and len(got) == 1 and got[0].payload.value == {"approved": True}
    assert view.usage.llm_calls == 2 and view.usage.tool_calls == 1


async def test_support_graph__resume_without_input_is_a_clear_error(harness: Harness) -> None:
    await harness.start_worker()
    ex = await submit_file(harness, EXAMPLES / "support_graph.yaml")
    await harness.wait_for(ex, lambda v: v.status == "waiting")
    try:
        await service.command(harness.log, ex, "resume")
    except Exception as exc:  # noqa: BLE001
        assert "waits for input (Refund $120.00 to acme?)" in str(exc)
        assert "--input" in str(exc)
    else:
        raise AssertionError("a resume without input was accepted")
    view = await answer(harness, ex, {"approved": False})
    assert view.output is not None and "colleague" in view.output["reply"]


async def test_support_graph__rollback_to_every_checkpoint(harness: Harness) -> None:
    await harness.start_worker()
    ex = await submit_file(harness, EXAMPLES / "support_graph.yaml")
    first = await answer(harness, ex, {"approved": True})
    targets = [c for c in first.checkpoints if c.index is not None]
    assert [c.step for c in targets] == ["start", "triage", "billing_agent", "approval", "send"]
    for attempt, target in enumerate(targets, start=2):
        request = await history.rollback(harness.log, ex, target.checkpoint_id, {})
        assert request.attempt == attempt
        view = await harness.wait_for(
            ex, lambda v, a=attempt: v.attempt == a and v.status in ("waiting", "completed")
        )
        if view.status == "waiting":  # rolled back to before the approval: asked again
            view = await answer(harness, ex, {"approved": False}, attempt)
            assert view.output is not None and "colleague" in view.output["reply"]
        else:  # after the approval: the recorded answer stands
            assert view.output is not None and view.output["reply"].startswith("We are sorry")
        assert view.status == "completed" and view.attempt == attempt
        assert view.branch() is not None and view.branch().checkpoint_id == target.checkpoint_id


async def test_rollback_with_edits__forks_the_graph_state(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(graph_spec("counter"), until=4)
    first = await harness.finished(ex)
    assert first.output is not None and first.output["seen"] == [1, 2, 3, 4]
    after_two = next(c for c in first.checkpoints if c.state and c.state.get("n") == 2)
    await history.rollback(harness.log, ex, after_two.checkpoint_id, {"n": 10, "until": 12})
    view = await harness.wait_for(ex, lambda v: v.attempt == 2 and v.finished)
    assert view.status == "completed"
    assert view.output is not None and view.output["seen"] == [1, 2, 11, 12]
    assert view.branch() is not None and view.branch().overrides == {"n": 10, "until": 12}


async def test_pause__holds_between_supersteps_until_resumed(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(graph_spec("counter"), until=5, slow_s=0.3)
    await harness.wait_for(ex, lambda v: any(s.status == "running" for s in v.steps))
    await service.command(harness.log, ex, "pause")
    paused = await harness.wait_for(ex, lambda v: v.status == "paused")
    done = sum(s.status == "completed" for s in paused.steps)
    # a barrier, not a sleep: the same worker runs another execution from start to end,
    # slower than a step of the paused one, and the paused one still records nothing
    other = await harness.submit(spec("slow", "slow"), slow_s=0.5)
    assert (await harness.finished(other)).status == "completed"
    assert (await harness.events(ex))[-1].type == "execution.paused"
    still = await current(harness.log, ex)
    assert still.status == "paused" and sum(s.status == "completed" for s in still.steps) == done
    await service.command(harness.log, ex, "resume")
    view = await harness.finished(ex)
    assert view.status == "completed" and view.output is not None
    assert view.output["seen"] == [1, 2, 3, 4, 5]


async def test_cancel__interrupts_the_running_superstep(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(graph_spec("counter"), until=3, slow_s=60)
    await harness.wait_for(ex, lambda v: any(s.status == "running" for s in v.steps))
    await service.command(harness.log, ex, "cancel", reason="enough")
    view = await harness.finished(ex, timeout=10)
    assert view.status == "cancelled" and view.error == "enough"


async def test_timeout__of_a_graph_run(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(graph_spec("counter", timeout="1s"), until=3, slow_s=60)
    view = await harness.finished(ex, timeout=20)
    assert view.status == "timed_out"


async def test_a_failing_node__fails_the_step_and_the_run(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(graph_spec("broken"))
    view = await harness.finished(ex)
    assert view.status == "failed" and "the node failed" in (view.error or "")
    assert [s.status for s in view.steps] == ["failed"]


async def test_a_compiled_graph__runs_with_omium_checkpointer(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(graph_spec("compiled_counter"), until=2)
    view = await harness.finished(ex)
    assert view.output is not None and view.output["seen"] == [1, 2]
    assert len([c for c in view.checkpoints if c.index is not None]) >= 3


async def test_waiting_run__is_answered_through_a_new_worker(harness: Harness) -> None:
    await harness.start_worker()
    ex = await submit_file(harness, EXAMPLES / "support_graph.yaml")
    await harness.wait_for(ex, lambda v: v.status == "waiting")
    await harness.stop_workers()
    calls = ScriptedChatModel.total_calls
    await harness.start_worker()
    view = await answer(harness, ex, {"approved": True})
    assert view.status == "completed"
    assert ScriptedChatModel.total_calls == calls  # the new worker re-ran no model call
    asked = [e for e in await harness.events(ex) if isinstance(e, HumanInputRequested)]
    assert len(asked) == 1, [
        (e.seq, e.payload.request_id) for e in asked
    ]  # asked once, though the graph reached interrupt() twice


async def test_reexecute__reproduces_the_support_graph_with_no_model_call(
    harness: Harness,
) -> None:
    await harness.start_worker()
    ex = await submit_file(harness, EXAMPLES / "support_graph.yaml")
    await answer(harness, ex, {"approved": True})
    calls = ScriptedChatModel.total_calls
    report = await reexecute(harness.log, ex)
    assert report.divergence is None, (report.divergence.where, report.divergence.actual)
    assert ScriptedChatModel.total_calls == calls  # every model call answered from the log
    assert [(s.name, s.result) for s in report.steps] == [
        ("triage", "completed"),
        ("billing_agent", "completed"),
        ("approval", "completed"),
        ("send", "completed"),
    ]
    assert report.state["reply"].startswith("We are sorry")
    with pytest.raises(ConfigError, match="the graph has no step 'nosuch'; steps: triage"):
        await reexecute(harness.log, ex, live=frozenset({"nosuch"}))
    with pytest.raises(ConfigError, match="--live send: a graph re-executes every step live"):
        await reexecute(harness.log, ex, live=frozenset({"send"}))


async def test_reexecute__reports_changed_code_as_the_first_divergence(
    harness: Harness, tmp_path: Path
) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    source = tmp_path / "examples" / "support_graph.py"
    await harness.start_worker()
    ex = await submit_file(harness, tmp_path / "examples" / "support_graph.yaml")
    await answer(harness, ex, {"approved": True})
    # the code now asks the model something else than the recording has
    source.write_text(source.read_text().replace("Draft a refund reply", "Write a refund reply"))
    for name in [m for m in sys.modules if m.endswith("_support_graph")]:
        del sys.modules[name]
    report = await reexecute(harness.log, ex)
    assert report.divergence is not None
    assert "not in the recording" in report.divergence.where
    asked = report.divergence.actual
    assert "Write a refund reply" in str(asked["request"])
    assert [(s.name, s.result) for s in report.steps][-1] == ("billing_agent", "diverged")


async def test_reexecute__an_attempt_a_rollback_opened(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(graph_spec("counter"), until=4)
    first = await harness.finished(ex)
    after_two = next(c for c in first.checkpoints if c.state and c.state.get("n") == 2)
    await history.rollback(harness.log, ex, after_two.checkpoint_id, {"n": 10, "until": 12})
    await harness.wait_for(ex, lambda v: v.attempt == 2 and v.finished)
    report = await reexecute(harness.log, ex, attempt=2)
    assert report.divergence is None, (report.divergence.where, report.divergence.actual)
    assert [(s.name, s.result) for s in report.steps] == [("tick", "completed")] * 2
    assert report.state["seen"] == [1, 2, 11, 12]


async def test_reexecute__the_support_graph_after_a_rollback_before_the_approval(
    harness: Harness,
) -> None:
    await harness.start_worker()
    ex = await submit_file(harness, EXAMPLES / "support_graph.yaml")
    first = await answer(harness, ex, {"approved": True})
    [triaged] = [c for c in first.checkpoints if c.step == "triage"]
    await history.rollback(harness.log, ex, triaged.checkpoint_id, {})
    await answer(harness, ex, {"approved": False}, attempt=2)
    calls = ScriptedChatModel.total_calls
    report = await reexecute(harness.log, ex, attempt=2)
    assert report.divergence is None, (report.divergence.where, report.divergence.actual)
    assert ScriptedChatModel.total_calls == calls
    assert [s.name for s in report.steps] == ["billing_agent", "approval", "send"]
    assert "colleague" in report.state["reply"]


def tries_of(events: list[Any]) -> list[tuple[str, int]]:
    return [(e.type, e.payload.retry) for e in events if e.type.startswith("step.")]


async def test_retry_policy__each_try_is_recorded(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(graph_spec("flaky"), fails=2)
    view = await harness.finished(ex)
    assert view.status == "completed" and view.output is not None
    assert view.output["tries"] == 3
    events = await harness.events(ex)
    assert tries_of(events) == [
        ("step.started", 0),
        ("step.retried", 1),
        ("step.started", 1),
        ("step.retried", 2),
        ("step.started", 2),
        ("step.completed", 2),
    ]
    errors = [e.payload.error.message for e in events if isinstance(e, StepRetried)]
    assert errors == ["try 1 failed", "try 2 failed"]
    [step] = view.steps
    assert (step.name, step.status, step.retry) == ("shaky", "completed", 2)


async def test_retry_policy__the_last_try_fails_the_step(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(graph_spec("flaky"), fails=5)
    view = await harness.finished(ex)
    assert view.status == "failed" and "try 3 failed" in (view.error or "")
    assert tries_of(await harness.events(ex))[-2:] == [("step.started", 2), ("step.failed", 2)]
