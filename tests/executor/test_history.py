"""Replay and rollback on every log, through the worker that runs the executions."""

from __future__ import annotations

from typing import Any

import flow_steps
import pytest
from harness import Harness, spec

from omium.processors import history
from omium.projections import Until
from omium.schemas import ConfigError, ExecutionPaused, ExecutionRolledBack, NoSuchPoint

FIVE = ("add", "double", "async_inc", "double", "add")
FUNCTIONS = {
    "add": flow_steps.add,
    "double": flow_steps.double,
    "async_inc": lambda s: {"total": s["total"] + 1},
}


def run_rest(state: dict[str, Any], after: int) -> dict[str, Any]:
    """What the five steps after index ``after`` make of ``state`` (the expected output)."""
    state = dict(state)
    for name in FIVE[after + 1 :]:
        state.update(FUNCTIONS[name](state))
    return state


async def test_replay__at_every_seq_equals_the_state_the_executor_had(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(spec(*FIVE), total=1, step_value=2)
    view = await harness.finished(ex)
    records = await harness.log.read_execution(ex)
    inputs = view.inputs
    for record in records:
        event = record.event()
        result = await history.replay_execution(harness.log, ex, Until(seq=event.seq), verify=True)
        # the executor's state after seq: its newest checkpoint so far, else the inputs
        # (a step's output joins the state as it completes, a checkpoint records it next)
        upto = event.seq + 1 if event.type == "step.completed" else event.seq
        snapshots = [c for c in view.checkpoints if c.seq <= upto]
        expected = snapshots[-1].state if snapshots else inputs
        assert result.view.state == expected, f"seq {event.seq}"
        assert result.seq == event.seq and result.mismatches == ()
        assert result.position == (
            record.position.topic,
            record.position.partition,
            record.position.offset,
        )
        # the same point named by its offset gives the same view
        by_offset = await history.replay_execution(
            harness.log, ex, Until(offset=record.position.offset)
        )
        assert by_offset.view == result.view
    last = await history.replay_execution(harness.log, ex, Until())
    assert last.view.status == "completed" and last.view.state == view.output
    assert [e.type for e in last.timeline.entries][-1] == "execution.completed"


@pytest.mark.parametrize("edit", [False, True], ids=["as-recorded", "with-set"])
async def test_rollback__to_each_checkpoint_completes_as_a_new_attempt(
    harness: Harness, edit: bool
) -> None:
    await harness.start_worker()
    ex = await harness.submit(spec(*FIVE), total=1, step_value=2)
    first = await harness.finished(ex)
    originals = list(first.checkpoints)
    assert len(originals) == 5
    for attempt, checkpoint in enumerate(originals, start=2):
        # every rollback names a checkpoint of attempt 1, also once newer attempts exist
        overrides = {"total": 100 + attempt} if edit else {}
        await history.rollback(harness.log, ex, checkpoint.checkpoint_id, overrides)
        view = await harness.wait_for(ex, lambda v, a=attempt: v.attempt == a and v.finished)
        assert checkpoint.state is not None and checkpoint.index is not None
        expected = run_rest({**checkpoint.state, **overrides}, checkpoint.index)
        assert view.status == "completed" and view.output == expected, checkpoint.checkpoint_id
        branch = view.branch(attempt)
        assert branch is not None and branch.checkpoint_id == checkpoint.checkpoint_id
        assert branch.from_attempt == 1 and branch.overrides == overrides
        steps = [s.name for s in view.steps if s.attempt == attempt]
        assert steps == [f"{n}{i}" for i, n in enumerate(FIVE)][checkpoint.index + 1 :]
    # nothing was deleted: every attempt is still there, each with its own checkpoints
    everything, _ = await history.checkpoints(harness.log, ex)
    assert sorted(everything.last_seq) == [1, 2, 3, 4, 5, 6]
    assert [c.checkpoint_id for c in everything.checkpoints if c.attempt == 1] == [
        c.checkpoint_id for c in originals
    ]
    assert len(everything.checkpoints) == 5 + 4 + 3 + 2 + 1 + 0
    replayed = await history.replay_execution(harness.log, ex, Until(), verify=True)
    branches = [e for e in replayed.timeline.entries if e.type == "execution.rolled_back"]
    assert [e.attempt for e in branches] == [2, 3, 4, 5, 6]
    assert replayed.mismatches == ()


async def test_rollback__of_a_running_execution_pauses_it_first(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(spec("add", "slow", "slow", "slow"), slow_s=0.5)
    running = await harness.wait_for(ex, lambda v: len(v.checkpoints) >= 2)
    target = running.checkpoints[0]
    # slow_done is set by the slow steps after the checkpoint: a new key there
    await history.rollback(harness.log, ex, target.checkpoint_id, {}, added={"slow_done": 10})
    view = await harness.wait_for(ex, lambda v: v.attempt == 2 and v.finished)
    assert view.status == "completed"
    assert view.output is not None and view.output["slow_done"] == 13
    events = await harness.events(ex)
    paused = next(i for i, e in enumerate(events) if isinstance(e, ExecutionPaused))
    rolled = next(i for i, e in enumerate(events) if isinstance(e, ExecutionRolledBack))
    assert paused < rolled and events[paused].attempt == 1
    assert not any(e.attempt == 1 for e in events[rolled:])  # attempt 1 stopped for good
    assert not [s for s in view.steps if s.attempt == 1 and s.status == "running"]


async def test_rollback__refuses_to_set_a_key_the_state_does_not_have(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(spec("add", "double"), total=1)
    await harness.finished(ex)
    with pytest.raises(ConfigError, match="--set nosuchkey: the state at a1-0-add0 has no such"):
        await history.rollback(harness.log, ex, "a1-0-add0", {"total": 5, "nosuchkey": 5})
    assert [e.type for e in await harness.events(ex)].count("execution.rolled_back") == 0
    await history.rollback(harness.log, ex, "a1-0-add0", {"total": 5}, added={"nosuchkey": 5})
    view = await harness.wait_for(ex, lambda v: v.attempt == 2 and v.finished)
    assert view.output is not None and view.output["nosuchkey"] == 5


async def test_rollback__refuses_a_checkpoint_that_does_not_exist(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(spec("add"), total=1)
    await harness.finished(ex)
    with pytest.raises(NoSuchPoint, match="no checkpoint 'nope'.*a1-0-add0"):
        await history.rollback(harness.log, ex, "nope", {})
