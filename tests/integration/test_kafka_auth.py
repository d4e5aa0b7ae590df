"""omium on a Kafka cluster that requires SASL_SSL (SCRAM-SHA-512), as teams run it.

The broker is ``kafka_auth_url`` (tests/conftest.py: ``broker.sh up --auth``). One run goes
through every process omium starts (a worker, its faust processors, the CLI), with the
password in the URL, and nothing any of them prints or shows in a process title holds it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from langgraph.graph import END, START, StateGraph
from procs import tail, wait_for_line

from omium.adapters.langgraph import OmiumSaver
from omium.producers import open_log
from omium.schemas import LogAccessDenied

REPO = Path(__file__).resolve().parents[2]
FLOW_STEPS = REPO / "tests" / "executor" / "flow_steps.py"
FLOW = """
name: auth-flow
inputs: {total: 1, slow_s: 0.05}
steps:
  - {name: add, call: flow_steps:add}
  - {name: wait, call: flow_steps:slow}
  - {name: double, call: flow_steps:double}
"""
CLI = "import sys; from omium.cli import main; sys.exit(main(sys.argv[1:]))"


def parts(url: str) -> dict[str, str]:
    """The pieces of ``broker.sh up --auth``'s URL the cases recombine."""
    head, _, query = url.partition("?")
    fields = dict(item.split("=", 1) for item in query.split("&"))
    user, _, hosts = head.removeprefix("kafka://").partition("@")
    return {
        "user": user,
        "hosts": hosts,
        "port": hosts.rpartition(":")[2],
        "cafile": fields["ssl_cafile"],
        "password": Path(fields["password_file"]).read_text().strip(),
        "auth_dir": str(Path(fields["ssl_cafile"]).parent),
    }


def with_password(url: str, prefix: str) -> str:
    """The URL with the password in its userinfo (the hardest case for masking)."""
    p = parts(url)
    return (
        f"kafka://{p['user']}:{quote(p['password'], safe='')}@{p['hosts']}"
        f"?security_protocol=SASL_SSL&sasl_mechanism=SCRAM-SHA-512&ssl_cafile={p['cafile']}"
        f"&topic_prefix={prefix}&timeout=20"
    )


def omium(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> Any:
    return subprocess.run(
        [sys.executable, "-c", CLI, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def cmdlines(pid: int) -> list[str]:
    """The command lines of ``pid`` and its descendants (what `ps` shows)."""
    seen, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            seen.append(Path(f"/proc/{current}/cmdline").read_bytes().replace(b"\0", b" ").decode())
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(c) for c in children)
    return seen


@pytest.mark.timeout(300)
async def test_worker_processors_and_cli__run_over_sasl_ssl_and_never_show_the_password(
    kafka_auth_url: str, tmp_path: Path
) -> None:
    password = parts(kafka_auth_url)["password"]
    url = with_password(kafka_auth_url, f"auth-{os.urandom(4).hex()}.")
    (tmp_path / "flow_steps.py").write_text(FLOW_STEPS.read_text())
    (tmp_path / "flow.yaml").write_text(FLOW)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMIUM_")}
    env |= {"OMIUM_LOG_URL": url, "OMIUM_HOME": str(tmp_path / ".omium")}
    log_file = tmp_path / "worker.log"
    with log_file.open("ab") as out:
        worker = subprocess.Popen(
            [sys.executable, "-c", CLI, "worker", "--concurrency", "2"],
            stdout=out,
            stderr=out,
            env=env,
            cwd=tmp_path,
        )
    printed: list[str] = []
    try:
        await wait_for_line(log_file, worker, "omium processors on", timeout=90)
        titles = cmdlines(worker.pid)
        assert len(titles) >= 2, titles  # the worker and its processors
        run = omium(["run", "flow.yaml", "--json", "--execution-id", "auth-1"], env, tmp_path)
        printed += [run.stdout, run.stderr]
        assert run.returncode == 0, (run.stderr, tail(log_file))
        assert orjson.loads(run.stdout)["output"]["total"] == 4
        show = await _until_completed(env, tmp_path, "auth-1", printed)
        assert show["status"] == "completed" and show["output"]["total"] == 4
        listed = omium(["executions", "list", "--json"], env, tmp_path)
        printed += [listed.stdout, listed.stderr]
        assert "auth-1" in [e["execution_id"] for e in orjson.loads(listed.stdout)]
        replay = omium(["replay", "auth-1", "--verify"], env, tmp_path)
        printed += [replay.stdout, replay.stderr]
        assert replay.returncode == 0, replay.stderr
        help_text = omium(["worker", "--help"], env, tmp_path)
        printed += [help_text.stdout, help_text.stderr]
    finally:
        worker.terminate()
        worker.wait(60)
    printed.append(log_file.read_text(errors="replace"))
    everything = "\n".join([*printed, *titles])
    assert "omium processors on kafka://omium@" in everything  # the URL is shown, masked
    assert password not in everything
    assert quote(password, safe="") not in everything


async def _until_completed(env: dict[str, str], cwd: Path, ex: str, printed: list[str]) -> Any:
    deadline = time.monotonic() + 60
    while True:
        shown = omium(["executions", "show", ex, "--json"], env, cwd)
        printed += [shown.stdout, shown.stderr]
        if shown.returncode == 0:
            view = orjson.loads(shown.stdout)
            if view["status"] == "completed" or time.monotonic() > deadline:
                return view
        elif time.monotonic() > deadline:
            pytest.fail(shown.stderr)
        time.sleep(0.5)


def test_saver__checkpoints_a_graph_over_sasl_ssl(kafka_auth_url: str) -> None:
    builder = StateGraph(dict)
    builder.add_node("inc", lambda state: {"n": state["n"] + 1})
    builder.add_edge(START, "inc")
    builder.add_edge("inc", END)
    url = f"{kafka_auth_url}&topic_prefix=saver-{os.urandom(4).hex()}.&timeout=20"
    config = {"configurable": {"thread_id": "auth-thread"}}
    with OmiumSaver.from_url(url) as saver:
        graph = builder.compile(checkpointer=saver)
        assert graph.invoke({"n": 1}, config) == {"n": 2}
        assert saver.get_tuple(config) is not None
        assert graph.get_state(config).values == {"n": 2}  # read back from the log


def test_saver__a_wrong_password_is_access_denied(kafka_auth_url: str) -> None:
    p = parts(kafka_auth_url)
    url = f"kafka://{p['user']}:wrong@{p['hosts']}?ssl_cafile={p['cafile']}&timeout=5"
    with pytest.raises(LogAccessDenied, match="wrong password or unknown user"):
        OmiumSaver.from_url(url)


async def test_mutual_tls__the_cas_client_certificate_is_accepted(kafka_auth_url: str) -> None:
    d = parts(kafka_auth_url)["auth_dir"]
    url = f"{kafka_auth_url}&ssl_certfile={d}/client.crt&ssl_keyfile={d}/client.key&timeout=10"
    log = open_log(url + f"&topic_prefix=mtls-{os.urandom(4).hex()}.")
    try:
        await log.create_topics()
        assert await log.end_offsets("omium.events")
    finally:
        await log.close()


@pytest.mark.timeout(120)
async def test_processors__secured_by_the_url_alone(kafka_auth_url: str, tmp_path: Path) -> None:
    url = f"{kafka_auth_url}&topic_prefix=procs-{os.urandom(4).hex()}.&timeout=20"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMIUM_")}
    env["OMIUM_HOME"] = str(tmp_path / ".omium")
    log_file = tmp_path / "processors.log"
    with log_file.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", CLI, "processors", "--url", url],
            stdout=out,
            stderr=out,
            env=env,
            cwd=tmp_path,
        )
    try:
        await wait_for_line(log_file, proc, "omium processors on", timeout=60)
        deadline = time.monotonic() + 15  # faust connects, or exits on its connection error
        while time.monotonic() < deadline:
            assert proc.poll() is None, tail(log_file)
            time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(30)
