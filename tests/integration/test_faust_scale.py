"""The faust projections' batching and scale-out on the real broker, against a rebuild.

- A backlog folded in flushes (each view written once for many of its events, the
  records acknowledged only once the flush is): ``omium processors`` is SIGKILLed as
  soon as its first flushes reach the changelog, twice, and the views must still equal
  a rebuild (LLM call totals show any event applied twice).
- Scale-out: while executions record their steps, a second ``omium processors`` joins
  the consumer group (the 12 partitions are split) and then the first one leaves; the
  views read from the changelog must equal a rebuild.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from procs import tail

from omium.processors.changelog import ChangelogReader
from omium.processors.rebuild import differences, rebuild
from omium.producers import EventLog, Recorder, open_log
from omium.schemas.topics import VIEWS_APP

pytestmark = pytest.mark.kafka

#: what faust logs once a worker is up (its signal handlers installed)
READY = "[^Worker]: Ready"


@pytest.fixture
async def kafka_log(kafka_bootstrap: str) -> AsyncIterator[EventLog]:
    prefix = f"fs-{uuid.uuid4().hex[:8]}."
    log = open_log(f"kafka://{kafka_bootstrap}?topic_prefix={prefix}")
    await log.create_topics()
    try:
        yield log
    finally:
        await log.close()


class Processor:
    """``omium processors`` as a subprocess.

    ``static``: a static membership id (a restart after a kill gets its partitions back at
    once); else dynamic membership (it joins and leaves the group at once).
    """

    def __init__(self, url: str, workdir: Path, name: str, *, static: bool = False) -> None:
        self.url, self.log_file = url, workdir / f"{name}.log"
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.static = ["--instance-id", f"test-{uuid.uuid4().hex[:8]}"] if static else []

    async def start(self) -> None:
        argv = ["processors", "--url", self.url, "--log-level", "info", *self.static]
        # a restart appends to the same file: wait for this start's own "Ready" (its
        # signal handlers are in place only then; a SIGTERM before ends it with -15)
        ready = self._readies()
        with self.log_file.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "omium.cli", *argv],
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        for _ in range(225):
            if self._readies() > ready:
                return
            if self.proc.poll() is not None:
                pytest.fail(f"processors exited ({self.proc.returncode}):\n{tail(self.log_file)}")
            await asyncio.sleep(0.2)
        pytest.fail(f"processors never ready:\n{tail(self.log_file)}")

    def _readies(self) -> int:
        if not self.log_file.exists():
            return 0
        return self.log_file.read_text(errors="replace").count(READY)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(self.proc.wait, 30)
            assert code == 0, tail(self.log_file)
        assert "Traceback" not in self.log_file.read_text(errors="replace"), tail(self.log_file)


async def record(
    log: EventLog, ids: list[str], steps: int, pause: float, stop: asyncio.Event | None = None
) -> int:
    """Interleaved executions of ``steps`` steps (an LLM call each), a round every ``pause``.

    With ``stop``: steps go on until it is set (``steps`` at most); returns how many ran.
    """
    recorders = [Recorder(log, ex) for ex in ids]
    for rec in recorders:
        await rec.emit_many(
            [
                rec.prepare("execution.submitted", workflow="w", inputs={"i": rec.execution_id}),
                rec.prepare("execution.started", workflow="w"),
            ]
        )
    step = 0
    while step < steps and not (stop is not None and stop.is_set()):
        for rec in recorders:
            name = f"s{step}"
            await rec.emit_many(
                [
                    rec.prepare("step.started", step=name, index=step),
                    rec.prepare("llm.call", model="m", input_tokens=10, output_tokens=2),
                    rec.prepare("step.completed", step=name, index=step, output={name: step}),
                    rec.prepare("checkpoint.created", checkpoint_id=name, step=name, index=step),
                ]
            )
        step += 1
        await asyncio.sleep(pause)
    for rec in recorders:
        await rec.emit("execution.completed", output={"steps": step})
    return step


async def assert_equal_to_rebuild(log: EventLog, executions: int, steps: int) -> None:
    expected = await rebuild(log)
    assert len(expected.views) == executions
    reader = ChangelogReader(log)
    diffs: dict[str, list[str]] = {"": ["not read yet"]}
    for _ in range(200):  # the processors catch up
        live = {v.execution_id: v for v in await reader.executions()}
        diffs = differences(live, expected.views)
        if not diffs:
            break
        await asyncio.sleep(0.2)
    assert diffs == {}
    for view in live.values():
        assert view.status == "completed" and view.usage.llm_calls == steps


async def changelog_records(log: EventLog) -> int:
    try:
        return sum((await log.end_offsets(ChangelogReader.topic)).values())
    except Exception:  # noqa: BLE001 - not created yet
        return 0


@pytest.mark.timeout(120)
async def test_flushes__sigkilled_as_they_land__equal_a_rebuild(
    kafka_log: EventLog, tmp_path: Path
) -> None:
    ids, steps = [f"bk-{i:02d}" for i in range(24)], 8
    await record(kafka_log, ids, steps, pause=0)  # a backlog: 840 events
    processor = Processor(kafka_log.url, tmp_path, "processor", static=True)
    try:
        for kill in range(2):
            seen = await changelog_records(kafka_log)
            await processor.start()
            for _ in range(400):  # kill as soon as a flush lands
                if await changelog_records(kafka_log) > seen:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05 * kill)
            processor.kill()
        await processor.start()
        await assert_equal_to_rebuild(kafka_log, len(ids), steps)
        await processor.stop()
    finally:
        processor.kill()


async def members(bootstrap: str, group: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_consumer_groups([group])
        return sum(len(g[5]) for g in described[0].groups)
    finally:
        await admin.close()


@pytest.mark.timeout(120)
async def test_two_processors__one_joins_one_leaves_under_load__equal_a_rebuild(
    kafka_log: EventLog, kafka_bootstrap: str, tmp_path: Path
) -> None:
    ids, enough = [f"so-{i:02d}" for i in range(24)], asyncio.Event()
    first = Processor(kafka_log.url, tmp_path, "first")
    second = Processor(kafka_log.url, tmp_path, "second")
    producing = asyncio.create_task(record(kafka_log, ids, 200, pause=0.3, stop=enough))
    group = kafka_log.url.split("topic_prefix=")[1].split("&")[0] + VIEWS_APP
    try:
        await first.start()
        await asyncio.sleep(2)
        await second.start()  # joins: the partitions are split between the two
        for _ in range(100):
            if await members(kafka_bootstrap, group) == 2:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the second processor never joined the group")
        await asyncio.sleep(3)
        await first.stop()  # leaves: the second takes every partition
        await asyncio.sleep(2)
        assert not producing.done()  # the load went on through both rebalances
        enough.set()
        steps = await producing
        await assert_equal_to_rebuild(kafka_log, len(ids), steps)
        await second.stop()
    finally:
        producing.cancel()
        first.kill()
        second.kill()
