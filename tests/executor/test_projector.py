"""The projector on every log: folds into stored views, sets poison aside, resumes, rebuilds."""

from __future__ import annotations

import orjson
from harness import Harness, spec

from omium.processors.projector import DLQ, Projector
from omium.processors.rebuild import differences, rebuild
from omium.processors.view_store import SqliteViews
from omium.producers import EventLog, Recorder
from omium.schemas import encode


async def dead_letters(log: EventLog) -> list[dict[str, object]]:
    found = []
    for partition in range(await log.partitions(DLQ)):
        found += [orjson.loads(r.value) for r in await log.read(DLQ, partition)]
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
    assert await again.catch_up() == len(await harness.log.read_execution(second))
    live = {v.execution_id: v for v in store.all()}
    assert live[second].output == {"total": 10, "added": True, "run_key": second}
    rebuilt = await rebuild(harness.log)
    assert differences(live, rebuilt.views) == {}
