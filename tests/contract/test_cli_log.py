"""The CLI: reading the log back with positions, and one-line errors with exit codes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from omium import schemas
from omium.cli import main
from omium.cli.app import exit_code
from omium.producers import Recorder, open_log
from omium.schemas import errors


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/log.db"

    async def record() -> None:
        log = open_log(url)
        rec = Recorder(log, "ex-1")
        await rec.emit("step.started", step="fetch", index=0)
        await rec.emit("step.completed", step="fetch", index=0, output={"n": 3})
        await log.close()

    asyncio.run(record())
    return url


def test_log_read__json_lines_with_positions(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["log", "read", "--execution", "ex-1", "--url", url, "--json"]) == 0
    lines = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["event"]["type"] for line in lines] == ["step.started", "step.completed"]
    # the shape GET /api/v1/executions/{id}/events has too
    assert lines[0]["position"]["topic"] == "omium.events"
    assert lines[1]["position"]["offset"] == 1


def test_log_read__table(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["log", "read", "--url", url]) == 0
    out = capsys.readouterr()
    assert "step.completed" in out.out and "2 record(s)" in out.err


def test_topics_list(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topics", "list", "--url", url, "--json"]) == 0
    listed = orjson.loads(capsys.readouterr().out)
    assert sum(listed["omium.events"].values()) == 2


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["log", "read", "--url", "redis://x"], 2, "unknown event log URL"),
        (
            ["log", "read", "--topic", "nope", "--url", "sqlite:///:memory:"],
            2,
            "topic 'nope' does not exist",
        ),
        (["log", "read", "--no-such-flag"], 2, "No such option"),
    ],
)
def test_errors__one_line_and_an_exit_code(
    argv: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    exited = main(argv)
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert exited == code


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (schemas.OmiumError("x"), 1),
        (schemas.LogError("x"), 1),
        (schemas.LogUnavailable("x"), 1),
        (schemas.TopicNotFound("x"), 2),
        (schemas.NoViews("x"), 1),
        (schemas.SyncCallOnLogLoop("x"), 1),
        (schemas.ConfigError("x"), 2),
        (schemas.InvalidSpec("x"), 2),
        (schemas.InvalidEvent("x"), 2),
        (schemas.EventTooLarge("x", size=2, limit=1), 2),
        (schemas.CheckpointTooLarge("x", size=2, limit=1, thread_id="t", largest=None), 2),
        (schemas.NotFound("x"), 2),
        (schemas.NoSuchPoint("x"), 2),
        (errors.StepTimeout("s", 1.0), 1),
        (errors.StepAborted("x"), 1),
        (errors.StepOutputError("x"), 1),
        (errors.CrewTaskFailed(0, "t", ValueError("v")), 1),
        (errors.RecordedLLMError("x"), 1),
    ],
)
def test_exit_code__one_per_error_class(error: schemas.OmiumError, code: int) -> None:
    assert exit_code(error) == code


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == "0.1.0"
