"""Rollbacks of graph runs that fail, and ``--as-node``: never a wedged execution.

The graph (``flow_graphs:fanout``) runs ``left`` and ``right`` in one superstep, then
``join`` adds what they wrote. Editing its parallel checkpoint needs to know which node
the edits are written as: LangGraph's ``update_state`` refuses to guess.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from harness import HERE, Harness, spec
from test_graph_runs import graph_spec, submit_file

from omium.cli import main
from omium.processors import history
from omium.processors.reexecute import reexecute
from omium.projections import ExecutionView, Until
from omium.schemas import ConfigError, ExecutionFailed

FANOUT = HERE / "fanout_graph.yaml"


def parallel(view: ExecutionView) -> str:
    """The checkpoint after the superstep that ran left and right."""
    [found] = [c for c in view.checkpoints if c.step in ("left,right", "right,left")]
    return found.checkpoint_id


async def failures(harness: Harness, ex: str) -> list[tuple[int, str]]:
    events = await harness.events(ex)
    return [(e.attempt, e.payload.error.message) for e in events if isinstance(e, ExecutionFailed)]


async def rolled(harness: Harness, ex: str, attempt: int) -> ExecutionView:
    return await harness.wait_for(ex, lambda v: v.attempt == attempt and v.finished)


async def test_failed_rollback__ends_its_attempt_once_and_the_next_one_runs(
    harness: Harness,
) -> None:
    await harness.start_worker()
    ex = await submit_file(harness, FANOUT)
    first = await harness.finished(ex)
    assert first.output is not None and first.output["total"] == 3
    both = parallel(first)
    # both nodes wrote the edited keys: no node to write them as
    await history.rollback(harness.log, ex, both, {"left": 5, "right": 6})
    failed = await rolled(harness, ex, 2)
    assert failed.status == "failed" and "--as-node" in (failed.error or "")
    # one node wrote the edited key: the edits are written as that node
    await history.rollback(harness.log, ex, both, {"left": 5})
    view = await rolled(harness, ex, 3)
    assert view.status == "completed", view.error
    assert view.output is not None and view.output["total"] == 5 + 2
    await history.rollback(harness.log, ex, both, {"left": 5, "right": 6}, as_node="left")
    view = await rolled(harness, ex, 4)
    assert view.status == "completed", view.error
    assert view.output is not None and view.output["total"] == 5 + 6
    # the execution view's branches say which node the edits were written as
    assert [(b.attempt, b.as_node) for b in view.branches] == [(2, None), (3, None), (4, "left")]
    timeline = (await history.replay_execution(harness.log, ex, Until())).timeline
    assert any(e.summary.endswith("with left, right set as node left") for e in timeline.entries)
    [(attempt, reason)] = await failures(harness, ex)  # once, in the attempt it ended
    assert attempt == 2 and "Ambiguous update" in reason and "left and right" in reason
    for attempt in (3, 4):  # re-execution forks the same way (the node is on the log)
        report = await reexecute(harness.log, ex, attempt=attempt)
        assert report.divergence is None, report.divergence
        assert [s.name for s in report.steps] == ["join"]


async def test_pending_rollback__after_a_failed_one__is_taken_by_a_fresh_worker(
    harness: Harness,
) -> None:
    await harness.start_worker()
    ex = await submit_file(harness, FANOUT)
    both = parallel(await harness.finished(ex))
    await history.rollback(harness.log, ex, both, {"left": 5, "right": 6}, as_node="nosuch")
    failed = await rolled(harness, ex, 2)
    assert failed.status == "failed" and "Node nosuch does not exist" in (failed.error or "")
    await harness.stop_workers()
    await history.rollback(harness.log, ex, both, {"right": 6})
    await harness.start_worker()
    view = await rolled(harness, ex, 3)
    assert view.status == "completed" and view.output is not None
    assert view.output["total"] == 1 + 6
    assert [a for a, _ in await failures(harness, ex)] == [2]


async def test_rollback_of_code_that_no_longer_loads__fails_its_own_attempt(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await harness.start_worker()
    ex = await harness.submit(graph_spec("fanout_until_broken"))
    both = parallel(await harness.finished(ex))
    monkeypatch.setenv("OMIUM_TEST_BROKEN_GRAPH", "1")
    await history.rollback(harness.log, ex, both, {})
    failed = await rolled(harness, ex, 2)
    assert failed.status == "failed" and "broken now" in (failed.error or "")
    monkeypatch.delenv("OMIUM_TEST_BROKEN_GRAPH")
    await history.rollback(harness.log, ex, both, {"left": 4})
    view = await rolled(harness, ex, 3)
    assert view.output is not None and view.output["total"] == 4 + 2
    assert [a for a, _ in await failures(harness, ex)] == [2]


async def test_as_node__is_refused_without_edits_or_on_python_runs(harness: Harness) -> None:
    await harness.start_worker()
    ex = await submit_file(harness, FANOUT)
    both = parallel(await harness.finished(ex))
    with pytest.raises(ConfigError, match="give --set or --add too"):
        await history.rollback(harness.log, ex, both, {}, as_node="left")
    steps = await harness.submit(spec("add"), total=1)
    [after_add] = (await harness.finished(steps)).checkpoints
    with pytest.raises(ConfigError, match="is not a graph run"):
        await history.rollback(
            harness.log, steps, after_add.checkpoint_id, {"total": 2}, as_node="add0"
        )


def test_cli_rollback__follow_ends_with_the_failure_then_runs_the_next(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/log.db"

    def cli(*argv: str) -> tuple[int, str]:
        code = main([*argv, "--url", url])
        return code, capsys.readouterr().out

    code, out = cli("run", str(FANOUT), "--json")
    assert code == 0, out
    ex = str(orjson.loads(out)["execution_id"])
    code, out = cli("checkpoints", ex, "--json")
    [both] = [r["checkpoint_id"] for r in orjson.loads(out) if r["step"] == "left,right"]
    rollback = ("rollback", ex, "--to", both, "--set", "left=5", "--set", "right=6", "--follow")
    code, out = cli(*rollback)
    assert code == 1 and out.rstrip().endswith("as attempt 2: failed"), out
    code, out = cli(*rollback, "--as-node", "right", "--json")
    assert code == 0, out
    assert orjson.loads(out)["status"] == "completed"
    code, out = cli("executions", "show", ex, "--json")
    assert orjson.loads(out)["output"]["total"] == 5 + 6
