"""The executor on every log: completion, checkpoints, pause/resume, cancel, timeouts, retries."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from harness import SOURCE, Harness, spec

from omium.processors.history import current
from omium.schemas import ConfigError, ExecutionPaused, StepRetried, StepStarted, from_dict
from omium.schemas.topics import COMMANDS
from omium.services import runs as service


def step(name: str, call: str, **options: object) -> dict[str, object]:
    return {"name": name, "call": f"flow_steps:{call}", **options}


async def test_run__completes_with_a_checkpoint_after_every_step(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(spec("add", "double", "async_inc", "nothing"), total=4, step_value=3)
    view = await harness.finished(ex)
    assert view.status == "completed"
    assert view.output is not None and view.output["total"] == (4 + 3) * 2 + 1
    totals = [c.state["total"] for c in view.checkpoints]
    assert totals == [7, 14, 15, 15]
    assert [c.step for c in view.checkpoints] == ["add0", "double1", "async_inc2", "nothing3"]
    assert all(c.position is not None and c.position[0] == "omium.events" for c in view.checkpoints)
    assert [s.status for s in view.steps] == ["completed"] * 4
    types = [e.type for e in await harness.events(ex)]
    assert types[:2] == ["execution.submitted", "execution.started"]
    assert types[-1] == "execution.completed"
    seqs = [e.seq for e in await harness.events(ex)]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_pause__stops_between_steps_until_resumed(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(spec("slow", "slow", "slow"), slow_s=0.4)
    await harness.wait_for(ex, lambda v: any(s.status == "running" for s in v.steps))
    await service.command(harness.log, ex, "pause")
    paused = await harness.wait_for(ex, lambda v: v.status == "paused")
    done_when_paused = sum(s.status == "completed" for s in paused.steps)
    # a barrier, not a sleep: the same worker runs another execution from start to end,
    # slower than a step of the paused one, and the paused one still records nothing
    other = await harness.submit(spec("slow", "slow"), slow_s=0.4)
    assert (await harness.finished(other)).status == "completed"
    still = await current(harness.log, ex)
    assert still.status == "paused"
    assert sum(s.status == "completed" for s in still.steps) == done_when_paused < 3
    assert (await harness.events(ex))[-1].type == "execution.paused"
    await service.command(harness.log, ex, "resume")
    view = await harness.finished(ex)
    assert view.status == "completed"
    assert view.output is not None and view.output["slow_done"] == 3
    types = [e.type for e in await harness.events(ex)]
    assert types.count("execution.paused") == 1 and types.count("execution.resumed") == 1


async def test_paused_runs__hold_no_slot_of_the_worker(harness: Harness) -> None:
    # concurrency 1: a run paused (or waiting for a person) must not stop every other run
    await harness.start_worker(concurrency=1)
    ex = await harness.submit(spec("slow", "slow"), slow_s=0.3)
    await harness.wait_for(ex, lambda v: any(s.status == "running" for s in v.steps))
    await service.command(harness.log, ex, "pause")
    await harness.wait_for(ex, lambda v: v.status == "paused")
    others = [await harness.submit(spec("add", "double"), total=i) for i in range(3)]
    for other in others:
        assert (await harness.finished(other, timeout=30)).status == "completed"
    assert (await current(harness.log, ex)).status == "paused"
    await service.command(harness.log, ex, "resume")  # and it takes a slot again to go on
    view = await harness.finished(ex)
    assert view.status == "completed" and view.output is not None
    assert view.output["slow_done"] == 2


async def test_cancel__interrupts_a_long_async_step(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(spec("slow", "add"), slow_s=60)
    await harness.wait_for(ex, lambda v: any(s.status == "running" for s in v.steps))
    began = time.monotonic()
    await service.command(harness.log, ex, "cancel", reason="changed my mind")
    view = await harness.finished(ex, timeout=10)
    assert time.monotonic() - began < 5
    assert view.status == "cancelled" and view.error == "changed my mind"
    assert [s.status for s in view.steps] == ["cancelled"]  # never completed


async def test_cancel__abandons_a_long_sync_step(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(spec("slow_sync", "add"), slow_s=3)
    await harness.wait_for(ex, lambda v: any(s.status == "running" for s in v.steps))
    await service.command(harness.log, ex, "cancel")
    view = await harness.finished(ex, timeout=10)
    assert view.status == "cancelled"
    assert view.error == "cancelled by a user (sync step 'slow_sync0' was abandoned on its thread)"
    assert [s.status for s in view.steps] == ["cancelled"]


async def test_step_timeout__fails_the_step_and_the_execution(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(spec(step("wait", "slow", timeout="200ms"), "add"), slow_s=5)
    view = await harness.finished(ex, timeout=10)
    assert view.status == "failed"
    assert view.error is not None and "StepTimeout" in view.error and "0.2 s timeout" in view.error


async def test_execution_timeout__is_recorded(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(spec("slow", "slow", timeout="500ms"), slow_s=0.4)
    view = await harness.finished(ex, timeout=10)
    assert view.status == "timed_out"
    assert [s.status for s in view.steps] == ["completed", "timed_out"]  # cut by the timeout


async def test_retries__then_success(harness: Harness) -> None:
    await harness.start_worker()
    flaky = step("call", "flaky", retries={"max_attempts": 3, "initial": "10ms"})
    ex = await harness.submit(spec(flaky), fail_times=2)
    view = await harness.finished(ex)
    assert view.status == "completed"
    assert view.output is not None and view.output["flaky_tries"] == 3
    retried = [e for e in await harness.events(ex) if isinstance(e, StepRetried)]
    assert [e.payload.retry for e in retried] == [1, 2]
    assert retried[0].payload.error.type == "ConnectionError"
    assert [e.payload.delay_s for e in retried] == [0.01, 0.02]


async def test_retries__exhausted_fail_with_the_traceback(harness: Harness) -> None:
    await harness.start_worker()
    flaky = step("call", "flaky", retries={"max_attempts": 2, "initial": "10ms"})
    ex = await harness.submit(spec(flaky, "add"), fail_times=5)
    view = await harness.finished(ex)
    assert view.status == "failed"
    assert view.error == "ConnectionError: flaky service refused try 2"
    failed = [e for e in await harness.events(ex) if e.type == "step.failed"]
    assert "Traceback" in (failed[0].payload.error.traceback or "")  # type: ignore[attr-defined]
    assert len([e for e in await harness.events(ex) if isinstance(e, StepStarted)]) == 2


async def test_step_error__and_non_json_output_fail_clearly(harness: Harness) -> None:
    await harness.start_worker()
    first = await harness.submit(spec("boom"))
    second = await harness.submit(spec("not_json"))
    assert (await harness.finished(first)).error == "ValueError: boom: the input was wrong"
    error = (await harness.finished(second)).error or ""
    assert error.startswith("InvalidOutput:") and "payload.output" in error


async def test_a_step_returning_nan__fails_naming_the_key_path(harness: Harness) -> None:
    """JSON has no NaN: refused like any non-JSON value, never recorded as null."""
    await harness.start_worker()
    ex = await harness.submit(spec("not_finite"))
    view = await harness.finished(ex)
    assert view.status == "failed" and [s.status for s in view.steps] == ["failed"]
    assert view.error is not None and view.error.startswith(
        "InvalidOutput: invalid step.completed event: payload.output.scores[1]: nan is not a "
        "JSON number"
    )
    assert not [e for e in await harness.events(ex) if e.type == "step.completed"]


async def test_duplicate_run__starts_one_execution(harness: Harness) -> None:
    workflow = spec("add")
    ex = await harness.submit(workflow)
    # the same submission again (the harness puts the id in the inputs as run_key)
    await service.submit(harness.log, workflow, SOURCE, {"run_key": ex}, execution_id=ex)
    await harness.start_worker()
    await harness.finished(ex)
    # a barrier: a run after the duplicate on the same partition has finished, so the
    # worker has handled the duplicate (commands of a partition are handled in order)
    after = await harness.submit(workflow, execution_id=await harness.id_on_the_partition_of(ex))
    await harness.finished(after)
    types = [e.type for e in await harness.events(ex)]
    assert types.count("execution.submitted") == 1
    assert types.count("step.started") == 1


async def test_run__an_existing_id_of_another_submission_is_refused(harness: Harness) -> None:
    ex = await harness.submit(spec("add"), total=1)
    refusals = {
        "workflow 'test-flow', not 'other'": (spec("add", name="other"), {"total": 1}),
        "other inputs (differing: total)": (spec("add"), {"total": 2}),
        "another version of workflow 'test-flow'": (spec("add", "double"), {"total": 1}),
    }
    for message, (workflow, inputs) in refusals.items():
        with pytest.raises(ConfigError, match=re.escape(message)) as refused:
            await service.submit(
                harness.log, workflow, SOURCE, {**inputs, "run_key": ex}, execution_id=ex
            )
        assert refused.value.exit_code == 2
    commands = await harness.log.read_execution(ex, topic=COMMANDS.name)
    assert len(commands) == 1  # nothing refused was appended


async def test_two_workers__share_the_runs_and_never_run_one_twice(harness: Harness) -> None:
    await harness.start_worker(name="w1")
    await harness.start_worker(name="w2")
    # one execution per partition: each worker owns some partitions once the group settled
    # (a run submitted before that may all go to the first), so submit until both ran some
    executions: list[str] = []
    ran_by: set[str | None] = set()
    for _ in range(5):
        batch = await harness.ids_on_every_partition()
        for ex in batch:
            await harness.submit(spec("add", "slow"), slow_s=0.05, execution_id=ex)
        for ex in batch:
            assert (await harness.finished(ex)).status == "completed"
            ran_by.update(await harness.workers_of(ex))
        executions += batch
        if ran_by == {"w1", "w2"}:
            break
    assert ran_by == {"w1", "w2"}  # both shared the load
    for ex in executions:
        started = [e for e in await harness.events(ex) if isinstance(e, StepStarted)]
        assert len(started) == 2, [e.payload.step for e in started]


async def test_pause_of_a_finished_execution__is_a_clear_error(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(spec("add"))
    await harness.finished(ex)
    try:
        await service.command(harness.log, ex, "pause")
    except Exception as exc:  # noqa: BLE001
        assert "already completed; nothing to pause" in str(exc)
    else:
        raise AssertionError("pausing a completed execution was accepted")
    assert not [e for e in await harness.events(ex) if isinstance(e, ExecutionPaused)]


async def test_cancel__before_any_worker_took_the_run(harness: Harness) -> None:
    ex = await harness.submit(spec("add"))
    await harness.log.append(
        from_dict({"type": "cancel", "execution_id": ex, "payload": {"reason": "too late"}})
    )
    await harness.start_worker()
    view = await harness.finished(ex)
    assert view.status == "cancelled" and view.error == "too late"
    assert not [e for e in await harness.events(ex) if isinstance(e, StepStarted)]


async def test_resume__of_a_paused_run_recovered_by_a_new_worker(harness: Harness) -> None:
    await harness.start_worker()
    # steps long enough that the pause lands before the run ends, even on a busy machine
    ex = await harness.submit(spec("slow", "slow", "add"), slow_s=1.0)
    await harness.wait_for(ex, lambda v: any(s.status == "running" for s in v.steps))
    await service.command(harness.log, ex, "pause")
    await harness.wait_for(ex, lambda v: v.status == "paused")
    await harness.stop_workers()
    await service.command(harness.log, ex, "resume")
    await harness.start_worker()
    view = await harness.finished(ex)
    assert view.status == "completed"


async def test_oversized_step_output__fails_the_run_instead_of_hanging(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(spec("add", "big_output"))
    view = await harness.finished(ex)
    assert view.status == "failed"
    assert view.error is not None and "over the 1,048,576-byte limit" in view.error


async def test_a_step_calling_sys_exit__fails_and_the_worker_lives_on(harness: Harness) -> None:
    await harness.start_worker()
    bad = await harness.submit(spec("exits"))
    assert (await harness.finished(bad)).error == "StepAborted: step 'exits0' raised SystemExit: 3"
    good = await harness.submit(spec("add"))
    assert (await harness.finished(good)).status == "completed"


async def test_a_worker_joining_mid_run__takes_over_without_running_in_parallel(
    harness: Harness, tmp_path: Path
) -> None:
    # its runs are held mid-step: handing them over, it waits 2 s for a boundary, then cuts
    await harness.start_worker(name="w1", concurrency=16, hand_over_grace=2)
    gate_file = tmp_path / "gate"  # every run waits at its gate step until the file exists
    steps = [*["slow_sync"] * 6, "gate", *["slow_sync"] * 6, "add"]
    executions = await harness.ids_on_every_partition()
    for i, ex in enumerate(executions):
        await harness.submit(
            spec(*steps), slow_s=0.05, total=i, gate_file=str(gate_file), execution_id=ex
        )
    for ex in executions:  # every run is mid-way: held at its gate
        await harness.wait_for(ex, lambda v: any(s.name == "gate6" for s in v.steps))
    await harness.start_worker(name="w2")

    async def taken_over() -> bool:
        return "w2" in [w for ex in executions for w in await harness.workers_of(ex)]

    await harness.log_shows("the joining worker took over a run", taken_over)
    gate_file.touch()
    for ex in executions:
        view = await harness.finished(ex)
        assert view.status == "completed"
        assert view.output is not None and view.output["slow_done"] == 12
        # one writer at a time: two runners of one execution would both write the same seq
        seqs = [(e.attempt, e.seq) for e in await harness.events(ex)]
        assert len(seqs) == len(set(seqs)), f"{ex}: two runners wrote the same seq"
