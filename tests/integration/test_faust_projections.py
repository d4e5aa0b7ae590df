"""The faust projections on the real broker: SIGKILLed mid-stream, they still equal a rebuild.

``omium processors`` runs as a subprocess (faust owns its event loop and signals). While
30 executions record their events (with LLM calls, so a double-applied event would show
in the usage totals) and a few poison records land among them, the processor is killed
with SIGKILL ten times and restarted. Then the views read from the changelog must equal,
field by field, a rebuild folded straight from the log, and every poison record must be
in the DLQ.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from procs import tail, wait_for_line

from omium.processors import history
from omium.processors.changelog import ChangelogReader
from omium.processors.rebuild import differences, rebuild
from omium.producers import EventLog, Position, Recorder, open_log
from omium.projections import Until
from omium.schemas import NoViews
from omium.schemas.topics import DLQ

pytestmark = pytest.mark.kafka

EXECUTIONS, STEPS, KILLS = 30, 12, 10


@pytest.fixture
async def kafka_log(kafka_bootstrap: str) -> AsyncIterator[EventLog]:
    prefix = f"fp-{uuid.uuid4().hex[:8]}."
    log = open_log(f"kafka://{kafka_bootstrap}?topic_prefix={prefix}")
    await log.create_topics()
    try:
        yield log
    finally:
        await log.close()


class Processor:
    """``omium processors`` as a subprocess with a fixed static-membership id."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.url, self.workdir = url, workdir
        self.instance = f"test-{uuid.uuid4().hex[:8]}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.log_file = workdir / "processor-0.log"

    async def start(self) -> None:
        self.starts += 1
        self.log_file = self.workdir / f"processor-{self.starts}.log"
        argv = ["processors", "--url", self.url, "--instance-id", self.instance]
        with self.log_file.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "omium.cli", *argv, "--log-level", "info"],
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        await wait_for_line(self.log_file, self.proc, "[^Worker]: Ready", timeout=90)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(self.proc.wait, 30)
            assert code == 0, tail(self.log_file)


async def record_runs(log: EventLog, poison: list[Position]) -> None:
    """30 interleaved executions, a round of steps every 2.5 s (across the kills), poison too."""
    recorders = [Recorder(log, f"ex-{i:02d}") for i in range(EXECUTIONS)]
    for rec in recorders:
        await rec.emit_many(
            [
                rec.prepare("execution.submitted", workflow="w", inputs={"i": rec.execution_id}),
                rec.prepare("execution.started", workflow="w"),
            ]
        )
    for step in range(STEPS):
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
        if step % 4 == 1:
            poison.extend(
                await log.append_records([("omium.events", f"ex-{step:02d}", b"\x00poison")])
            )
        await asyncio.sleep(2.5)
    for rec in recorders:
        await rec.emit("execution.completed", output={"steps": STEPS})


async def history_of(log: EventLog, diffs: dict[str, list[str]]) -> str:
    """Every changelog version of the executions whose views differ (for the failure)."""
    lines = []
    topic = ChangelogReader.topic
    for partition, end in (await log.end_offsets(topic)).items():
        for record in await log.read(topic, partition, 0, end):
            if record.key in diffs:
                view = orjson.loads(record.value)
                lines.append(
                    f"{record.key} @{partition}/{record.position.offset}: "
                    f"last_seq={view['last_seq']} usage={view['usage']}"
                )
    return "\n".join(lines)


async def dead_letters(log: EventLog) -> set[tuple[int, int]]:
    found = set()
    for partition in range(await log.partitions(DLQ.name)):
        for record in await log.read(DLQ.name, partition):
            letter = orjson.loads(record.value)
            found.add((letter["partition"], letter["offset"]))
    return found


@pytest.mark.timeout(400)
async def test_faust_projections__equal_a_rebuild_after_ten_sigkills(
    kafka_log: EventLog, tmp_path: Path
) -> None:
    processor = Processor(kafka_log.url, tmp_path)
    poison: list[Position] = []
    producing = asyncio.create_task(record_runs(kafka_log, poison))
    rng = random.Random(7)
    try:
        for _ in range(KILLS):
            await processor.start()
            await asyncio.sleep(rng.uniform(0.3, 1.2))  # let it fold part of the stream
            processor.kill()
        await processor.start()
        await producing

        reader = ChangelogReader(kafka_log)
        expected = await rebuild(kafka_log)
        assert len(expected.views) == EXECUTIONS and expected.dead_letters == len(poison)
        diffs: dict[str, list[str]] = {"": ["not read yet"]}
        for _ in range(300):  # the last processor catches up
            live = {v.execution_id: v for v in await reader.executions()}
            diffs = differences(live, expected.views)
            if not diffs:
                break
            await asyncio.sleep(0.2)
        shown = {
            k: {
                n: (getattr(live.get(k), n, None), getattr(expected.views.get(k), n, None))
                for n in names
            }
            for k, names in diffs.items()
        }
        assert diffs == {}, f"{shown}\n{await history_of(kafka_log, diffs)}"
        for view in live.values():
            assert view.status == "completed" and view.usage.llm_calls == STEPS
        one = await reader.execution("ex-07")
        assert one is not None and one.seq == 2 + 4 * STEPS + 1
        # every poison record reached the DLQ (a kill may have sent one twice)
        assert await dead_letters(kafka_log) == {(p.partition, p.offset) for p in poison}
        await processor.stop()
        output = "\n".join(
            (tmp_path / f"processor-{n}.log").read_text() for n in range(1, processor.starts + 1)
        )
        assert "Traceback" not in output, output[-4000:]
    finally:
        producing.cancel()
        if processor.proc is not None and processor.proc.poll() is None:
            os.kill(processor.proc.pid, signal.SIGKILL)
            processor.proc.wait(10)


async def test_changelog_reader__without_processors_says_how_to_start_them(
    kafka_log: EventLog,
) -> None:
    rec = Recorder(kafka_log, "ex-early")
    await rec.emit("execution.submitted", workflow="w", inputs={"a": 1})
    reader = ChangelogReader(kafka_log)
    with pytest.raises(NoViews, match="no execution views on .*; start `omium processors`"):
        await reader.execution("ex-early")
    # replay does not need them: it reads the partition from its start instead
    result = await history.replay_execution(kafka_log, "ex-early", Until(), reader=reader)
    assert result.view.state == {"a": 1}
