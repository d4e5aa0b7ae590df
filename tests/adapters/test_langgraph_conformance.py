"""LangGraph's own conformance suite against OmiumSaver, on every log and in every mode.

One log per validation; the suite builds a fresh saver per capability, so each capability
also reads threads that earlier savers wrote only through the log.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import EXTENDED_CAPABILITIES
from langgraph.checkpoint.conformance.report import CapabilityReport

from omium.adapters.langgraph import OmiumSaver
from omium.producers import EventLog, Recorder, open_log

LOG_KINDS = ("sqlite-memory", "sqlite-file", "kafka")


def assert_full(report: CapabilityReport) -> None:
    failures = {name: result.failures for name, result in report.results.items() if result.failures}
    assert report.passed_all_base(), failures
    for capability in EXTENDED_CAPABILITIES:
        assert report.results[capability.value].passed is True, (capability, failures)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("kind", LOG_KINDS)
async def test_conformance__every_capability_on_every_log(
    kind: str, log_url: Callable[[str], str]
) -> None:
    log = open_log(log_url(kind))
    await log.create_topics()

    @checkpointer_test(name=f"OmiumSaver[{kind}]")
    async def saver() -> AsyncIterator[OmiumSaver]:
        async with OmiumSaver(log) as fresh:
            yield fresh

    try:
        assert_full(await validate(saver))
    finally:
        await log.close()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("kind", ["sqlite-file", "kafka"])
async def test_conformance__from_url_runs_the_log_on_its_own_loop_thread(
    kind: str, log_url: Callable[[str], str]
) -> None:
    url = log_url(kind)

    @checkpointer_test(name=f"OmiumSaver.from_url[{kind}]")
    async def saver() -> AsyncIterator[OmiumSaver]:
        async with OmiumSaver.from_url(url) as fresh:
            yield fresh

    assert_full(await validate(saver))


class RunnerSink:
    """What an execution runner does: stamp with its own recorder, one per execution."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self.recorders: dict[str, Recorder] = {}
        self.calls = 0
        self._lock = asyncio.Lock()

    async def record(self, thread_id: str, events: list[tuple[str, dict[str, Any]]]) -> None:
        self.calls += 1
        async with self._lock:  # LangGraph writes concurrently: one recorder per execution
            recorder = self.recorders.get(thread_id)
            if recorder is None:
                recorder = self.recorders[thread_id] = await Recorder.resume(self.log, thread_id)
        await recorder.emit_many([recorder.prepare(kind, **payload) for kind, payload in events])


@pytest.mark.timeout(300)
async def test_conformance__through_a_runners_sink(log_url: Callable[[str], str]) -> None:
    log = open_log(log_url("sqlite-memory"))
    sink = RunnerSink(log)

    @checkpointer_test(name="OmiumSaver[sink]")
    async def saver() -> AsyncIterator[OmiumSaver]:
        async with OmiumSaver(log, sink=sink) as fresh:
            yield fresh

    try:
        assert_full(await validate(saver))
        assert sink.calls > 0
    finally:
        await log.close()
