"""A CrewAI Flow as a ``framework: crewai`` workflow: each method run a step.

``crew_flows:Pricing`` (collect -> route -> compute (a crew with a tool) -> wait -> report,
or route -> skip) runs through ``omium run`` and the executor on every log. The oracle of
the differential tests is the same flow kicked off plainly, without omium.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import crew_tools
import orjson
import pytest
from crew_flows import Parallel, Pricing
from harness import HERE, Harness

from omium.cli import main
from omium.processors import history
from omium.processors.reexecute import reexecute
from omium.producers import open_log
from omium.schemas import ConfigError, Event, LLMCall, StepStarted, ToolCall
from omium.services import runs as service
from omium.services.workflows import load_workflow

FLOW = HERE / "crew_flow_run.yaml"
STEPS = ["collect", "route", "compute", "wait", "report"]


def plain_run(**inputs: Any) -> dict[str, Any]:
    """The oracle: the flow's final state, kicked off without omium."""
    flow = Pricing()
    flow.kickoff(inputs=inputs)
    return dict(flow.state)


async def events_of(url: str, execution_id: str) -> list[Event]:
    log = open_log(url)
    try:
        return [r.event() for r in await log.read_execution(execution_id)]
    finally:
        await log.close()


def test_cli_run__a_flow_runs_method_by_method_as_a_plain_kickoff_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/log.db"
    code = main(["run", str(FLOW), "--json", "--url", url])
    out = capsys.readouterr()
    assert code == 0, out
    assert "Flow Method" not in out.out + out.err and "╭" not in out.out + out.err, out
    result = orjson.loads(out.out)
    ex, output = result["execution_id"], result["output"]
    assert output.pop("result") == "product 84"
    assert output == plain_run(factor=2, id=ex)  # the differential oracle
    capsys.readouterr()  # what crewai printed of the plain run
    assert main(["executions", "show", ex, "--json", "--url", url]) == 0
    view = orjson.loads(capsys.readouterr().out)
    assert [(s["name"], s["status"]) for s in view["steps"]] == [(s, "completed") for s in STEPS]
    assert view["usage"]["llm_calls"] == 2 and view["usage"]["tool_calls"] == 1
    calls = [
        (e.type, e.payload.step)
        for e in asyncio.run(events_of(url, ex))
        if isinstance(e, LLMCall | ToolCall)
    ]
    assert calls == [("llm.call", "compute"), ("tool.call", "compute"), ("llm.call", "compute")]

    # roll back to the crew's method with an edited state key: only what follows runs
    code = main(
        ["rollback", ex, "--to", "a1-2-compute", "--set", "factor=3", "--follow", "--url", url]
    )
    assert code == 0, capsys.readouterr()
    capsys.readouterr()
    assert main(["executions", "show", ex, "--json", "--url", url]) == 0
    view = orjson.loads(capsys.readouterr().out)
    assert view["output"]["report"] == "product 126"
    assert [s["name"] for s in view["steps"] if s["attempt"] == 2] == ["wait", "report"]
    assert main(["replay", ex, "--verify", "--url", url]) == 0, capsys.readouterr()
    capsys.readouterr()
    tools = len(crew_tools.CALLS)
    assert main(["replay", ex, "--reexecute", "--attempt", "1", "--json", "--url", url]) == 0
    report = orjson.loads(capsys.readouterr().out)
    assert report["divergence"] is None, report
    assert [(s["name"], s["result"]) for s in report["steps"]] == [(s, "completed") for s in STEPS]
    assert [s["calls_answered"] for s in report["steps"]] == [0, 0, 3, 0, 0]
    assert len(crew_tools.CALLS) == tools  # the crew's tool was answered from the log


async def submit(harness: Harness, **inputs: Any) -> str:
    ex = f"ex-{uuid.uuid4().hex[:10]}"
    return await service.submit(harness.log, load_workflow(FLOW), FLOW, inputs, execution_id=ex)


async def test_flow__checkpoints_the_flow_state_after_each_method(harness: Harness) -> None:
    await harness.start_worker()
    ex = await submit(harness)
    view = await harness.finished(ex)
    assert view.status == "completed", view.error
    assert [c.checkpoint_id for c in view.checkpoints] == [
        f"a1-{i}-{name}" for i, name in enumerate(STEPS)
    ]
    after_compute = view.checkpoints[2].state
    assert after_compute is not None
    assert after_compute["product"] == 42 and after_compute["id"] == ex
    assert after_compute["__methods__"] == [
        ["collect", "collected"],
        ["route", "big"],
        ["compute", "42"],
    ]
    assert view.output is not None
    assert view.output["result"] == "product 84"
    started = [e.payload.step for e in await harness.events(ex) if isinstance(e, StepStarted)]
    assert started == STEPS


async def test_flow__pauses_between_methods_until_resumed(harness: Harness) -> None:
    await harness.start_worker()
    ex = await submit(harness, wait_s=1.0)
    await harness.wait_for(ex, lambda v: any(s.name == "wait" for s in v.steps))
    await service.command(harness.log, ex, "pause")
    paused = await harness.wait_for(ex, lambda v: v.status == "paused")
    assert [s.name for s in paused.steps if s.status == "completed"] == STEPS[:4]
    assert (await harness.events(ex))[-1].type == "execution.paused"
    await service.command(harness.log, ex, "resume")
    view = await harness.finished(ex)
    assert view.status == "completed" and [s.name for s in view.steps] == STEPS


async def test_flow__cancel_stops_it(harness: Harness) -> None:
    await harness.start_worker()
    ex = await submit(harness, wait_s=30)
    await harness.wait_for(ex, lambda v: any(s.name == "wait" for s in v.steps))
    await service.command(harness.log, ex, "cancel", reason="stop")
    view = await harness.finished(ex, timeout=15)
    assert view.status == "cancelled" and view.error is not None


async def test_flow__rollback_to_each_method_runs_only_what_follows(harness: Harness) -> None:
    await harness.start_worker()
    ex = await submit(harness)
    first = await harness.finished(ex)
    for attempt, checkpoint in enumerate(first.checkpoints, start=2):
        ran = len(crew_tools.FLOW_METHODS)
        await history.rollback(harness.log, ex, checkpoint.checkpoint_id, {})
        view = await harness.wait_for(ex, lambda v, a=attempt: v.attempt == a and v.finished)
        assert view.status == "completed", view.error
        assert view.output == first.output
        rerun = [s.name for s in view.steps if s.attempt == attempt]
        assert rerun == STEPS[checkpoint.index + 1 :]  # type: ignore[operator]
        assert crew_tools.FLOW_METHODS[ran:] == rerun  # served methods did not run again
        report = await reexecute(harness.log, ex, attempt=attempt)
        assert report.divergence is None, report.divergence
        assert [s.name for s in report.steps] == rerun


async def test_flow__rollback_with_an_edited_state_takes_the_other_route(
    harness: Harness,
) -> None:
    await harness.start_worker()
    ex = await submit(harness)
    await harness.finished(ex)
    await history.rollback(harness.log, ex, "a1-0-collect", {"numbers": [1, 2]})
    view = await harness.wait_for(ex, lambda v: v.attempt == 2 and v.finished)
    assert view.status == "completed", view.error
    assert [s.name for s in view.steps if s.attempt == 2] == ["route", "skip"]
    assert view.output is not None
    assert view.output["product"] == 0 and view.output["result"] == "skipped"
    expected = plain_run(numbers=[1, 2], factor=2, id=ex)  # the oracle, with the edit
    assert {k: v for k, v in view.output.items() if k not in ("result", "run_key")} == expected


async def test_flow__reexecutes_from_the_log_with_no_model_or_tool_call(
    harness: Harness,
) -> None:
    await harness.start_worker()
    ex = await submit(harness)
    await harness.finished(ex)
    tools = len(crew_tools.CALLS)
    report = await reexecute(harness.log, ex)
    assert report.divergence is None, report.divergence
    assert [(s.name, s.calls_answered) for s in report.steps] == [
        ("collect", 0),
        ("route", 0),
        ("compute", 3),
        ("wait", 0),
        ("report", 0),
    ]
    assert len(crew_tools.CALLS) == tools
    with pytest.raises(ConfigError, match="--live compute: a flow re-executes every step"):
        await reexecute(harness.log, ex, live=frozenset({"compute"}))


async def test_flow__parallel_listeners_checkpoint_one_method_at_a_time(
    harness: Harness,
) -> None:
    path = HERE / "crew_flow_parallel.yaml"
    await harness.start_worker()
    ex = f"ex-{uuid.uuid4().hex[:10]}"
    await service.submit(harness.log, load_workflow(path), path, {}, execution_id=ex)
    first = await harness.finished(ex)
    assert first.status == "completed", first.error
    plain = Parallel()
    await asyncio.to_thread(plain.kickoff, inputs={"id": ex})  # the oracle
    assert first.output is not None
    assert {k: v for k, v in first.output.items() if k != "result"} == plain.state.model_dump()
    names = [s.name for s in first.steps]
    assert sorted(names[1:3]) == ["left", "right"] and names[3:] == ["join", "check", "add_more"]
    for attempt, checkpoint in enumerate(first.checkpoints, start=2):
        state = checkpoint.state or {}
        assert len(state["seen"]) == min(checkpoint.index or 0, 2) + 1  # a whole method each
        await history.rollback(harness.log, ex, checkpoint.checkpoint_id, {})
        view = await harness.wait_for(ex, lambda v, a=attempt: v.attempt == a and v.finished)
        assert view.status == "completed", view.error
        assert view.output == first.output
        assert [s.name for s in view.steps if s.attempt == attempt] == names[
            len(state["__methods__"]) :
        ]
