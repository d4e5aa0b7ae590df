"""The functional API (``@entrypoint`` / ``@task``) in workflow mode: refused, in one line.

Streamed as a graph an entrypoint's tasks never end as steps, its checkpoints hold no
state and re-execution cannot match; so ``omium run`` refuses it instead of running it
half. Used directly (``OmiumSaver`` as the entrypoint's checkpointer) it runs as
LangGraph runs it, which the differential test below pins against ``InMemorySaver``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flow_graphs import functional
from harness import HERE, Harness
from langgraph.checkpoint.memory import InMemorySaver
from test_graph_runs import graph_spec

from omium.adapters.langgraph import OmiumSaver
from omium.cli import main
from omium.producers import open_log

FUNCTIONAL = HERE / "functional_api.yaml"


def test_cli_run__refuses_an_entrypoint_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", str(FUNCTIONAL), "--url", f"sqlite:///{tmp_path}/log.db"])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert len(err.splitlines()) == 1, err
    assert "flow_graphs:functional is a functional-API @entrypoint" in err
    assert "Traceback" not in err


async def test_a_factory_returning_an_entrypoint__fails_the_run_with_that_reason(
    harness: Harness,
) -> None:
    await harness.start_worker()
    ex = await harness.submit(graph_spec("functional_factory"))
    view = await harness.finished(ex)
    assert view.status == "failed"
    assert "functional-API @entrypoint" in (view.error or "")
    assert not view.steps  # nothing ran half


async def test_entrypoint_with_omium_saver__matches_in_memory_saver(tmp_path: Path) -> None:
    log = open_log(f"sqlite:///{tmp_path}/log.db")
    try:
        results = []
        for saver in (InMemorySaver(), OmiumSaver(log)):
            flow = functional.copy({"checkpointer": saver})
            config = {"configurable": {"thread_id": "t1"}}
            out = await flow.ainvoke({"n": 5}, config)
            history = [s.values async for s in flow.aget_state_history(config)]
            results.append((out, history))
        assert results[0] == results[1]
        assert results[0][0] == {"n": 6}
    finally:
        await log.close()
