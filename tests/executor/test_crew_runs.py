"""``framework: crewai`` workflows through the executor, on every log (SQLite and Kafka)."""

from __future__ import annotations

import sys
import uuid

import pytest
import yaml
from harness import HERE, Harness, spec

from omium.processors import history
from omium.processors.history import current
from omium.processors.reexecute import reexecute
from omium.schemas import AgentHandoff, ConfigError, LLMCall, StepStarted, ToolCall
from omium.schemas.workflow import WorkflowSpec
from omium.services import runs as service
from omium.services.workflows import load_workflow

CREW = """
name: crew-flow
framework: crewai
inputs: {topic: partitions}
agents:
  - name: researcher
    role: Researcher
    goal: Find facts about {topic}
    tools: [crew_tools:read_notes, crew_tools:multiply]
    llm:
      script:
        - {action: read_notes, input: {name: crew_notes.txt}}
        - {action: multiply, input: {a: 6, b: 7}}
        - {final: "FACTS: order per partition; 42"}
  - name: waiter
    role: Waiter
    goal: Wait
    tools: [crew_tools:wait_a_bit]
    llm:
      script:
        - {action: wait_a_bit, input: {seconds: 0}}
        - {final: "WAITED"}
  - name: writer
    role: Writer
    goal: Write the report
    llm: {script: [{final: "REPORT: partitions order events"}]}
tasks:
  - {name: research, description: "Research {topic}", expected_output: facts, agent: researcher}
  - {name: wait, description: Wait a moment, expected_output: done, agent: waiter}
  - name: write
    description: Write a short report
    expected_output: a report
    agent: writer
    context: [research]
"""


def crew_spec(wait_s: float = 0) -> WorkflowSpec:
    data = yaml.safe_load(CREW.replace("seconds: 0", f"seconds: {wait_s}"))
    return WorkflowSpec.model_validate(data)


async def test_crew__runs_task_by_task_with_a_checkpoint_after_each(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(crew_spec())
    view = await harness.finished(ex)
    assert view.status == "completed", view.error
    assert [(s.name, s.status) for s in view.steps] == [
        ("research", "completed"),
        ("wait", "completed"),
        ("write", "completed"),
    ]
    assert [c.checkpoint_id for c in view.checkpoints] == [
        "a1-0-research",
        "a1-1-wait",
        "a1-2-write",
    ]
    assert view.output is not None
    assert view.output["research"]["raw"] == "FACTS: order per partition; 42"
    assert view.output["result"]["raw"] == "REPORT: partitions order events"
    events = await harness.events(ex)
    tools = [(e.payload.tool, e.payload.result) for e in events if isinstance(e, ToolCall)]
    assert ("multiply", 42) in tools  # the tool's own result, not the text the agent saw
    assert any("order within a partition" in str(result) for _, result in tools)
    assert sum(isinstance(e, LLMCall) for e in events) == 6
    handoffs = [
        (e.payload.from_agent, e.payload.to_agent) for e in events if isinstance(e, AgentHandoff)
    ]
    assert handoffs == [("Researcher", "Waiter"), ("Waiter", "Writer")]
    assert view.usage.llm_calls == 6 and view.usage.input_tokens > 0


async def test_crew__pauses_between_tasks_until_resumed(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(crew_spec(wait_s=1.0))
    await harness.wait_for(ex, lambda v: any(s.name == "wait" for s in v.steps))
    await service.command(harness.log, ex, "pause")
    paused = await harness.wait_for(ex, lambda v: v.status == "paused")
    assert [s.name for s in paused.steps if s.status == "completed"] == ["research", "wait"]
    # a barrier, not a sleep: the same worker runs another execution from start to end,
    # slower than a step of the paused one, and the paused one still records nothing
    other = await harness.submit(spec("slow", "slow"), slow_s=0.5)
    assert (await harness.finished(other)).status == "completed"
    assert (await harness.events(ex))[-1].type == "execution.paused"
    still = await current(harness.log, ex)
    assert still.status == "paused" and len(still.steps) == 2
    await service.command(harness.log, ex, "resume")
    view = await harness.finished(ex)
    assert view.status == "completed"


async def test_crew__cancel_stops_it(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(crew_spec(wait_s=30))
    await harness.wait_for(ex, lambda v: any(s.name == "wait" for s in v.steps))
    await service.command(harness.log, ex, "cancel", reason="stop")
    view = await harness.finished(ex, timeout=15)
    assert view.status == "cancelled" and view.error is not None


async def test_crew__rollback_to_each_task_reruns_the_rest(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(crew_spec())
    first = await harness.finished(ex)
    for attempt, checkpoint in enumerate(first.checkpoints, start=2):
        await history.rollback(harness.log, ex, checkpoint.checkpoint_id, {})
        view = await harness.wait_for(ex, lambda v, a=attempt: v.attempt == a and v.finished)
        assert view.status == "completed", view.error
        assert view.output is not None
        assert view.output["result"]["raw"] == first.output["result"]["raw"]  # type: ignore[index]
        rerun = [s.name for s in view.steps if s.attempt == attempt]
        assert rerun == ["research", "wait", "write"][checkpoint.index + 1 :]  # type: ignore[operator]


async def test_crew__rollback_with_an_edited_task_output(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(crew_spec())
    await harness.finished(ex)
    edited = {"raw": "FACTS: edited by a person"}
    await history.rollback(harness.log, ex, "a1-1-wait", {"research": edited})
    view = await harness.wait_for(ex, lambda v: v.attempt == 2 and v.finished)
    assert view.status == "completed" and view.output is not None
    assert view.output["research"] == edited
    events = await harness.events(ex)
    [asked] = [e for e in events if isinstance(e, LLMCall) and e.attempt == 2]
    assert "FACTS: edited by a person" in str(asked.payload.request)  # the writer saw the edit


async def test_crew__reexecutes_from_the_log_with_no_model_or_tool_call(
    harness: Harness,
) -> None:
    await harness.start_worker()
    ex = await harness.submit(crew_spec())
    await harness.finished(ex)
    await history.rollback(harness.log, ex, "a1-0-research", {"topic": "offsets"})
    await harness.wait_for(ex, lambda v: v.attempt == 2 and v.finished)
    [tools] = [m for n, m in sys.modules.items() if n.endswith("_crew_tools")]
    calls = len(tools.CALLS)
    for attempt, tasks in ((1, ["research", "wait", "write"]), (2, ["wait", "write"])):
        report = await reexecute(harness.log, ex, attempt=attempt)
        assert report.divergence is None, (report.divergence.where, report.divergence.actual)
        assert [(s.name, s.result) for s in report.steps] == [(t, "completed") for t in tasks]
        assert len(tools.CALLS) == calls  # no tool ran; the scripted LLMs were replaced


async def test_crew__reexecution_counts_each_tasks_calls_and_refuses_live_choices(
    harness: Harness,
) -> None:
    await harness.start_worker()
    ex = await harness.submit(crew_spec())
    await harness.finished(ex)
    recorded: dict[str, int] = {}  # the oracle: calls recorded within each task's span
    task = None
    for event in await harness.events(ex):
        if isinstance(event, StepStarted):
            task = event.payload.step
        elif isinstance(event, LLMCall | ToolCall) and task is not None:
            recorded[task] = recorded.get(task, 0) + 1
    report = await reexecute(harness.log, ex)
    assert [(s.name, s.calls_answered) for s in report.steps] == [
        (name, recorded.get(name, 0)) for name in ("research", "wait", "write")
    ]
    assert recorded["research"] == 5  # 3 LLM answers and 2 tools: not cumulative below
    with pytest.raises(ConfigError, match="the crew has no step 'nosuch'; steps: research, wait"):
        await reexecute(harness.log, ex, live=frozenset({"nosuch"}))
    with pytest.raises(ConfigError, match="the crew has no step 'nosuch'"):
        await reexecute(harness.log, ex, until_step="nosuch")
    with pytest.raises(ConfigError, match="--live wait: a crew re-executes every step live"):
        await reexecute(harness.log, ex, live=frozenset({"wait"}))
    everything = await reexecute(harness.log, ex, live=frozenset({"*"}))
    assert everything.divergence is None and len(everything.steps) == 3


async def test_research_crew_example__runs_rolls_back_and_reexecutes(harness: Harness) -> None:
    path = HERE.parents[1] / "examples" / "research_crew.yaml"
    await harness.start_worker()
    spec = load_workflow(path)
    ex = await service.submit(
        harness.log, spec, path, {}, execution_id=f"ex-{uuid.uuid4().hex[:10]}"
    )
    first = await harness.finished(ex)
    assert first.status == "completed", first.error
    assert [c.checkpoint_id for c in first.checkpoints] == [
        "a1-0-research",
        "a1-1-analyse",
        "a1-2-write",
    ]
    assert first.output is not None and "229 words" in first.output["result"]["raw"]
    for attempt, checkpoint in enumerate(first.checkpoints, start=2):
        await history.rollback(harness.log, ex, checkpoint.checkpoint_id, {"audience": "ops"})
        view = await harness.wait_for(ex, lambda v, a=attempt: v.attempt == a and v.finished)
        assert view.status == "completed", view.error
        assert view.output is not None and view.output["audience"] == "ops"
        report = await reexecute(harness.log, ex, attempt=attempt)
        assert report.divergence is None, report.divergence.where
    report = await reexecute(harness.log, ex, attempt=1)
    assert report.divergence is None and len(report.steps) == 3
