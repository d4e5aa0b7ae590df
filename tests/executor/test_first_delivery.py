"""A new run starts without reading the log; a run that has events is still resumed.

The worker skips the fold of an execution's events only for a run command delivered for
the first time with an id its submitter generated (:mod:`omium.processors.deliveries`).
These cases fail if it skips one that has events: that execution would be started over
(a second ``execution.submitted``, its steps run again) instead of resumed.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from harness import SOURCE, Harness, spec

import omium.processors.worker as worker_module
from omium.processors.deliveries import FirstDelivery
from omium.processors.worker import Worker
from omium.producers import EventLog, Position, Record
from omium.projections import ExecutionView
from omium.schemas import Run, StepCompleted, encode
from omium.schemas.topics import COMMANDS
from omium.services import runs as service


def folds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The executions the worker folds from the log before running them, in order."""
    seen: list[str] = []
    real = worker_module.load_view

    async def load_view(log: EventLog, execution_id: str, *a: Any, **k: Any) -> ExecutionView:
        seen.append(execution_id)
        return await real(log, execution_id, *a, **k)

    monkeypatch.setattr(worker_module, "load_view", load_view)
    return seen


async def knows_its_partitions(harness: Harness, worker: Worker) -> None:
    async def known() -> bool:
        owned = worker.deliveries.boundary.keys()
        return bool(owned) and len(owned) == await harness.log.partitions(COMMANDS.name)

    await harness.log_shows("the worker read where its partitions' new commands begin", known)


async def test_fresh_run__starts_without_reading_its_events(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = folds(monkeypatch)
    worker = await harness.start_worker()
    await knows_its_partitions(harness, worker)
    fresh = await service.submit(harness.log, spec("add", "double"), SOURCE, {"total": 1})
    chosen = await harness.submit(spec("add"), execution_id=f"ex-{uuid.uuid4().hex[:10]}")
    view = await harness.finished(fresh)
    assert view.output is not None and view.output["total"] == 4
    assert (await harness.finished(chosen)).status == "completed"
    # a chosen id may name an old execution: that one is read first
    assert seen == [chosen]


async def test_fresh_run_delivered_again__resumes_instead_of_starting_over(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = folds(monkeypatch)
    first = await harness.start_worker(name="w1")
    await knows_its_partitions(harness, first)
    workflow = spec("add", "slow", "slow", "double")
    ex = await service.submit(harness.log, workflow, SOURCE, {"total": 1, "slow_s": 0.5})

    def one_step_done(view: ExecutionView) -> bool:
        return any(s.status == "completed" for s in view.steps)

    await harness.wait_for(ex, one_step_done)
    # w1 stops at a step boundary: the run command stays uncommitted, delivered again to w2
    await harness.stop_workers()
    assert seen == []  # w1 started it without a read
    await harness.start_worker(name="w2")
    view = await harness.finished(ex)
    assert view.status == "completed"
    assert view.output is not None and view.output["total"] == 4
    events = await harness.events(ex)
    assert [e.type for e in events].count("execution.submitted") == 1
    assert await harness.workers_of(ex) == ["w1", "w2"]
    completed = [e.payload.step for e in events if isinstance(e, StepCompleted)]
    assert completed.count("add0") == 1, completed  # resumed after its checkpoint
    assert seen == [ex]  # w2 read it: a delivery again


# -- the rule itself, on a log that only answers end offsets ----------------------------


class Ends:
    """A log whose end offsets are set by the test; ``during`` runs while it answers."""

    url = "fake://"

    def __init__(self, ends: dict[int, int]) -> None:
        self.ends = ends
        self.during: Callable[[], Awaitable[None]] | None = None

    async def end_offsets(self, topic: str) -> dict[int, int]:
        if self.during is not None:
            await self.during()
        return dict(self.ends)


def run_at(offset: int, *, fresh: bool = True, execution_id: str = "ex-1") -> tuple[Run, Record]:
    run = Run.model_validate(
        {"execution_id": execution_id, "payload": {"workflow": "w", "fresh_id": fresh}}
    )
    record = Record(Position(COMMANDS.name, 0, offset), execution_id, encode(run), 0)
    return run, record


async def test_rule__only_first_deliveries_of_generated_ids_are_new() -> None:
    log = Ends({0: 5})
    index = FirstDelivery(log)  # type: ignore[arg-type]
    pair = (COMMANDS.name, 0)
    assert not index.is_new(*run_at(7))  # boundary not read yet: read the log
    await index.received([pair], lambda p: 0, lambda p: True)
    assert index.boundary == {pair: 5}
    assert not index.is_new(*run_at(4))  # may have been delivered before
    assert index.is_new(*run_at(5))
    assert not index.is_new(*run_at(6, fresh=False))  # a chosen id may be an old one
    index.started("ex-1", 40)
    assert not index.is_new(*run_at(9))  # ran here already (the command appended twice)
    assert index.first_offset("ex-1") == 40
    index.forget([pair])
    assert not index.is_new(*run_at(9, execution_id="ex-2"))


async def test_rule__a_hand_over_during_the_read_leaves_no_boundary() -> None:
    log = Ends({0: 5})
    index = FirstDelivery(log)  # type: ignore[arg-type]
    pair = (COMMANDS.name, 0)
    epochs = {pair: 0}

    async def moved() -> None:
        epochs[pair] += 1  # handed over (and maybe received again) meanwhile

    log.during = moved
    await index.received([pair], epochs.__getitem__, lambda p: True)
    assert index.boundary == {}
    log.during = None
    log.ends = {0: 9}
    await index.received([pair], epochs.__getitem__, lambda p: True)
    assert index.boundary == {pair: 9}


async def test_rule__remembers_a_bounded_number_of_executions() -> None:
    index = FirstDelivery(Ends({}), keep=2)  # type: ignore[arg-type]
    for i in range(3):
        index.started(f"ex-{i}", i + 10)
    assert [index.first_offset(f"ex-{i}") for i in range(3)] == [0, 11, 12]
