"""Graphs with a subgraph as a node (``flow_graphs:with_subgraph``) through the CLI.

``write`` is a compiled subgraph (``draft`` then ``polish``) run between ``prepare`` and
``finish``. Its checkpoints are on the log in their own namespace: listed with their path
(``write/draft``), refused as rollback targets with the root checkpoint that contains
them, and its nodes are steps nested under ``write``. The oracle is the same graph on
LangGraph's ``InMemorySaver``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from flow_graphs import nested_interrupt, with_subgraph
from harness import HERE, Harness
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from test_graph_runs import answer, graph_spec, submit_file

from omium.adapters.jsonable import jsonable
from omium.cli import main
from omium.processors import history
from omium.processors.reexecute import reexecute
from omium.schemas import ConfigError, ExecutionResumed, from_dict

SUBGRAPH = HERE / "subgraph.yaml"
CONFIG: Any = {"configurable": {"thread_id": "t"}}


def in_memory() -> tuple[Any, InMemorySaver]:
    """The graph run by LangGraph alone, with the workflow's inputs."""
    saver = InMemorySaver()
    graph = with_subgraph().compile(checkpointer=saver)
    graph.invoke({"topic": "tides"}, CONFIG)
    return graph, saver


def saved_states(saver: InMemorySaver, *, subgraph: bool) -> list[tuple[str, dict[str, Any]]]:
    """The subgraph's (or root's) checkpoints, oldest first: (path, user-visible state)."""
    found = [
        t for t in saver.list(None) if bool(t.config["configurable"]["checkpoint_ns"]) == subgraph
    ]
    found.sort(key=lambda t: t.checkpoint["id"])
    return [
        (
            t.config["configurable"]["checkpoint_ns"].partition(":")[0],
            {
                k: v
                for k, v in t.checkpoint["channel_values"].items()
                if not k.startswith(("__", "branch:"))
            },
        )
        for t in found
    ]


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    url = f"sqlite:///{tmp_path}/log.db"

    def call(*argv: str) -> tuple[int, str, str]:
        code = main([*argv, "--url", url])
        out = capsys.readouterr()
        return code, out.out, out.err

    return call


def test_cli__subgraph_checkpoints_steps_and_rollbacks_match_langgraph(cli: Any) -> None:
    code, out, _ = cli("run", str(SUBGRAPH), "--json")
    assert code == 0, out
    ran = orjson.loads(out)
    ex = ran["execution_id"]
    graph, saver = in_memory()
    assert ran["output"] == jsonable(graph.get_state(CONFIG).values)

    # the steps: the subgraph's nodes right under the node that ran them
    code, out, _ = cli("executions", "show", ex, "--json")
    steps = [s["name"] for s in orjson.loads(out)["steps"]]
    assert steps == ["prepare", "write", "write/draft", "write/polish", "finish"]

    # the checkpoints: the subgraph's named by their path, as LangGraph's namespaces say
    code, out, _ = cli("checkpoints", ex, "--json")
    rows = orjson.loads(out)
    inside = [(r["step"], r["state"]) for r in rows if str(r["step"]).startswith("write/")]
    assert [s for s, _ in inside] == ["write/input", "write/start", "write/draft", "write/polish"]
    assert [state for _, state in inside] == [s for _, s in saved_states(saver, subgraph=True)]
    roots = [r["state"] for r in rows if not str(r["step"]).startswith("write/")]
    assert roots == [jsonable(s) for _, s in saved_states(saver, subgraph=False)]
    history_ = list(graph.get_state_history(CONFIG))

    # the timeline says which checkpoints are the subgraph's
    code, out, _ = cli("replay", ex, "--json", "--verify")
    assert code == 0, out
    summaries = [e["summary"] for e in orjson.loads(out)["timeline"]]
    assert sum(s.endswith("in subgraph write") for s in summaries) == 4

    # a rollback to a subgraph checkpoint is refused, naming the root checkpoint around it
    draft = next(r["checkpoint_id"] for r in rows if r["step"] == "write/draft")
    after_prepare = next(r["checkpoint_id"] for r in rows if r["step"] == "prepare")
    code, out, err = cli("rollback", ex, "--to", draft, "--set", "text=x", "--follow")
    assert code != 0
    reason = err.strip().splitlines()[0]
    assert f"{draft} is inside subgraph write, within root checkpoint {after_prepare}" in reason

    # the root checkpoint forks as LangGraph's update_state does there
    code, out, _ = cli("rollback", ex, "--to", after_prepare, "--set", "topic=moons", "--follow")
    assert code == 0, out
    code, out, _ = cli("executions", "show", ex, "--json")
    shown = orjson.loads(out)
    fork = next(s for s in history_ if s.metadata and s.metadata.get("step") == 1)
    forked = graph.update_state(fork.config, {"topic": "moons"})
    graph.invoke(None, forked)
    assert shown["attempt"] == 2 and shown["status"] == "completed"
    assert shown["output"] == jsonable(graph.get_state(CONFIG).values)
    again = [s["name"] for s in shown["steps"] if s["attempt"] == 2]
    assert again == ["write", "write/draft", "write/polish", "finish"]


async def test_subgraph_steps__nest_under_their_node_and_re_execute(harness: Harness) -> None:
    await harness.start_worker()
    ex = await submit_file(harness, SUBGRAPH)
    view = await harness.finished(ex)
    assert view.status == "completed", view.error
    parents = {s.name: s.parent for s in view.steps}
    write = next(s.index for s in view.steps if s.name == "write")
    assert parents == {
        "prepare": None,
        "write": None,
        "write/draft": write,
        "write/polish": write,
        "finish": None,
    }
    # the run's state is the root graph's (a subgraph's writes are its own state)
    assert view.state == view.output
    paths = {c.step: c.path for c in view.checkpoints}
    assert paths["write/draft"] == "write" and paths["prepare"] == ""
    report = await reexecute(harness.log, ex)
    assert report.divergence is None, report.divergence
    assert [s.name for s in report.steps] == [
        "prepare",
        "write/draft",
        "write/polish",
        "write",
        "finish",
    ]
    draft = next(c for c in view.checkpoints if c.step == "write/draft")
    with pytest.raises(ConfigError, match="within root checkpoint"):
        await history.rollback(harness.log, ex, draft.checkpoint_id, {})


async def test_a_rollback_command_to_a_subgraph_checkpoint__is_refused_by_the_worker(
    harness: Harness,
) -> None:
    """A rollback that reached the log without ``omium rollback``'s check changes nothing."""
    await harness.start_worker()
    ex = await submit_file(harness, SUBGRAPH)
    view = await harness.finished(ex)
    draft = next(c for c in view.checkpoints if c.step == "write/draft")
    original = await history.original_run(harness.log, view, "rolled back")
    rollback = {
        "type": "rollback",
        "execution_id": ex,
        "tenant_id": original.tenant_id,
        "payload": {
            "checkpoint_id": draft.checkpoint_id,
            "overrides": {},
            "run": original.payload.model_dump(mode="json"),
        },
    }
    await harness.log.append(from_dict(rollback))

    async def refused() -> bool:
        return any(
            isinstance(e, ExecutionResumed)
            and "is a checkpoint of subgraph write" in (e.payload.reason or "")
            for e in await harness.events(ex)
        )

    await harness.log_shows("the worker refused the rollback", refused)
    after = await harness.finished(ex)
    assert after.attempt == 1 and after.status == "completed"


async def test_an_interrupt_two_subgraphs_down__waits_then_finishes_as_langgraph_does(
    harness: Harness,
) -> None:
    await harness.start_worker()
    ex = await harness.submit(graph_spec("nested_interrupt"), topic="tides")
    view = await answer(harness, ex, "yes")
    assert view.status == "completed", view.error
    saver = InMemorySaver()
    graph = nested_interrupt().compile(checkpointer=saver)
    config: Any = {"configurable": {"thread_id": "t"}}
    graph.invoke({"topic": "tides", "run_key": ex}, config)
    graph.invoke(Command(resume="yes"), config)
    assert view.output == jsonable(graph.get_state(config).values)
    names = [s.name for s in view.steps]
    assert names[:3] == ["write", "write/draft", "write/review"]
    assert "write/review/approve" in names and names[-1] == "finish"
    nested = {s.name: s.parent for s in view.steps}
    index = {s.name: s.index for s in view.steps}
    assert nested["write/review/approve"] == index["write/review"]
    assert nested["write/review"] == index["write"]
    report = await reexecute(harness.log, ex)
    assert report.divergence is None, report.divergence
