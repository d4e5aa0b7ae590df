"""``omium run`` and friends through the CLI, on the embedded log (no worker running)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from harness import HERE

import omium
from omium.cli import main

FLOW = """
name: cli-flow
inputs: {total: 1, slow_s: 0.05}
steps:
  - {name: add, call: flow_steps:add}
  - {name: wait, call: flow_steps:slow}
  - {name: double, call: flow_steps:double}
"""


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    (tmp_path / "flow_steps.py").write_text((HERE / "flow_steps.py").read_text())
    path = tmp_path / "flow.yaml"
    path.write_text(FLOW)
    return path


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/log.db"


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_run__json_result_and_exit_0(
    flow: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "run", str(flow), "--url", url, "--json", "--input", "total=5")
    assert code == 0
    result = orjson.loads(out)
    assert set(result) == {"execution_id", "status", "attempt", "output", "error"}
    assert result["status"] == "completed" and result["attempt"] == 1 and result["error"] is None
    assert result["output"]["total"] == 12

    code, out, _ = cli(capsys, "executions", "show", result["execution_id"], "--url", url, "--json")
    shown = orjson.loads(out)
    assert set(shown) == {
        "execution_id",
        "workflow",
        "status",
        "attempt",
        "inputs",
        "output",
        "error",
        "waiting",
        "steps",
        "checkpoints",
        "branches",
        "usage",
        "saver",
    }
    assert [s["name"] for s in shown["steps"]] == ["add", "wait", "double"]
    assert set(shown["steps"][0]) == {
        "name",
        "index",
        "parent",
        "status",
        "attempt",
        "seq",
        "started_at",
        "ended_at",
        "error",
        "retry",
        "duration_ms",
    }
    assert set(shown["checkpoints"][0]) == {
        "checkpoint_id",
        "step",
        "index",
        "ns",
        "path",
        "attempt",
        "seq",
        "position",
    }
    assert set(shown["checkpoints"][0]["position"]) == {"topic", "partition", "offset"}

    code, out, _ = cli(capsys, "executions", "list", "--url", url, "--json")
    assert [e["status"] for e in orjson.loads(out)] == ["completed"]


def test_run__a_failing_workflow_exits_1(
    flow: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    flow.write_text(FLOW.replace("flow_steps:double", "flow_steps:boom"))
    code, out, _ = cli(capsys, "run", str(flow), "--url", url, "--json")
    assert code == 1
    result = orjson.loads(out)
    assert result["status"] == "failed" and result["output"] is None
    assert result["error"] == {
        "type": "ValueError",
        "message": "boom: the input was wrong",
        "step": "double",
    }


def test_run__bad_spec_is_one_line_and_exit_2(
    flow: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    flow.write_text(FLOW.replace("flow_steps:add", "flow_steps:nope"))
    code, out, err = cli(capsys, "run", str(flow), "--url", url)
    assert code == 2
    assert "steps[0].call: module 'flow_steps' has no 'nope'" in err
    assert len(err.strip().splitlines()) == 1 and out == ""


def test_run__same_execution_id_twice_runs_once(
    flow: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(2):
        code, out, _ = cli(
            capsys, "run", str(flow), "--url", url, "--json", "--execution-id", "fixed-1"
        )
        assert code == 0 and orjson.loads(out)["status"] == "completed"
    code, out, _ = cli(capsys, "log", "read", "--execution", "fixed-1", "--url", url, "--json")
    types = [orjson.loads(line)["event"]["type"] for line in out.splitlines()]
    assert types.count("execution.submitted") == 1 and types.count("step.started") == 3


def test_control__an_unknown_execution_is_not_found_exit_2(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "pause", "no-such-run", "--url", url)
    assert "no execution 'no-such-run'" in err  # the message holds whatever the code
    assert code == 2


def test_control__a_finished_execution_cannot_resume_exit_2(
    url: str, flow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(capsys, "run", str(flow), "--url", url, "--execution-id", "done-1")
    code, _, err = cli(capsys, "resume", "done-1", "--url", url)
    assert code == 2 and "already completed; nothing to resume" in err


def test_pause_and_resume__from_another_process(
    flow: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    flow.write_text(FLOW.replace("slow_s: 0.05", "slow_s: 1.5"))
    runner = spawn_run(flow, url, "steer-1")
    try:
        assert wait_until(lambda: "step.started" in log_types(capsys, url, "steer-1"))
        assert cli(capsys, "pause", "steer-1", "--url", url)[0] == 0
        assert wait_until(lambda: "execution.paused" in log_types(capsys, url, "steer-1"), 15)
        assert runner.poll() is None  # still following, waiting for resume
        assert cli(capsys, "resume", "steer-1", "--url", url)[0] == 0
        out, err = runner.communicate(timeout=60)
    finally:
        runner.kill()
    assert runner.returncode == 0, err.decode()
    assert orjson.loads(out)["status"] == "completed"


def test_cancel__from_another_process_exits_1(
    flow: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    flow.write_text(FLOW.replace("slow_s: 0.05", "slow_s: 60"))
    runner = spawn_run(flow, url, "cancel-1")
    try:
        assert wait_until(lambda: log_types(capsys, url, "cancel-1").count("step.started") == 2)
        assert cli(capsys, "cancel", "cancel-1", "--url", url)[0] == 0
        out, _ = runner.communicate(timeout=30)
    finally:
        runner.kill()
    assert runner.returncode == 1
    assert orjson.loads(out)["status"] == "cancelled"


def spawn_run(
    flow: Path, url: str, execution_id: str, *, json: bool = True
) -> subprocess.Popen[bytes]:
    """`omium run` in a process of its own (another terminal, as a user would have it)."""
    # A shell gives a foreground command the default Ctrl-C, whatever it ignores itself; a
    # test run started in the background (`cmd &`, nohup) ignores SIGINT and children
    # inherit that, so the child restores Python's handler as a terminal's shell would.
    code = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from omium.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    argv = ["run", str(flow), "--url", url, "--execution-id", execution_id]
    return subprocess.Popen(
        [sys.executable, "-c", code, *argv, *(["--json"] if json else [])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def log_types(capsys: pytest.CaptureFixture[str], url: str, execution_id: str) -> list[str]:
    code, out, _ = cli(capsys, "log", "read", "--execution", execution_id, "--url", url, "--json")
    return [orjson.loads(line)["event"]["type"] for line in out.splitlines()] if code == 0 else []


def wait_until(check, timeout: float = 30) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_tail__prints_the_events_of_one_execution(
    flow: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(capsys, "run", str(flow), "--url", url, "--execution-id", "tailed-1")
    cli(capsys, "run", str(flow), "--url", url, "--execution-id", "other-1")
    code, out, _ = cli(
        capsys,
        "tail",
        "--from-beginning",
        "--execution",
        "tailed-1",
        "--json",
        "--idle",
        "2",
        "--url",
        url,
    )
    assert code == 0
    lines = [orjson.loads(line) for line in out.splitlines()]
    assert {line["event"]["execution_id"] for line in lines} == {"tailed-1"}
    assert lines[0]["event"]["type"] == "execution.submitted"
    assert lines[-1]["event"]["type"] == "execution.completed"
    code, out, _ = cli(capsys, "tail", "--from-beginning", "--max", "3", "--url", url)
    assert code == 0 and len(out.splitlines()) == 3


def test_run__ctrl_c_exits_130_and_the_run_can_continue_later(
    flow: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import signal

    flow.write_text(FLOW.replace("slow_s: 0.05", "slow_s: 30"))
    runner = spawn_run(flow, url, "int-1", json=False)
    try:
        assert wait_until(lambda: log_types(capsys, url, "int-1").count("step.started") == 2)
        runner.send_signal(signal.SIGINT)
        _, err = runner.communicate(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate()  # close the pipes: a leaked one warns in a later test
    assert runner.returncode == 130, err.decode()
    assert "interrupted" in err.decode() and "Traceback" not in err.decode()
    # nothing recorded is lost: the execution is still there, unfinished, for a worker
    code_, out, _ = cli(capsys, "executions", "show", "int-1", "--url", url, "--json")
    assert code_ == 0 and orjson.loads(out)["status"] == "running"


def test_run__an_existing_id_of_another_workflow_is_refused_exit_2(
    flow: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = cli(capsys, "run", str(flow), "--url", url, "--execution-id", "ar1")
    assert code == 0
    boom = flow.with_name("boom.yaml")
    boom.write_text(FLOW.replace("name: cli-flow", "name: boom"))
    code, out, err = cli(capsys, "run", str(boom), "--url", url, "--execution-id", "ar1")
    assert (code, out) == (2, "")
    assert err.strip() == (
        "omium: error: execution ar1 exists with workflow 'cli-flow', not 'boom'; "
        "choose another --execution-id, or leave it out for a fresh one"
    )
    code, _, err = cli(
        capsys, "run", str(flow), "--url", url, "--execution-id", "ar1", "--input", "total=2"
    )
    assert code == 2 and "exists with other inputs (differing: total)" in err


HALVES = """
def one(state):
    return {"a": "x" * 600_000}


def two(state):
    return {"b": "y" * 600_000}
"""


def test_run__a_failure_outside_a_step_says_why_live_and_in_json(
    flow: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # each output fits in an event, the checkpoint after the second (both) does not
    (flow.parent / "halves.py").write_text(HALVES)
    flow.write_text(
        "name: halves\nsteps:\n  - {name: h1, call: halves:one}\n  - {name: h2, call: halves:two}\n"
    )
    code, out, _ = cli(capsys, "run", str(flow), "--url", url, "--follow", "--execution-id", "h-1")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("  ✓ h1  ") and lines[-1] == "h-1: failed"
    [failed] = [line for line in lines if "✗" in line]
    assert failed.startswith("  ✗ failed") and "TooLarge: " in failed  # the reason
    code, out, _ = cli(capsys, "executions", "show", "h-1", "--url", url, "--json")
    shown = orjson.loads(out)["error"]
    code, out, _ = cli(
        capsys, "run", str(flow), "--url", url, "--json", "--execution-id", "h-1"
    )  # the same submission again: its result, with the error
    error = orjson.loads(out)["error"]
    assert error["type"].endswith("TooLarge") and f"{error['type']}: {error['message']}" == shown


RETRIED = """
name: retried
inputs: {total: 1, slow_s: 0.05, fail_times: 2, run_key: show-1}
steps:
  - {name: call, call: flow_steps:flaky, retries: {max_attempts: 3, initial: 10ms}}
  - {name: wait, call: flow_steps:slow}
"""


def test_show__text_lists_steps_with_retries_and_live_durations_and_checkpoints(
    flow: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    flow.write_text(RETRIED)
    code, out, _ = cli(
        capsys, "run", str(flow), "--url", url, "--follow", "--execution-id", "show-1"
    )
    assert code == 0, out
    live = dict(line.split()[1:3] for line in out.splitlines() if line.startswith("  ✓ "))
    code, out, _ = cli(capsys, "executions", "show", "show-1", "--url", url)
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert rows["call"][1:6] == ["1", "completed", "2", live["call"], "ms"]  # 2 retries
    assert rows["wait"][1:5] == ["1", "completed", live["wait"], "ms"]
    assert rows["checkpoint"] == ["checkpoint", "attempt", "seq", "after", "step"]
    assert rows["a1-0-call"][-1] == "call" and rows["a1-1-wait"][-1] == "wait"


def test_version__as_a_command_and_as_the_conventional_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli(capsys, "--version")[:2] == (0, f"{omium.__version__}\n")
    assert cli(capsys, "version")[:2] == (0, f"{omium.__version__}\n")


def test_run__durability_is_chosen_per_run(
    url: str, flow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "run", str(flow), "--url", url, "--durability", "sometimes")
    assert code == 2 and "--durability 'sometimes': not a durability mode" in err
    code, out, _ = cli(capsys, "run", str(flow), "--url", url, "--durability", "step", "--json")
    assert code == 0 and orjson.loads(out)["status"] == "completed"
    shown = orjson.loads(
        cli(capsys, "log", "read", "--url", url, "--topic", "omium.commands", "--json")[
            1
        ].splitlines()[-1]
    )
    assert shown["event"]["payload"]["spec"]["durability"] == "step"


def test_executions_list__limit_pages_newest_first_with_a_cursor(
    flow: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(5):
        assert cli(capsys, "run", str(flow), "--url", url, "--execution-id", f"pg-{i}")[0] == 0
    seen: list[str] = []
    cursor: list[str] = []
    while True:
        code, out, _ = cli(
            capsys, "executions", "list", "--url", url, "--limit", "2", "--json", *cursor
        )
        assert code == 0
        page = orjson.loads(out)
        assert len(page["executions"]) <= 2
        seen += [e["execution_id"] for e in page["executions"]]
        if page["next_cursor"] is None:
            break
        cursor = ["--cursor", page["next_cursor"]]
    assert seen == [f"pg-{i}" for i in reversed(range(5))]  # run one after another: newest first
    code, out, err = cli(capsys, "executions", "list", "--url", url, "--limit", "2")
    assert code == 0 and "pg-4" in out and "pg-2" not in out and err.startswith("more: --cursor ")
    code, _, err = cli(capsys, "executions", "list", "--url", url, "--limit", "0")
    assert code == 2 and "--limit" in err
