"""crewai called inside a python step: its calls are the step's, its panels stay quiet.

``crew_flow:run_flow`` kicks off a CrewAI Flow whose second method runs a one-agent crew
with a tool (a scripted LLM: offline). Run through ``omium run`` on the embedded log, the
step's ``llm.call`` and ``tool.call`` events are recorded, and crewai's console panels
("Flow Method Running" …) do not print into omium's output.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import crew_tools
import orjson
import pytest
from harness import HERE

from omium.cli import main
from omium.producers import open_log
from omium.schemas import LLMCall, ToolCall

FLOW_IN_STEP = HERE / "flow_in_step.yaml"


async def calls_of(url: str, execution_id: str) -> list[tuple[str, str | None, str]]:
    log = open_log(url)
    try:
        events = [r.event() for r in await log.read_execution(execution_id)]
    finally:
        await log.close()
    found: list[tuple[str, str | None, str]] = []
    for e in events:
        if isinstance(e, LLMCall):
            found.append(("llm", e.payload.step, e.payload.model))
        elif isinstance(e, ToolCall):
            found.append(("tool", e.payload.step, e.payload.tool))
    return found


def test_cli_run__records_a_flow_kicked_off_in_a_step_and_prints_no_panels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/log.db"
    code = main(["run", str(FLOW_IN_STEP), "--json", "--url", url])
    out = capsys.readouterr()
    assert code == 0, out
    assert "Flow Method" not in out.out + out.err and "╭" not in out.out + out.err, out
    result = orjson.loads(out.out)
    assert result["output"]["answer"] == "42"
    calls = asyncio.run(calls_of(url, result["execution_id"]))
    assert calls == [
        ("llm", "ask", "scripted"),
        ("tool", "ask", "multiply"),
        ("llm", "ask", "scripted"),
    ]
    code = main(["executions", "show", result["execution_id"], "--json", "--url", url])
    usage = orjson.loads(capsys.readouterr().out)["usage"]
    assert usage["llm_calls"] == 2 and usage["tool_calls"] == 1


def test_cli_run__records_every_kickoff_of_kickoff_for_each_in_a_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/log.db"
    code = main(["run", str(HERE / "for_each_in_step.yaml"), "--json", "--url", url])
    out = capsys.readouterr()
    assert code == 0, out
    assert "╭" not in out.out + out.err, out
    result = orjson.loads(out.out)
    assert result["output"]["answers"] == ["42", "42"]
    calls = asyncio.run(calls_of(url, result["execution_id"]))
    one = [
        ("llm", "batch", "scripted"),
        ("tool", "batch", "multiply"),
        ("llm", "batch", "scripted"),
    ]
    assert calls == one + one  # in the order made: one kickoff after the other


def test_cli_run__runs_a_flow_class_given_as_the_crew(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/l.db"
    code = main(["run", str(HERE / "flow_as_crew.yaml"), "--json", "--url", url])
    out = capsys.readouterr()
    assert code == 0, out
    assert "╭" not in out.out + out.err, out
    result = orjson.loads(out.out)
    assert result["output"]["result"] == "42" and result["output"]["numbers"] == [6, 7]
    calls = asyncio.run(calls_of(url, result["execution_id"]))
    assert calls == [
        ("llm", "compute", "scripted"),
        ("tool", "compute", "multiply"),
        ("llm", "compute", "scripted"),
    ]


@pytest.mark.parametrize(
    ("workflow", "step", "answered"),
    [("flow_in_step.yaml", "ask", 3), ("for_each_in_step.yaml", "batch", 6)],
)
def test_cli_reexecute__answers_crewai_calls_in_a_live_python_step_from_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], workflow: str, step: str, answered: int
) -> None:
    url = f"sqlite:///{tmp_path}/log.db"
    assert main(["run", str(HERE / workflow), "--json", "--url", url]) == 0
    ex = orjson.loads(capsys.readouterr().out)["execution_id"]
    tools = len(crew_tools.CALLS)
    code = main(["replay", ex, "--reexecute", "--live", step, "--json", "--url", url])
    out = capsys.readouterr()
    assert code == 0, out
    assert "╭" not in out.out + out.err, out
    report = orjson.loads(out.out)
    assert report["divergence"] is None, report["divergence"]
    [row] = report["steps"]
    assert (row["name"], row["mode"], row["result"]) == (step, "live", "completed")
    assert row["calls_answered"] == answered  # every LLM and tool call, from the log
    assert len(crew_tools.CALLS) == tools  # the tool did not run
