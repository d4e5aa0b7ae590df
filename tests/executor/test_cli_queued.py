"""Work that waits for a worker is listed and said so (the embedded log, no worker running)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest
from harness import HERE
from test_cli_run import FLOW, cli

from omium.producers import EventLog, Recorder, open_log
from omium.services.runs import no_worker

QUEUED = "is queued until `omium worker` runs (or an `omium run` hosts one)"


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    (tmp_path / "flow_steps.py").write_text((HERE / "flow_steps.py").read_text())
    path = tmp_path / "flow.yaml"
    path.write_text(FLOW)
    return path


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/log.db"


def listed(capsys: pytest.CaptureFixture[str], url: str, *more: str) -> list[tuple[str, str]]:
    code, out, _ = cli(capsys, "executions", "list", "--url", url, "--json", *more)
    assert code == 0
    return [(e["execution_id"], e["status"]) for e in orjson.loads(out)]


def test_run_detach__is_listed_queued_and_says_it_waits(
    flow: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(
        capsys, "run", str(flow), "--url", url, "--detach", "--execution-id", "q-1"
    )
    assert code == 0 and out.strip() == "q-1"
    assert err.strip() == f"omium: the run of q-1 {QUEUED}"
    assert listed(capsys, url) == [("q-1", "queued")]
    assert listed(capsys, url, "--status", "queued") == [("q-1", "queued")]
    assert listed(capsys, url, "--status", "running") == []
    code, out, err = cli(capsys, "cancel", "q-1", "--url", url)
    assert (code, out.strip()) == (0, "cancel requested for q-1")
    assert err.strip() == f"omium: the cancel of q-1 {QUEUED}"


def test_pause_resume_rollback__with_no_worker_say_they_wait(
    flow: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "run", str(flow), "--url", url, "--json", "--execution-id", "r-1")
    assert code == 0
    code, out, _ = cli(capsys, "checkpoints", "r-1", "--url", url, "--json")
    first = orjson.loads(out)[0]["checkpoint_id"]
    code, out, err = cli(capsys, "rollback", "r-1", "--to", first, "--url", url)
    assert code == 0 and out.strip().endswith(": requested")
    assert err.strip() == f"omium: the rollback of r-1 {QUEUED}"

    async def paused() -> None:  # an execution a worker paused, then the worker went away
        log = open_log(url)
        try:
            rec = Recorder(log, "p-1")
            await rec.emit("execution.submitted", workflow="w", inputs={})
            await rec.emit("execution.started", workflow="w")
            await rec.emit("execution.paused")
        finally:
            await log.close()

    asyncio.run(paused())
    code, out, err = cli(capsys, "resume", "p-1", "--url", url)
    assert (code, out.strip()) == (0, "resume requested for p-1")
    assert err.strip() == f"omium: the resume of p-1 {QUEUED}"
    asyncio.run(paused_again(url))
    code, out, err = cli(capsys, "pause", "p-2", "--url", url)
    assert (code, out.strip()) == (0, "pause requested for p-2")
    assert err.strip() == f"omium: the pause of p-2 {QUEUED}"


async def paused_again(url: str) -> None:
    log = open_log(url)
    try:
        rec = Recorder(log, "p-2")
        await rec.emit("execution.submitted", workflow="w", inputs={})
        await rec.emit("execution.started", workflow="w")
    finally:
        await log.close()


def test_list__an_unknown_status_is_exit_2_naming_the_valid_ones(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "executions", "list", "--url", url, "--status", "bogus")
    assert code == 2 and out == ""
    assert err.strip() == (
        "omium: error: --status 'bogus': no execution has that status; use one of "
        "cancelled, completed, failed, idle, paused, queued, running, submitted, timed_out, waiting"
    )


async def test_no_worker__only_where_the_log_can_tell(log: EventLog) -> None:
    said = await no_worker(log)
    assert said is (urlsplit(log.url).scheme == "sqlite")  # Kafka cannot tell: nothing said
