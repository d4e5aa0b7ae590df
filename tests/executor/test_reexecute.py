"""Recorded LLM and tool calls, and re-executing a run from the log with none of them made."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import Harness, spec

from omium.processors import history
from omium.processors.reexecute import reexecute
from omium.schemas import ConfigError


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "suffix").write_text("")
    return {"calls_file": str(tmp_path / "calls"), "suffix_file": str(tmp_path / "suffix")}


def real_calls(files: dict[str, str]) -> list[str]:
    path = Path(files["calls_file"])
    return path.read_text().split() if path.exists() else []


async def test_step_calls__are_recorded_in_order_with_usage(
    harness: Harness, files: dict[str, str]
) -> None:
    await harness.start_worker()
    ex = await harness.submit(spec("add", "ask", "double"), total=1, question="why", **files)
    view = await harness.finished(ex)
    assert view.status == "completed" and view.output is not None
    assert view.output["answer"] == "WHY" and view.output["length"] == 3
    assert (view.usage.llm_calls, view.usage.input_tokens, view.usage.output_tokens) == (1, 7, 3)
    assert view.usage.tool_calls == 1
    types = [e.type for e in await harness.events(ex) if e.attempt == 1]
    ask = types.index("llm.call")
    assert types[ask - 1 : ask + 3] == ["step.started", "llm.call", "tool.call", "step.completed"]
    assert real_calls(files) == ["llm", "tool"]


async def test_reexecute__answers_every_call_from_the_log(
    harness: Harness, files: dict[str, str]
) -> None:
    await harness.start_worker()
    ex = await harness.submit(spec("add", "ask", "double"), total=1, question="why", **files)
    view = await harness.finished(ex)
    before = len(await harness.events(ex))
    for live in (frozenset({"ask1"}), frozenset({"*"})):
        report = await reexecute(harness.log, ex, live=live)
        assert report.divergence is None
        assert [(s.name, s.mode, s.result) for s in report.steps] == [
            ("add0", "live" if "*" in live else "served", "completed"),
            ("ask1", "live", "completed"),
            ("double2", "live" if "*" in live else "served", "completed"),
        ]
        assert report.steps[1].calls_answered == 2 and report.connections == 0
        assert report.state == view.output
    assert real_calls(files) == ["llm", "tool"]  # only the original run's: none on replay
    assert len(await harness.events(ex)) == before  # re-execution records nothing
    until = await reexecute(harness.log, ex, live=frozenset({"ask1"}), until_step="ask1")
    assert [s.name for s in until.steps] == ["add0", "ask1"]


async def test_reexecute__reports_the_first_divergence_with_both_sides(
    harness: Harness, files: dict[str, str]
) -> None:
    await harness.start_worker()
    ex = await harness.submit(spec("add", "ask"), total=1, question="why", **files)
    await harness.finished(ex)
    Path(files["suffix_file"]).write_text("?")  # the code now asks the model another thing
    report = await reexecute(harness.log, ex, live=frozenset({"ask1"}))
    diverged = report.divergence
    assert diverged is not None and diverged.where == "step ask1: call 1 (llm) differs"
    assert diverged.expected == {"kind": "llm", "name": "scripted", "request": {"q": "why"}}
    assert diverged.actual == {"kind": "llm", "name": "scripted", "request": {"q": "why?"}}
    assert report.steps[-1].result == "diverged"
    assert real_calls(files) == ["llm", "tool"]
    with pytest.raises(ConfigError, match="the workflow has no step 'nope'"):
        await reexecute(harness.log, ex, live=frozenset({"nope"}))


async def test_reexecute__a_rolled_back_attempt_starts_at_its_branch(
    harness: Harness, files: dict[str, str]
) -> None:
    await harness.start_worker()
    ex = await harness.submit(spec("add", "ask", "double"), total=1, question="why", **files)
    await harness.finished(ex)
    await history.rollback(harness.log, ex, "a1-0-add0", {"question": "how"})
    view = await harness.wait_for(ex, lambda v: v.attempt == 2 and v.finished)
    report = await reexecute(harness.log, ex, live=frozenset({"*"}))
    assert report.attempt == 2 and report.divergence is None
    assert [s.name for s in report.steps] == ["ask1", "double2"]
    assert report.state == view.output and report.state["answer"] == "HOW"
    first = await reexecute(harness.log, ex, attempt=1, live=frozenset({"*"}))
    assert first.divergence is None and first.state["answer"] == "WHY"
