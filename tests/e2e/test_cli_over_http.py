"""The CLI both ways: over the log (``--url``) and through a real ``omium serve``
(``OMIUM_API_URL``), on both runtimes — the same output and the same exit code.

Read-only commands run twice on the same execution and must print exactly the same;
commands that change a run run once each way on executions of their own and must print
the same once the ids are aligned. The oracle is the direct CLI, which the executor suites
test against the log itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import orjson
import pytest
from gateway_process import Gateway, free_port

from omium.cli import main

Said = tuple[int, str, str]
Cli = Callable[..., Said]

NEEDS_LOG = "needs a direct log, but OMIUM_API_URL sends this CLI to"


@pytest.fixture
def direct(
    gateway: Gateway, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    """``omium ARGV --url LOG``: the CLI over the gateway's log."""
    monkeypatch.delenv("OMIUM_API_URL", raising=False)

    def run(*argv: str) -> Said:
        code = main([*argv, "--url", gateway.log_url])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def http(
    gateway: Gateway, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    """``OMIUM_API_URL=… omium ARGV``: the CLI through the gateway."""

    def run(*argv: str) -> Said:
        with monkeypatch.context() as env:
            env.setenv("OMIUM_API_URL", gateway.base)
            code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def both(direct: Cli, http: Cli, *argv: str) -> Said:
    """Run ``argv`` both ways; assert they said the same; what they said."""
    here, there = direct(*argv), http(*argv)
    assert there == here, f"omium {' '.join(argv)}"
    return here


def aligned(said: Said, *ids: str) -> Said:
    """``said`` with the execution ids ``ids`` replaced by ``ID``."""
    pattern = re.compile("|".join(re.escape(i) for i in ids))
    return said[0], pattern.sub("ID", said[1]), pattern.sub("ID", said[2])


@pytest.fixture(scope="module")
def done(gateway: Gateway) -> str:
    """A completed run of ``gw-flow`` (submitted over HTTP)."""
    gateway.submit("cli-h-1", total=3)
    gateway.wait("cli-h-1", lambda v: v["status"] == "completed")
    return "cli-h-1"


def test_run_by_name__the_same_result_and_exit_code(direct: Cli, http: Cli) -> None:
    argv = ("run", "gw-flow", "--json", "--input", "total=5", "--execution-id")
    here, there = direct(*argv, "cli-run-d"), http(*argv, "cli-run-h")
    assert here[0] == 0 and orjson.loads(here[1])["output"]["total"] == 12
    assert aligned(there, "cli-run-h") == aligned(here, "cli-run-d")
    here, there = direct("run", "gw-flow", "--detach"), http("run", "gw-flow", "--detach")
    assert here[0] == there[0] == 0 and there[1].startswith("ex-") and there[2] == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["executions", "show", "{id}", "--json"],
        ["executions", "show", "{id}"],
        ["checkpoints", "{id}", "--json"],
        ["checkpoints", "{id}", "--attempt", "1"],
        ["replay", "{id}", "--json"],
        ["replay", "{id}", "--to-checkpoint", "a1-0-add"],
        ["replay", "{id}", "--to-time", "2100-01-01T00:00:00"],
        ["replay", "{id}", "--verify"],
        ["diff", "{id}", "a1-0-add", "a1-2-double", "--json"],
        ["diff", "{id}", "a1-0-add", "a1-2-double"],
        ["log", "read", "-e", "{id}", "--json"],
        ["log", "read", "-e", "{id}", "--from", "2", "--to", "5"],
        ["log", "read", "-e", "ex-never"],
        ["tail", "-e", "{id}", "--from-beginning", "--max", "4", "--json"],
        ["workflows", "list", "--json"],
    ],
)
def test_reads__print_exactly_the_same(direct: Cli, http: Cli, done: str, argv: list[str]) -> None:
    code, _, _ = both(direct, http, *[a.replace("{id}", done) for a in argv])
    assert code == 0


@pytest.mark.parametrize(
    ("argv", "exit_code", "message"),
    [
        (["executions", "show", "ex-missing"], 2, "no execution 'ex-missing'"),
        (["executions", "list", "--status", "bogus"], 2, "--status 'bogus': no execution has"),
        (["checkpoints", "ex-missing"], 2, "no execution 'ex-missing'"),
        (["checkpoints", "{id}", "--attempt", "9"], 2, "has no attempt 9 (it has 1)"),
        (["replay", "ex-missing"], 2, "no execution 'ex-missing'"),
        (["replay", "{id}", "--to-seq", "999"], 2, "attempt 1 has no seq 999"),
        (["replay", "{id}", "--to-checkpoint", "zzz"], 2, "no checkpoint 'zzz'"),
        (["replay", "{id}", "--to-time", "yesterday"], 2, "not an ISO 8601"),
        (["replay", "{id}", "--attempt", "9"], 2, "no attempt 9; attempts: 1"),
        (["diff", "{id}", "a1-0-add", "zzz"], 2, "has no checkpoint 'zzz'"),
        (["rollback", "{id}", "--to", "nope"], 2, "has no checkpoint 'nope'"),
        (["rollback", "{id}", "--to", "a1-0-add", "--set", "nosuchkey=5"], 2, "has no such key"),
        (["rollback", "ex-missing", "--to", "a1-0-add"], 2, "no execution 'ex-missing'"),
        (["pause", "ex-missing"], 2, "no execution 'ex-missing'"),
        (["cancel", "{id}"], 2, "already completed; nothing to cancel"),
        (["resume", "{id}", "--input", "3"], 2, "already completed; nothing to resume"),
        (["run", "nope"], 2, "no workflow 'nope' is registered"),
    ],
)
def test_errors__the_same_line_and_exit_code(
    direct: Cli, http: Cli, done: str, argv: list[str], exit_code: int, message: str
) -> None:
    code, out, err = both(direct, http, *[a.replace("{id}", done) for a in argv])
    assert code == exit_code and out == ""
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_pause_resume_cancel__the_same_lines(gateway: Gateway, direct: Cli, http: Cli) -> None:
    said: dict[str, list[Said]] = {}
    for ex, cli in (("cli-steer-d", direct), ("cli-steer-h", http)):
        gateway.submit(ex, slow_s=3)
        gateway.wait(ex, lambda v: any(s["name"] == "wait" for s in v["steps"]))
        lines = [cli("pause", ex, "--reason", "look")]  # acted on after the step
        gateway.wait(ex, lambda v: v["status"] == "paused")
        lines += [cli("pause", ex), cli("resume", ex)]
        gateway.wait(ex, lambda v: v["status"] == "completed")
        lines += [cli("cancel", ex), cli("resume", ex, "--input", "{}")]
        said[ex] = [aligned(s, ex) for s in lines]
    assert said["cli-steer-h"] == said["cli-steer-d"]
    assert said["cli-steer-d"][0] == (0, "pause requested for ID\n", "")
    assert said["cli-steer-d"][1][0] == 2 and "already paused" in said["cli-steer-d"][1][2]
    assert said["cli-steer-d"][2] == (0, "resume requested for ID\n", "")
    assert said["cli-steer-d"][3][0] == 2 and "nothing to cancel" in said["cli-steer-d"][3][2]


def test_rollback_follow__the_same_outcome(gateway: Gateway, direct: Cli, http: Cli) -> None:
    said = []
    for ex, cli in (("cli-rb-d", direct), ("cli-rb-h", http)):
        gateway.submit(ex)
        gateway.wait(ex, lambda v: v["status"] == "completed")
        argv = ("rollback", ex, "--to", "a1-0-add", "--set", "total=10", "--follow")
        said += [aligned(cli(*argv), ex), aligned(cli(*argv, "--json"), ex)]
    took = re.compile(r"completed in [\d,]+ ms")  # how long a step took differs, of course
    said = [(code, took.sub("completed", out), err) for code, out, err in said]
    assert said[2:] == said[:2]
    assert said[1][0] == 0 and orjson.loads(said[1][1])["status"] == "completed"


@pytest.mark.parametrize(
    "argv",
    [
        ["worker"],
        ["processors"],
        ["serve"],
        ["run", "{flow}"],
        ["keys", "list"],
        ["workflows", "register", "{flow}"],
        ["topics", "list"],
        ["projections", "rebuild"],
        ["log", "read"],
        ["tail"],
        ["replay", "ex-1", "--reexecute"],
        ["analytics", "cost"],
        ["alerts"],
        ["alerts", "run", "--once"],
    ],
)
def test_commands_the_api_cannot_serve__say_so_in_one_line(
    gateway: Gateway, http: Cli, argv: list[str]
) -> None:
    code, out, err = http(*[a.replace("{flow}", str(gateway.flow)) for a in argv])
    assert code == 2 and out == ""
    assert NEEDS_LOG in err and len(err.strip().splitlines()) == 1, err


def test_no_gateway__one_line_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMIUM_API_URL", f"http://127.0.0.1:{free_port()}")
    code = main(["executions", "show", "ex-1"])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "cannot reach the gateway at http://127.0.0.1:" in err and "connection refused" in err
