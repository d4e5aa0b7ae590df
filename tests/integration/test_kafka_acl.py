"""omium on a Kafka cluster with ACLs: a worker needs what the docs say, a reader only Read.

The broker is ``kafka_auth_url`` (``broker.sh up --auth``): KRaft's StandardAuthorizer, the
client user ``omium`` a super user, and two users with prefixed ACLs on the names starting
with ``omium`` (so the cases use the prefix ``omium-acl-…``): ``worker`` with exactly the
worker row of docs/kafka-security.md's ACL table, ``reader`` with only Read and Describe on
the topics. ``worker`` runs a workflow end to end (a worker, its faust processors, the CLI);
``reader`` then lists, shows and replays it and reads its checkpoints and records, and
whatever ``reader`` tries to write is refused in one line naming the topic and the ACL to
grant: exit 2, no traceback, no password, well within the timeout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from procs import tail

REPO = Path(__file__).resolve().parents[2]
FLOW_STEPS = REPO / "tests" / "executor" / "flow_steps.py"
FLOW = """
name: acl-flow
inputs: {total: 1, slow_s: 0.05}
steps:
  - {name: add, call: flow_steps:add}
  - {name: wait, call: flow_steps:slow}
  - {name: double, call: flow_steps:double}
"""
CLI = "import sys; from omium.cli import main; sys.exit(main(sys.argv[1:]))"
#: a refused write is explained well within the log's timeout (20 s in ``as_user``)
REFUSED_WITHIN_S = 30


@dataclass(frozen=True)
class Recorded:
    """A run that ``worker`` recorded on a fresh prefix, and one it queued."""

    prefix: str
    cwd: Path
    worker: str  # the URL of user worker
    reader: str  # the URL of user reader
    output: Any  # `omium run --json`'s output of the completed run


def as_user(url: str, user: str, prefix: str) -> str:
    """``broker.sh up --auth``'s URL as ``user`` (its password is in ``USER.password``)."""
    head, _, query = url.partition("?")
    fields = dict(item.split("=", 1) for item in query.split("&"))
    password_file = Path(fields["password_file"]).with_name(f"{user}.password")
    if not password_file.exists():
        pytest.skip(f"the broker has no user {user!r} (started by an older broker.sh)")
    fields["password_file"] = str(password_file)
    hosts = head.partition("@")[2]
    query = "&".join(f"{k}={v}" for k, v in fields.items())
    return f"kafka://{user}@{hosts}?{query}&topic_prefix={prefix}&timeout=20"


def environment(url: str, cwd: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMIUM_")}
    return env | {"OMIUM_LOG_URL": url, "OMIUM_HOME": str(cwd / ".omium")}


def omium(args: list[str], url: str, cwd: Path) -> Any:
    return subprocess.run(
        [sys.executable, "-c", CLI, *args],
        env=environment(url, cwd),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def recorded(kafka_auth_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    """``worker`` runs ``acl-1`` through a worker to completion, then queues ``acl-2``."""
    prefix = f"omium-acl-{os.urandom(4).hex()}."
    worker_url = as_user(kafka_auth_url, "worker", prefix)
    cwd = tmp_path_factory.mktemp("acl")
    (cwd / "flow_steps.py").write_text(FLOW_STEPS.read_text())
    (cwd / "flow.yaml").write_text(FLOW)
    log_file = cwd / "worker.log"
    with log_file.open("ab") as out:
        worker = subprocess.Popen(
            [sys.executable, "-c", CLI, "worker"],
            stdout=out,
            stderr=out,
            env=environment(worker_url, cwd),
            cwd=cwd,
        )
    try:
        _wait_for(log_file, worker, "omium processors on")
        run = omium(["run", "flow.yaml", "--json", "--execution-id", "acl-1"], worker_url, cwd)
        assert run.returncode == 0, (run.stderr, tail(log_file))
        output = orjson.loads(run.stdout)["output"]
        deadline = time.monotonic() + 60
        while True:  # until the processors folded it into the changelog
            shown = omium(["executions", "show", "acl-1", "--json"], worker_url, cwd)
            if shown.returncode == 0 and orjson.loads(shown.stdout)["status"] == "completed":
                break
            assert time.monotonic() < deadline, (shown.stderr, tail(log_file))
            time.sleep(0.5)
    finally:
        worker.terminate()
        worker.wait(60)
    # no worker takes this one: it stays queued, so it can still be paused
    queued = omium(["run", "flow.yaml", "--detach", "--execution-id", "acl-2"], worker_url, cwd)
    assert queued.returncode == 0, queued.stderr
    yield Recorded(prefix, cwd, worker_url, as_user(kafka_auth_url, "reader", prefix), output)


def _wait_for(log_file: Path, proc: subprocess.Popen[bytes], text: str) -> None:
    deadline = time.monotonic() + 90
    while text not in log_file.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"worker never logged {text!r} ({proc.poll()}):\n{tail(log_file)}")
        time.sleep(0.2)


@pytest.mark.timeout(300)
def test_a_worker_with_exactly_the_documented_acls_runs_a_workflow_end_to_end(
    recorded: Recorded,
) -> None:
    assert recorded.output["total"] == 4


@pytest.mark.timeout(300)
def test_a_read_only_user_lists_shows_replays_and_reads_checkpoints(recorded: Recorded) -> None:
    reader, cwd = recorded.reader, recorded.cwd
    listed = omium(["executions", "list", "--json"], reader, cwd)
    assert listed.returncode == 0, listed.stderr
    assert "acl-1" in {e["execution_id"] for e in orjson.loads(listed.stdout)}
    shown = omium(["executions", "show", "acl-1", "--json"], reader, cwd)
    assert shown.returncode == 0, shown.stderr
    assert orjson.loads(shown.stdout)["output"]["total"] == 4
    replayed = omium(["replay", "acl-1", "--verify"], reader, cwd)
    assert replayed.returncode == 0, replayed.stderr
    checkpoints = omium(["checkpoints", "acl-1"], reader, cwd)
    assert checkpoints.returncode == 0, checkpoints.stderr
    assert "add" in checkpoints.stdout
    records = omium(["log", "read", "--execution", "acl-1", "--json"], reader, cwd)
    assert records.returncode == 0, records.stderr
    assert len(records.stdout.splitlines()) >= 4


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    "args",
    [["run", "flow.yaml", "--detach"], ["run", "flow.yaml"], ["pause", "acl-2"]],
    ids=["submit", "run", "pause"],
)
def test_a_read_only_user_is_refused_every_write_in_one_line_with_the_acl_to_grant(
    recorded: Recorded, args: list[str]
) -> None:
    prefix = recorded.prefix
    secret = Path(recorded.reader.partition("password_file=")[2].partition("&")[0]).read_text()
    started = time.monotonic()
    refused = omium(args, recorded.reader, recorded.cwd)
    elapsed = time.monotonic() - started
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 2, (refused.stdout, refused.stderr)
    assert len(lines) == 1, refused.stderr
    assert lines[0].startswith("omium: error: Kafka at localhost:"), lines
    assert f"user 'reader' is not authorized to write topic '{prefix}omium.commands'" in lines[0]
    assert (
        "kafka-acls --add --allow-principal User:reader --operation Write --operation Describe "
        f"--topic '{prefix}' --resource-pattern-type prefixed"
    ) in lines[0]
    everything = refused.stdout + refused.stderr
    assert "Traceback" not in everything
    assert secret.strip() not in everything
    assert elapsed < REFUSED_WITHIN_S, elapsed
