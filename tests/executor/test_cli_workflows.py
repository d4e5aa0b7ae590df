"""Workflows by name: register, list, run by name; a worker never runs another version."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from harness import HERE
from test_cli_run import FLOW, cli


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "flow_steps.py").write_text((HERE / "flow_steps.py").read_text())
    path = folder / "flow.yaml"
    path.write_text(FLOW)
    return path


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/log.db"


def test_register_list_and_run_by_name(
    flow: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "workflows", "register", str(flow), "--url", url, "--json")
    assert code == 0
    (registered,) = orjson.loads(out)
    assert registered["name"] == "cli-flow" and registered["version"].startswith("v-")
    assert registered["modules"] == ["flow_steps.py"] and registered["current"] is True
    code, out, _ = cli(capsys, "workflows", "register", str(flow), "--url", url, "--json")
    assert orjson.loads(out) == [registered]  # the same files again: nothing new
    code, out, _ = cli(capsys, "workflows", "list", "--url", url, "--json")
    assert orjson.loads(out) == [registered]

    code, out, _ = cli(capsys, "run", "cli-flow", "--url", url, "--json", "--input", "total=5")
    assert code == 0, out
    assert orjson.loads(out)["output"]["total"] == 12


def test_changed_files__a_new_version_and_the_old_one_is_refused(
    flow: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(capsys, "workflows", "register", str(flow), "--url", url)
    steps = flow.parent / "flow_steps.py"
    steps.write_text(steps.read_text() + "\n# edited after registering\n")
    code, out, _ = cli(capsys, "run", "cli-flow", "--url", url, "--json")
    assert code == 1
    error = orjson.loads(out)["error"]
    assert error["type"] == "VersionMismatch" and "on this worker are version" in error["message"]

    code, out, _ = cli(capsys, "workflows", "register", str(flow), "--url", url, "--json")
    new = orjson.loads(out)[0]
    code, out, _ = cli(capsys, "workflows", "list", "--url", url, "--json")
    listed = orjson.loads(out)
    assert [w["current"] for w in listed] == [False, True] and listed[1] == new
    code, out, _ = cli(capsys, "run", "cli-flow", "--url", url, "--json")
    assert code == 0 and orjson.loads(out)["status"] == "completed"


def test_reexecute__refuses_files_of_another_version(
    flow: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(capsys, "workflows", "register", str(flow), "--url", url)
    code, out, _ = cli(capsys, "run", "cli-flow", "--url", url, "--json")
    ex = orjson.loads(out)["execution_id"]
    steps = flow.parent / "flow_steps.py"
    steps.write_text(steps.read_text() + "\n# edited after the run\n")
    code, _, err = cli(capsys, "replay", ex, "--reexecute", "--url", url)
    assert code == 2
    assert err.startswith("omium: error: execution") and "here are version" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["run", "nope"], "no workflow 'nope' is registered"),
        (["worker", "--workflows", "/nonexistent"], "not a folder"),
    ],
)
def test_bad_names__one_line_exit_2(
    argv: list[str], says: str, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, *argv, "--url", url)
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1
