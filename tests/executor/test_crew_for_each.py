"""``for_each: KEY``: crewai's kickoff_for_each as one sub-execution of the crew per input.

The oracle of the differential test is crewai's own ``crew.kickoff_for_each`` on the same
crew, kicked off plainly.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import orjson
import pytest
from harness import HERE, Harness

from omium.adapters.crewai import crew_factory
from omium.cli import main
from omium.processors import history
from omium.processors.history import current
from omium.processors.reexecute import reexecute
from omium.schemas import ConfigError, Run
from omium.schemas.topics import COMMANDS
from omium.services import runs as service
from omium.services.workflows import load_workflow

FOR_EACH = HERE / "crew_for_each.yaml"


def plain_for_each() -> list[str]:
    """The oracle: crewai's kickoff_for_each over the same inputs, without omium."""
    spec = load_workflow(FOR_EACH)
    crew = crew_factory(spec.model_copy(update={"for_each": None}), HERE)()
    shared = {k: v for k, v in spec.inputs.items() if k != "pairs"}
    pairs = spec.inputs["pairs"]
    assert isinstance(pairs, list)
    outputs = crew.kickoff_for_each(inputs=[{**shared, **p} for p in pairs])  # type: ignore[dict-item]
    return [str(o.raw) for o in outputs]


async def submit(harness: Harness) -> str:
    ex = f"ex-{uuid.uuid4().hex[:10]}"
    spec = load_workflow(FOR_EACH)
    return await service.submit(harness.log, spec, FOR_EACH, {}, execution_id=ex)


async def test_for_each__runs_one_sub_execution_per_input(harness: Harness) -> None:
    await harness.start_worker()
    ex = await submit(harness)
    parent = await harness.finished(ex)
    assert parent.status == "completed", parent.error
    assert [s.name for s in parent.steps] == ["kickoff_0", "kickoff_1"]
    assert parent.output is not None
    children = [parent.output[f"kickoff_{i}"]["execution_id"] for i in range(2)]
    assert children == [f"{ex}-1-0", f"{ex}-1-1"]
    for child, (a, b) in zip(children, [(6, 7), (2, 3)], strict=True):
        view = await current(harness.log, child)
        assert view.status == "completed" and view.workflow == "crew-for-each"
        assert view.inputs == {"unit": "apples", "a": a, "b": b}  # shared inputs, then the item
        assert [s.name for s in view.steps] == ["multiply"]
        assert view.usage.llm_calls == 2 and view.usage.tool_calls == 1
        commands = [r.event() for r in await harness.log.read_execution(child, topic=COMMANDS.name)]
        assert [c.payload.parent for c in commands if isinstance(c, Run)] == [ex]  # the link
        events = [r.event() for r in await harness.log.read_execution(child)]
        assert [e.payload.parent for e in events if e.type == "execution.submitted"] == [ex]
    results = [r["raw"] for r in parent.output["result"]]
    oracle = await asyncio.to_thread(plain_for_each)  # crewai's own kickoff_for_each
    assert results == oracle
    # the children are crew runs of their own: each re-executes from the log
    report = await reexecute(harness.log, children[1])
    assert report.divergence is None and [s.name for s in report.steps] == ["multiply"]
    with pytest.raises(ConfigError, match="a for_each run does nothing itself"):
        await reexecute(harness.log, ex)


async def test_for_each__rollback_reruns_the_later_children_as_new_ones(
    harness: Harness,
) -> None:
    await harness.start_worker()
    ex = await submit(harness)
    await harness.finished(ex)
    await history.rollback(harness.log, ex, "a1-0-kickoff_0", {})
    view = await harness.wait_for(ex, lambda v: v.attempt == 2 and v.finished)
    assert view.status == "completed", view.error
    assert [s.name for s in view.steps if s.attempt == 2] == ["kickoff_1"]
    assert view.output is not None
    assert view.output["kickoff_0"]["execution_id"] == f"{ex}-1-0"  # kept from attempt 1
    assert view.output["kickoff_1"]["execution_id"] == f"{ex}-2-1"  # a new child
    assert (await current(harness.log, f"{ex}-2-1")).status == "completed"


def test_cli_run__for_each_lists_the_parent_and_its_children(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/log.db"
    code = main(["run", str(FOR_EACH), "--json", "--url", url])
    out = capsys.readouterr()
    assert code == 0, out
    assert "╭" not in out.out + out.err, out
    ex = orjson.loads(out.out)["execution_id"]
    assert main(["executions", "list", "--json", "--url", url]) == 0
    listed = orjson.loads(capsys.readouterr().out)
    rows = listed["items"] if isinstance(listed, dict) else listed
    ids = sorted(r["execution_id"] for r in rows)
    assert ids == [ex, f"{ex}-1-0", f"{ex}-1-1"]
    assert all(r["status"] == "completed" for r in rows)
    assert main(["executions", "show", ex, "--json", "--url", url]) == 0
    shown = orjson.loads(capsys.readouterr().out)
    assert [s["name"] for s in shown["steps"]] == ["kickoff_0", "kickoff_1"]
    assert [shown["output"][f"kickoff_{i}"]["status"] for i in range(2)] == ["completed"] * 2
