"""``omium replay --verify`` on graph runs: faithful runs verify, a changed snapshot does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from flow_graphs import fanout, map_reduce
from harness import HERE, Harness
from langgraph.checkpoint.memory import InMemorySaver
from test_graph_runs import EXAMPLES, answer, graph_spec, submit_file

from omium.cli import main
from omium.processors import history
from omium.projections import Until, replay
from omium.projections.replay import StateDiff
from omium.schemas import CheckpointCreated


async def test_verify__passes_on_faithful_graph_runs_and_their_rollbacks(harness: Harness) -> None:
    await harness.start_worker()
    support = await submit_file(harness, EXAMPLES / "support_graph.yaml")
    await answer(harness, support, {"approved": True})
    counter = await harness.submit(graph_spec("counter"), until=4)  # also a run_key input
    first = await harness.finished(counter)
    after_two = next(c for c in first.checkpoints if c.state and c.state.get("n") == 2)
    await history.rollback(harness.log, counter, after_two.checkpoint_id, {"n": 10, "until": 12})
    await harness.wait_for(counter, lambda v: v.attempt == 2 and v.finished)
    fanout = await submit_file(harness, HERE / "fanout_graph.yaml")
    await harness.finished(fanout)
    for ex in (support, counter, fanout):
        for attempt in sorted({e.attempt for e in await harness.events(ex)}):
            until = Until(attempt=attempt)
            replayed = await history.replay_execution(harness.log, ex, until, verify=True)
            assert replayed.mismatches == (), (ex, attempt, replayed.mismatches)


async def test_verify__finds_a_snapshot_that_changed_a_key_no_step_wrote(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(graph_spec("counter"), until=3)
    await harness.finished(ex)
    events = await harness.events(ex)
    *_, before, last = [i for i, e in enumerate(events) if isinstance(e, CheckpointCreated)]

    def tamper(index: int, change: dict[str, Any], drop: str | None = None) -> str:
        snapshot = events[index]
        assert isinstance(snapshot, CheckpointCreated)
        state = {**snapshot.payload.state, **change}
        state.pop(drop or "", None)
        payload = snapshot.payload.model_copy(update={"state": state})
        events[index] = snapshot.model_copy(update={"payload": payload})
        return snapshot.payload.checkpoint_id

    # tick writes n and seen, never until, nor a key the state does not have
    first = tamper(before, {"rogue": 1}, drop="until")
    second = tamper(last, {"until": 99})
    found = replay([(e, None) for e in events], Until(), verify=True).mismatches
    assert [(m.checkpoint_id, m.diff) for m in found] == [
        (first, StateDiff(added={"rogue": 1}, removed={"until": 3})),
        # each snapshot is checked against the one before it, as recorded
        (second, StateDiff(added={"until": 99}, removed={"rogue": 1})),
    ]


def test_cli_replay_verify__exits_0_on_a_graph_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/log.db"
    assert main(["run", str(HERE / "counter_graph.yaml"), "--json", "--url", url]) == 0
    ex = str(orjson.loads(capsys.readouterr().out)["execution_id"])
    code = main(["replay", ex, "--verify", "--url", url])
    out = capsys.readouterr().out
    assert code == 0 and "verified: every checkpoint matches" in out, out


def test_cli_replay_mid_superstep__shows_the_reducer_channel_accumulated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``seen: Annotated[list, add]``: between left's and right's step.completed, and after
    both, the replayed state holds every branch's items, not only the last one's."""
    url = f"sqlite:///{tmp_path}/log.db"
    assert main(["run", str(HERE / "fanout_graph.yaml"), "--json", "--url", url]) == 0
    ex = str(orjson.loads(capsys.readouterr().out)["execution_id"])
    assert main(["replay", ex, "--json", "--url", url]) == 0
    timeline = orjson.loads(capsys.readouterr().out)["timeline"]
    done = [e["seq"] for e in timeline if e["type"] == "step.completed"]
    first, second = done[0], done[1]  # left and right, in the order they finished
    states = []
    for seq in (first, second):
        assert main(["replay", ex, "--to-seq", str(seq), "--json", "--url", url]) == 0
        states.append(orjson.loads(capsys.readouterr().out)["state"])
    assert len(states[0]["seen"]) == 1 and states[0]["seen"][0] in ("left", "right")
    assert sorted(states[1]["seen"]) == ["left", "right"], states[1]
    # the differential oracle: LangGraph's own state after that superstep
    saver = InMemorySaver()
    graph = fanout().compile(checkpointer=saver)
    graph.invoke({}, {"configurable": {"thread_id": "t"}})
    history_ = list(graph.get_state_history({"configurable": {"thread_id": "t"}}))
    after_parallel = next(s for s in history_ if s.metadata and s.metadata.get("step") == 1)
    assert sorted(after_parallel.values["seen"]) == sorted(states[1]["seen"])


def test_cli_send_map_reduce__matches_langgraph_verifies_and_accumulates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/log.db"
    assert main(["run", str(HERE / "map_reduce.yaml"), "--json", "--url", url]) == 0
    ran = orjson.loads(capsys.readouterr().out)
    graph = map_reduce().compile(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "t"}}
    graph.invoke({"words": ["tide", "moon", "sea"], "run_key": ran["execution_id"]}, config)
    assert ran["output"] == graph.get_state(config).values
    ex = ran["execution_id"]
    assert main(["replay", ex, "--verify", "--json", "--url", url]) == 0
    timeline = orjson.loads(capsys.readouterr().out)["timeline"]
    measured = [e["seq"] for e in timeline if e["summary"].startswith("step measure completed")]
    assert len(measured) == 3
    assert main(["replay", ex, "--to-seq", str(measured[-1]), "--json", "--url", url]) == 0
    assert sorted(orjson.loads(capsys.readouterr().out)["state"]["lengths"]) == [3, 4, 4]
    assert main(["replay", ex, "--reexecute", "--url", url]) == 0
