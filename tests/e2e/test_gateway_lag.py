"""Consumer lag as ``/metrics`` reports it, against what the consumers have really done.

The oracle is the log itself: records appended here, and offsets folded or committed here,
so the lag expected is counted, not assumed.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from omium.producers import EventLog, Recorder, open_log
from omium.schemas.topics import COMMANDS, EVENTS, VIEWS_APP
from omium.services import Omium
from omium.services.lag import Lag, consumer_lag


async def record(log: EventLog, n: int) -> str:
    """Append ``n`` events of a fresh execution; its id."""
    execution_id = f"lag-{uuid.uuid4().hex[:8]}"
    rec = Recorder(log, execution_id)
    await rec.emit("execution.submitted", workflow="w", inputs={})
    for _ in range(n - 1):
        await rec.emit("execution.started", workflow="w")
    return execution_id


async def test_lag__embedded_is_what_the_view_store_has_not_folded(tmp_path: Path) -> None:
    log = open_log(f"sqlite:///{tmp_path / 'log.db'}")
    app = Omium.over(log)
    try:
        ex = await record(log, 3)
        assert await consumer_lag(app) == [Lag("projections", EVENTS.name, 3)]
        await app.reader.execution(ex)  # a read catches the store up
        assert await consumer_lag(app) == [Lag("projections", EVENTS.name, 0)]
        await record(log, 2)
        assert await consumer_lag(app) == [Lag("projections", EVENTS.name, 2)]
    finally:
        await app.close()


@pytest.mark.kafka
async def test_lag__kafka_is_what_each_group_has_not_committed(kafka_bootstrap: str) -> None:
    log = open_log(f"kafka://{kafka_bootstrap}?topic_prefix={uuid.uuid4().hex[:10]}.&timeout=20")
    app = Omium.over(log)
    try:
        await log.create_topics()
        await record(log, 4)
        # no group ever committed: everything is behind (the commands topic is empty)
        assert await consumer_lag(app, timeout=30) == [
            Lag("projections", EVENTS.name, 4),
            Lag("executor", COMMANDS.name, 0),
        ]
        async with log.subscribe(VIEWS_APP, [EVENTS.name]) as sub:
            got = 0
            while got < 4:
                got += len(await sub.poll(timeout=1.0))
            await sub.commit()
        assert await consumer_lag(app, timeout=30) == [
            Lag("projections", EVENTS.name, 0),
            Lag("executor", COMMANDS.name, 0),
        ]
    finally:
        await app.close()
