"""``omium replay|checkpoints|diff|rollback`` through the CLI, on the embedded log."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from harness import HERE

from omium.cli import main

FLOW = """
name: cli-history
inputs: {total: 1}
steps:
  - {name: add, call: flow_steps:add}
  - {name: double, call: flow_steps:double}
  - {name: inc, call: flow_steps:async_inc}
"""


@pytest.fixture
def run_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    (tmp_path / "flow_steps.py").write_text((HERE / "flow_steps.py").read_text())
    (tmp_path / "flow.yaml").write_text(FLOW)
    code, out, _ = cli(capsys, "run", str(tmp_path / "flow.yaml"), "--url", URL[0], "--json")
    assert code == 0, out
    return str(orjson.loads(out)["execution_id"])


URL: list[str] = []


@pytest.fixture(autouse=True)
def url(tmp_path: Path) -> None:
    URL[:] = [f"sqlite:///{tmp_path}/log.db"]


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--url", URL[0]] if "--url" not in argv else list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_replay__json_shape_at_a_checkpoint(
    run_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "replay", run_id, "--to-checkpoint", "a1-1-double", "--json")
    assert code == 0
    shown = orjson.loads(out)
    assert {"execution_id", "attempt", "position", "seq", "state", "timeline"} <= set(shown)
    assert shown["state"] == {"total": 4, "added": True}
    assert set(shown["position"]) == {"topic", "partition", "offset"}
    assert shown["timeline"][-1]["summary"] == "checkpoint a1-1-double"
    code, out, _ = cli(capsys, "replay", run_id, "--verify")
    assert code == 0 and "verified" in out


def test_checkpoints_and_diff(run_id: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "checkpoints", run_id, "--json")
    rows = orjson.loads(out)
    assert [r["checkpoint_id"] for r in rows] == ["a1-0-add", "a1-1-double", "a1-2-inc"]
    code, out, _ = cli(capsys, "diff", run_id, "a1-0-add", "a1-2-inc", "--json")
    assert orjson.loads(out) == {
        "added": {},
        "removed": {},
        "changed": {"total": {"from": 2, "to": 5}},
    }


def test_rollback__follow_runs_the_new_attempt_in_process(
    run_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(
        capsys, "rollback", run_id, "--to", "a1-0-add", "--set", "total=10", "--follow", "--json"
    )
    assert code == 0, out
    assert orjson.loads(out) == {
        "execution_id": run_id,
        "attempt": 2,
        "from_checkpoint": "a1-0-add",
        "status": "completed",
        "queued": False,
    }
    code, out, _ = cli(capsys, "executions", "show", run_id, "--json")
    shown = orjson.loads(out)
    assert shown["attempt"] == 2 and shown["output"]["total"] == 21
    assert [(s["name"], s["attempt"]) for s in shown["steps"]][-2:] == [("double", 2), ("inc", 2)]


@pytest.mark.parametrize(
    ("argv", "exit_code", "message"),
    [
        (
            ["rollback", "{id}", "--to", "nope"],
            2,
            "has no checkpoint 'nope'; its checkpoints: a1-0",
        ),
        (
            ["rollback", "{id}", "--to", "a1-0-add", "--set", "x"],
            2,
            "--set 'x': expected key=value",
        ),
        (["replay", "{id}", "--to-seq", "999"], 2, "attempt 1 has no seq 999"),
        (["replay", "{id}", "--to-checkpoint", "zzz"], 2, "no checkpoint 'zzz'"),
        (["replay", "{id}", "--to-time", "yesterday"], 2, "--to-time 'yesterday': not an ISO 8601"),
        (["replay", "ex-missing"], 2, "no execution 'ex-missing'"),
        (["diff", "{id}", "a1-0-add", "zzz"], 2, "has no checkpoint 'zzz'"),
        (["diff", "ex-missing", "a", "b"], 2, "no execution 'ex-missing'"),
        (
            ["rollback", "{id}", "--to", "a1-0-add", "--set", "nosuchkey=5"],
            2,
            "--set nosuchkey: the state at a1-0-add has no such key; its keys: total, added; "
            "to add a key, use --add KEY=VALUE",
        ),
        (["rollback", "ex-missing", "--to", "a1-0-add"], 2, "no execution 'ex-missing'"),
        (["replay", "{id}", "--to-offset", "-1"], 2, "offset -1 is before the execution's first"),
        (
            ["replay", "{id}", "--to-offset", "99999"],
            2,
            "offset 99999 is after the execution's last event; its events sit at offsets 0..",
        ),
        (["replay", "{id}", "--attempt", "9"], 2, "no attempt 9; attempts: 1"),
        (["replay", "{id}", "--reexecute", "--attempt", "0"], 2, "has no attempt 0"),
        (["replay", "{id}", "--reexecute", "--live", "nope"], 2, "the workflow has no step 'nope'"),
        (["replay", "{id}", "--reexecute", "--until-step", "nope"], 2, "has no step 'nope'"),
        (["replay", "{id}", "--live", "add"], 2, "--live and --until-step go with --reexecute"),
        (["checkpoints", "{id}", "--attempt", "9"], 2, "has no attempt 9 (it has 1)"),
        (["checkpoints", "ex-missing"], 2, "no execution 'ex-missing'"),
        (["executions", "show", "ex-missing"], 2, "no execution 'ex-missing'"),
        (["executions", "list", "--status", "bogus"], 2, "--status 'bogus': no execution has"),
        (["pause", "ex-missing"], 2, "no execution 'ex-missing'"),
        (["cancel", "{id}"], 2, "already completed; nothing to cancel"),
        (["resume", "{id}", "--input", "3"], 2, "already completed; nothing to resume"),
    ],
)
def test_history_commands__bad_input_is_one_line(
    run_id: str,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    exit_code: int,
    message: str,
) -> None:
    code, _, err = cli(capsys, *[a.replace("{id}", run_id) for a in argv])
    assert code == exit_code
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_replay__reexecute_runs_the_steps_again_here(
    run_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "replay", run_id, "--reexecute", "--live", "*", "--json")
    assert code == 0, out
    report = orjson.loads(out)
    assert [(s["name"], s["mode"], s["result"]) for s in report["steps"]] == [
        ("add", "live", "completed"),
        ("double", "live", "completed"),
        ("inc", "live", "completed"),
    ]
    assert report["divergence"] is None and report["connections"] == 0
    assert report["state"]["total"] == 5
    code, _, err = cli(capsys, "replay", run_id, "--live", "add")
    assert code == 2 and "--live and --until-step go with --reexecute" in err
