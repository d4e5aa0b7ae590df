"""A checkpoint too big for one event of the log, on every log: the step's completion is
recorded, then the run fails saying why (python steps and crew tasks)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import yaml
from harness import Harness, spec

from omium.producers import Settings, open_log
from omium.schemas import Event, ExecutionFailed
from omium.schemas.workflow import WorkflowSpec

#: a smaller limit than the default, so crew tasks (whose model calls carry their output)
#: fit one event while the checkpoint after two of them does not
LIMIT = 64 << 10


@pytest.fixture(params=("sqlite-memory", "sqlite-file", "kafka"))
async def small(
    request: pytest.FixtureRequest, log_url: Callable[[str], str]
) -> AsyncIterator[Harness]:
    log = open_log(log_url(request.param), Settings(max_event_bytes=LIMIT))
    await log.create_topics()
    h = Harness(log)
    try:
        yield h
    finally:
        await h.stop_workers()
        await log.close()


def failure(events: list[Event]) -> ExecutionFailed:
    last = events[-1]
    assert isinstance(last, ExecutionFailed), [e.type for e in events]
    return last


async def test_python__the_steps_completion_is_recorded_then_the_run_fails_why(
    harness: Harness,
) -> None:
    """The issue's case: two steps of 600 KiB, the 1 MiB default limit."""
    await harness.start_worker()
    ex = await harness.submit(spec("big_part", "big_part", "add"), kib=600)
    view = await harness.finished(ex)
    assert view.status == "failed"
    assert [(s.name, s.status) for s in view.steps] == [
        ("big_part0", "completed"),
        ("big_part1", "completed"),
    ]
    assert [c.step for c in view.checkpoints] == ["big_part0"]
    events = await harness.events(ex)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))  # nothing numbered lost
    assert [e.type for e in events[-3:]] == ["step.started", "step.completed", "execution.failed"]
    failed = failure(events)
    assert failed.payload.step == "big_part1"
    assert failed.payload.error.type == "CheckpointTooLarge"
    message = failed.payload.error.message
    assert "the checkpoint after step 'big_part1' is 1,2" in message
    assert "over the log's 1,048,576-byte limit" in message
    assert "largest keys of the state: 'part0' 614,402 bytes, 'part1' 614,402 bytes" in message
    assert "OMIUM_MAX_EVENT_BYTES" in message and "reference" in message
    assert view.error == f"CheckpointTooLarge: {message}"


CREW = """
name: big-crew
framework: crewai
agents:
  - name: writer
    role: Writer
    goal: Write at length
    llm: {fixture: ANSWERS}
tasks:
  - {name: first, description: Write, expected_output: text, agent: writer, context: []}
  - {name: second, description: Write, expected_output: text, agent: writer, context: []}
  - {name: third, description: Write, expected_output: text, agent: writer, context: []}
"""


def big_crew(folder: Path, chars: int) -> WorkflowSpec:
    """Three tasks answering ``chars`` characters each (from a fixture file: in the spec,
    the answers would make the ``run`` command itself too big)."""
    answers = folder / "answers.json"
    answers.write_text(json.dumps([{"final": letter * chars} for letter in "ABC"]))
    return WorkflowSpec.model_validate(yaml.safe_load(CREW.replace("ANSWERS", str(answers))))


async def test_crew__the_tasks_completion_is_recorded_then_the_run_fails_why(
    small: Harness, tmp_path: Path
) -> None:
    await small.start_worker()
    ex = await small.submit(big_crew(tmp_path, 40_000))
    view = await small.finished(ex, timeout=120)
    assert view.status == "failed", view.error
    assert [(s.name, s.status) for s in view.steps] == [
        ("first", "completed"),
        ("second", "completed"),
    ]
    assert [c.step for c in view.checkpoints] == ["first"]
    events = await small.events(ex)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    completed = [e for e in events if e.type == "step.completed"]
    assert [e.payload.step for e in completed] == ["first", "second"]  # type: ignore[attr-defined]
    failed = failure(events)
    assert failed.payload.step == "second"
    assert failed.payload.error.type == "CheckpointTooLarge"
    message = failed.payload.error.message
    assert f"over the log's {LIMIT:,}-byte limit" in message
    assert "largest keys of the state: 'first' 40,0" in message and "'second' 40,0" in message
