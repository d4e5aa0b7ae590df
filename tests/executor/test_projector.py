"""The projector on every log: folds into stored views, sets poison aside, resumes, rebuilds."""

from __future__ import annotations

from typing import Any

import orjson
from harness import Harness, spec

from omium.processors import history
from omium.processors.projector import Projector
from omium.processors.reader import EmbeddedReader
from omium.processors.rebuild import differences, rebuild
from omium.processors.view_store import SqliteViews
from omium.producers import EventLog, Record, Recorder
from omium.producers.partitioner import partition_for
from omium.projections import Until
from omium.schemas import encode, from_dict
from omium.schemas.topics import DLQ


async def dead_letters(log: EventLog) -> list[dict[str, object]]:
    found = []
    for partition in range(await log.partitions(DLQ.name)):
        found += [orjson.loads(r.value) for r in await log.read(DLQ.name, partition)]
    return found


async def test_projector__sets_poison_aside_and_keeps_folding(log: EventLog) -> None:
    rec = Recorder(log, "ex-poison")
    await rec.emit("execution.submitted", workflow="w", inputs={"n": 1})
    poison = [
        ("omium.events", "ex-poison", b"{not json"),
        ("omium.events", "ex-poison", orjson.dumps({"type": "no.such", "event_id": "x"})),
    ]
    # a valid event filed under another execution's key
    stray = rec.prepare("execution.started", workflow="w")
    poison.append(("omium.events", "ex-other", encode(stray)))
    positions = await log.append_records(poison)
    await rec.emit("execution.started", workflow="w")
    await rec.emit("execution.completed", output={"n": 1})

    store = SqliteViews(":memory:")
    projector = Projector(log, store)
    read = await projector.catch_up()
    assert read == 6 and projector.dead_letters == 3
    view = store.get("ex-poison")
    assert view is not None and view.status == "completed" and view.seq == 4
    dead = await dead_letters(log)
    assert sorted((d["partition"], d["offset"]) for d in dead) == sorted(
        (p.partition, p.offset) for p in positions
    )
    reasons = " | ".join(str(d["reason"]) for d in dead)
    assert "not valid JSON" in reasons and "no 'execution_id'" in reasons
    assert "is not its execution id" in reasons
    assert await projector.catch_up() == 0  # nothing new: nothing read, nothing sent again
    assert len(await dead_letters(log)) == 3


async def test_projector__a_new_one_resumes_from_its_store(harness: Harness) -> None:
    await harness.start_worker()
    first = await harness.submit(spec("add", "double"), total=2)
    await harness.finished(first)
    store = SqliteViews(":memory:")
    assert await Projector(harness.log, store).catch_up() > 0
    second = await harness.submit(spec("add", "async_inc", "double"), total=3)
    await harness.finished(second)
    again = Projector(harness.log, store)  # a restart: only the new records are read
    events = await harness.log.read_execution(second)
    assert await again.catch_up() == len(events) + 1  # and its run command
    live = {v.execution_id: v for v in store.all()}
    assert live[second].output == {"total": 10, "added": True, "run_key": second}
    rebuilt = await rebuild(harness.log)
    assert differences(live, rebuilt.views) == {}


async def test_projector__a_run_no_worker_took_is_listed_queued(harness: Harness) -> None:
    store = SqliteViews(":memory:")
    projector = Projector(harness.log, store)
    waiting = await harness.submit(spec("add", "double"), total=2)
    await projector.catch_up()
    assert [(v.execution_id, v.status, v.workflow) for v in store.all("queued")] == [
        (waiting, "queued", "test-flow")
    ]
    assert await projector.catch_up() == 0  # nothing new: the commands are not read again
    await harness.start_worker()
    await harness.finished(waiting)
    await projector.catch_up()
    assert store.all("queued") == []
    live = {v.execution_id: v for v in store.all()}
    assert live[waiting].status == "completed"
    assert differences(live, (await rebuild(harness.log)).views) == {}


class ReadSpy:
    """The log, noting where each ``read_execution`` starts (what a replay costs on Kafka)."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self.starts: list[int] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.log, name)

    async def read_execution(self, execution_id: str, **options: Any) -> list[Record]:
        self.starts.append(int(options.get("start", 0)))
        return await self.log.read_execution(execution_id, **options)


async def test_replay__reads_from_the_executions_first_event_not_the_partition_start(
    log: EventLog,
) -> None:
    target = "ex-needle"
    partition = partition_for(target, await log.partitions("omium.events"))
    others = [f"ex-hay-{n}" for n in range(4000)]
    count = await log.partitions("omium.events")
    others = [o for o in others if partition_for(o, count) == partition][:50]
    hay = [
        from_dict({"type": "tool.call", "execution_id": o, "seq": s, "payload": {"tool": "t"}})
        for o in others
        for s in range(1, 1001)
    ]
    for start in range(0, len(hay), 5000):
        await log.append_batch(hay[start : start + 5000])
    rec = Recorder(log, target)
    await rec.emit("execution.submitted", workflow="w", inputs={"a": 1})
    for i in range(5):
        await rec.emit("step.completed", step=f"s{i}", index=i, output={"a": i})
    reader = EmbeddedReader(log, SqliteViews(":memory:"))
    spy = ReadSpy(log)
    result = await history.replay_execution(spy, target, Until(), reader=reader)  # type: ignore[arg-type]
    assert result.view.state == {"a": 4} and result.seq == 6
    first = (await log.read_execution(target))[0].position.offset
    assert first == 50_000 and spy.starts == [first]  # none of the 50,000 before it
    await reader.close()
