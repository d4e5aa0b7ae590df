"""SIGKILL ``omium worker`` processes mid-graph and mid-crew; the runs still finish correctly.

Like test_crash_recovery.py for python steps: a worker subprocess is killed after a couple
of checkpoints, another one takes the run over from the last checkpoint, and the outcome
must equal an uninterrupted run's (no superstep or task lost, none applied twice), with
the live views equal to a rebuild from the log. Also: a worker killed while a graph waits
for input, answered by ``omium resume`` from another process; and ``omium run`` following
a graph to its interrupt() while ``omium resume`` answers it from another process.

The workers here preload their framework (see ``start_worker``); the last tests show why:
a worker's first crew run stalls its event loop for seconds (its heartbeats with it), and
on Kafka the commit after such a stall is a fatal error.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import HERE, SOURCE

from omium.processors.history import current
from omium.processors.reader import open_reader
from omium.processors.rebuild import differences, rebuild
from omium.producers import EventLog, open_log
from omium.producers.sqlite_groups import SESSION_TIMEOUT
from omium.projections import ExecutionView
from omium.schemas import (
    CheckpointCreated,
    Event,
    ExecutionStarted,
    HumanInputReceived,
    HumanInputRequested,
    LLMCall,
    NoViews,
    StepCompleted,
    StepStarted,
    ToolCall,
)
from omium.schemas.workflow import WorkflowSpec
from omium.services import runs as service
from omium.services.workflows import load_workflow

EXAMPLES = HERE.parents[1] / "examples"
SUPPORT = EXAMPLES / "support_graph.yaml"
CLI = "import sys; from omium.cli import main; sys.exit(main(sys.argv[1:]))"
KINDS = ["sqlite-file", "kafka"]
TICKS = 6  # supersteps of the counter graph
TICK_S = 1.0  # each one sleeps that long: the kill lands in the 4th
WAIT_S = 2.0  # how long each waiting task of the crew sleeps in its tool

# two slow tasks in the middle: the worker is killed in the second, after the first's
# checkpoint, so the next one must resume from task 2 (not from the start, not from 1)
CREW = f"""
name: crash-crew
framework: crewai
inputs: {{topic: partitions}}
agents:
  - name: researcher
    role: Researcher
    goal: Find facts about {{topic}}
    tools: [crew_tools:read_notes, crew_tools:multiply]
    llm:
      script:
        - {{action: read_notes, input: {{name: crew_notes.txt}}}}
        - {{action: multiply, input: {{a: 6, b: 7}}}}
        - {{final: "FACTS: order per partition; 42"}}
  - name: waiter
    role: Waiter
    goal: Wait
    tools: [crew_tools:wait_a_bit]
    llm:
      script:
        - {{action: wait_a_bit, input: {{seconds: {WAIT_S}}}}}
        - {{final: "WAITED"}}
  - name: sleeper
    role: Sleeper
    goal: Wait some more
    tools: [crew_tools:wait_a_bit]
    llm:
      script:
        - {{action: wait_a_bit, input: {{seconds: {WAIT_S}}}}}
        - {{final: "SLEPT"}}
  - name: writer
    role: Writer
    goal: Write the report
    llm: {{script: [{{final: "REPORT: partitions order events"}}]}}
tasks:
  - {{name: research, description: "Research {{topic}}", expected_output: facts, agent: researcher}}
  - {{name: wait, description: Wait a moment, expected_output: done, agent: waiter}}
  - {{name: wait_more, description: Wait longer, expected_output: done, agent: sleeper}}
  - name: write
    description: Write a short report
    expected_output: a report
    agent: writer
    context: [research]
"""
TASKS = ["research", "wait", "wait_more", "write"]


# -- helpers --------------------------------------------------------------------------------


def crash_url(kind: str, log_url: Callable[[str], str]) -> str:
    url = log_url(kind)
    # a killed member's partitions move after the session timeout: keep it short
    return url + "&session_timeout=6" if kind == "kafka" else url


def start_worker(url: str, log_file: Path, framework: str | None) -> subprocess.Popen[bytes]:
    """``omium worker`` as test_crash_recovery.py starts it, with ``framework`` preloaded.

    A worker imports a framework on its event loop when it first runs one of its
    workflows (crewai: 3-10 s here), long enough to miss the Kafka heartbeats of the short
    session timeout these tests need (see the last tests); preloaded, the kill is the only
    fault under test.
    """
    preload = f"import omium.processors.frameworks.{framework}; " if framework else ""
    with log_file.open("ab") as stderr:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-c", preload + CLI, "worker", "--url", url, "--concurrency", "2"],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=SOURCE.parent,
        )


def name_of(worker: subprocess.Popen[bytes]) -> str:
    """How the worker signs the executions it starts (``host:pid``)."""
    return f"{socket.gethostname()}:{worker.pid}"


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL ``proc`` (no-op if it ended) and reap it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)


def tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


async def events(log: EventLog, execution_id: str) -> list[Event]:
    return [r.event() for r in await log.read_execution(execution_id)]


async def wait_events(
    log: EventLog,
    execution_id: str,
    predicate: Callable[[list[Event]], bool],
    timeout: float,
    worker_log: Path,
    worker: subprocess.Popen[bytes] | None = None,
) -> list[Event]:
    """Poll the execution's events until ``predicate`` holds (fail on timeout or worker exit)."""
    deadline = time.monotonic() + timeout
    while True:
        found = await events(log, execution_id)
        if predicate(found):
            return found
        if worker is not None and worker.poll() is not None:
            pytest.fail(f"worker exited ({worker.returncode}):\n{tail(worker_log)}")
        if time.monotonic() > deadline:
            last = [(e.seq, e.type) for e in found][-10:]
            pytest.fail(f"timed out; last events {last}\n{tail(worker_log)}")
        await asyncio.sleep(0.05)


async def finished(
    log: EventLog, execution_id: str, timeout: float, worker_log: Path
) -> ExecutionView:
    deadline = time.monotonic() + timeout
    while True:
        view = await current(log, execution_id)
        if view.finished:
            return view
        if time.monotonic() > deadline:
            pytest.fail(f"{execution_id} not finished ({view.status}):\n{tail(worker_log)}")
        await asyncio.sleep(0.1)


#: how long the new worker's processors may take to fold what the killed one left; on Kafka
#: a fresh faust process first recovers its table from the changelog (20-40 s seen in CI)
VIEWS_CATCH_UP_S = 90.0


async def assert_views_fold_cleanly(log: EventLog, executions: list[str], timeout: float) -> None:
    """The live views (kept by the killed and the new workers' processors) equal a rebuild,
    and so does the execution folded straight from its events."""
    rebuilt = await rebuild(log)
    for ex in executions:
        folded = await current(log, ex)
        assert differences({ex: folded}, {ex: rebuilt.views[ex]}) == {}
    reader = open_reader(log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                live = {
                    ex: view
                    for ex in executions
                    if (view := await reader.execution(ex)) is not None
                }
            except NoViews:  # Kafka: the new worker's processors have not written any yet
                live = {}
            diffs = differences(live, {ex: rebuilt.views[ex] for ex in executions})
            if not diffs or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert diffs == {}
    finally:
        await reader.close()


def split_at(found: list[Event], first: str, second: str) -> tuple[list[Event], list[Event]]:
    """The events before and after the second worker's first ``execution.started``.

    Only the killed worker started the run before, only the new one after (a rebalance
    may make a worker resume it again: allowed, as long as no other worker does).
    """
    workers = [e.payload.worker for e in found if isinstance(e, ExecutionStarted)]
    assert workers[0] == first and workers[-1] == second, (first, second, workers)
    assert set(workers) == {first, second}, workers
    cut = next(
        i
        for i, e in enumerate(found)
        if isinstance(e, ExecutionStarted) and e.payload.worker == second
    )
    return found[:cut], found[cut:]


def checkpoints(found: list[Event]) -> list[CheckpointCreated]:
    return [e for e in found if isinstance(e, CheckpointCreated) and not e.payload.ns]


async def open_fresh(url: str) -> EventLog:
    log = open_log(url)
    await log.create_topics()
    return log


# -- SIGKILL mid-graph ------------------------------------------------------------------------


@pytest.mark.timeout(240)
@pytest.mark.parametrize("kind", KINDS)
async def test_sigkill_mid_graph__the_next_worker_finishes_it_from_the_last_checkpoint(
    kind: str, log_url: Callable[[str], str], tmp_path: Path
) -> None:
    url = crash_url(kind, log_url)
    log = await open_fresh(url)
    spec = WorkflowSpec.model_validate(
        {"name": "crash-graph", "framework": "langgraph", "graph": "flow_graphs:counter"}
    )
    ex = await service.submit(log, spec, SOURCE, {"until": TICKS, "slow_s": TICK_S})
    worker_log = tmp_path / "workers.log"
    worker = start_worker(url, worker_log, "langgraph")
    first = name_of(worker)
    try:
        # kill in the middle of the 4th superstep: started, its second not over
        await wait_events(
            log,
            ex,
            lambda found: any(isinstance(e, StepStarted) and e.payload.index == 3 for e in found),
            40,
            worker_log,
            worker,
        )
        kill(worker)
        worker = start_worker(url, worker_log, "langgraph")
        second = name_of(worker)
        view = await finished(log, ex, 60, worker_log)
        found = await events(log, ex)
        assert view.status == "completed", (view.error, tail(worker_log))
        assert view.output is not None
        # every superstep's effect exactly once: none lost, none applied twice
        assert view.output["seen"] == list(range(1, TICKS + 1))
        assert view.output["n"] == TICKS
        last = checkpoints(found)[-1].payload
        assert last.state["seen"] == view.output["seen"] and last.index == TICKS
        before, after = split_at(found, first, second)
        # the killed worker completed ticks 1..k (k >= 3) and was killed in tick k+1; the
        # next one ran k+1..TICKS: no tick checkpointed before the kill ran again
        done = [e.payload.output.get("seen") for e in before if isinstance(e, StepCompleted)]
        k = len(done)
        assert k >= 3 and done == [[n] for n in range(1, k + 1)], done
        redone = [e.payload.output.get("seen") for e in after if isinstance(e, StepCompleted)]
        assert redone == [[n] for n in range(k + 1, TICKS + 1)], (k, redone)
        killed = [e.payload.index for e in before if isinstance(e, StepStarted)]
        assert killed == list(range(k + 1)), "the kill did not land mid-superstep"
        await assert_views_fold_cleanly(log, [ex], VIEWS_CATCH_UP_S)
        # the interrupted superstep did not stay "running" in the view of the finished run:
        # the re-run takes its place, as a re-run python step does
        steps = [(s.index, s.name, s.status) for s in view.steps]
        assert steps == [(i, "tick", "completed") for i in range(TICKS)], steps
    finally:
        kill(worker)
        await log.close()


# -- SIGKILL mid-crew -------------------------------------------------------------------------


def without_usage(output: dict[str, Any]) -> dict[str, Any]:
    return {**output, "result": {k: v for k, v in output["result"].items() if k != "token_usage"}}


def crew_spec(wait_s: float = WAIT_S) -> WorkflowSpec:
    text = CREW.replace(f"seconds: {WAIT_S}", f"seconds: {wait_s}")
    return WorkflowSpec.model_validate(yaml.safe_load(text))


@pytest.mark.timeout(240)
@pytest.mark.parametrize("kind", KINDS)
async def test_sigkill_mid_crew__the_next_worker_resumes_at_the_task_after_the_checkpoint(
    kind: str, log_url: Callable[[str], str], tmp_path: Path
) -> None:
    url = crash_url(kind, log_url)
    log = await open_fresh(url)
    ex = await service.submit(log, crew_spec(), SOURCE, {})
    worker_log = tmp_path / "workers.log"
    worker = start_worker(url, worker_log, "crewai")
    first = name_of(worker)
    try:
        # kill while the tool of task 2 (wait_more) sleeps, after task 1's checkpoint
        await wait_events(
            log,
            ex,
            lambda found: any(c.payload.checkpoint_id == "a1-1-wait" for c in checkpoints(found)),
            40,
            worker_log,
            worker,
        )
        await asyncio.sleep(0.3)
        kill(worker)
        worker = start_worker(url, worker_log, "crewai")
        second = name_of(worker)
        # the same crew uninterrupted, run beside it by the new worker: the reference
        reference = await service.submit(log, crew_spec(), SOURCE, {})
        view = await finished(log, ex, 60, worker_log)
        expected = await finished(log, reference, 30, worker_log)
        found = await events(log, ex)
        assert view.status == "completed", (view.error, tail(worker_log))
        assert expected.status == "completed", expected.error
        assert view.output is not None and expected.output is not None
        assert view.output["result"]["raw"] == "REPORT: partitions order events"
        # every task's output as in the uninterrupted run (the crew's token count: below)
        assert without_usage(view.output) == without_usage(expected.output)
        before, after = split_at(found, first, second)
        # tasks 0 and 1 ran once, before the kill; the next worker resumed at task 2 (the
        # one the kill interrupted), then ran task 3
        started = [e.payload.step for e in before if isinstance(e, StepStarted)]
        assert started == ["research", "wait", "wait_more"], started
        started = [e.payload.step for e in after if isinstance(e, StepStarted)]
        assert started == ["wait_more", "write"], started
        assert [c.payload.checkpoint_id for c in checkpoints(found)] == [
            f"a1-{i}-{name}" for i, name in enumerate(TASKS)
        ]
        # the new worker called neither the researcher's model nor its tools again
        assert [e.payload.tool for e in after if isinstance(e, ToolCall)] == ["wait_a_bit"]
        tools = [e.payload.tool for e in found if isinstance(e, ToolCall)]
        assert tools.count("read_notes") == tools.count("multiply") == 1, tools
        assert [(s.name, s.status) for s in view.steps] == [(t, "completed") for t in TASKS]
        await assert_views_fold_cleanly(log, [ex, reference], VIEWS_CATCH_UP_S)
        # the whole output too: the crew's token usage counts every task, as uninterrupted
        assert view.output["result"] == expected.output["result"]
    finally:
        kill(worker)
        await log.close()


# -- SIGKILL while waiting for input ------------------------------------------------------------


def cli(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """An ``omium`` command in a process of its own (another terminal)."""
    return subprocess.run(
        [sys.executable, "-c", CLI, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=HERE.parents[1],
    )


@pytest.mark.timeout(240)
@pytest.mark.parametrize("kind", KINDS)
async def test_sigkill_while_waiting_for_input__omium_resume_then_a_new_worker_finishes(
    kind: str, log_url: Callable[[str], str], tmp_path: Path
) -> None:
    url = crash_url(kind, log_url)
    log = await open_fresh(url)
    ex = await service.submit(log, load_workflow(SUPPORT), SUPPORT, {})
    worker_log = tmp_path / "workers.log"
    worker = start_worker(url, worker_log, "langgraph")
    first = name_of(worker)
    try:
        await wait_events(
            log,
            ex,
            lambda found: any(isinstance(e, HumanInputRequested) for e in found),
            40,
            worker_log,
            worker,
        )
        waiting = await current(log, ex)
        assert waiting.status == "waiting", waiting.status
        kill(worker)
        # answered while no worker is alive: the command waits on the log for the next one
        answered = await asyncio.to_thread(
            cli, "resume", ex, "--input", json.dumps({"approved": True}), "--url", url
        )
        assert answered.returncode == 0, answered.stderr
        assert f"input sent to {ex}" in answered.stdout
        worker = start_worker(url, worker_log, "langgraph")
        second = name_of(worker)
        view = await finished(log, ex, 60, worker_log)
        found = await events(log, ex)
        assert view.status == "completed", (view.error, tail(worker_log))
        assert view.output is not None and view.output["reply"].startswith("We are sorry")
        _, after = split_at(found, first, second)
        asked = [e for e in found if isinstance(e, HumanInputRequested)]
        got = [e for e in found if isinstance(e, HumanInputReceived)]
        assert len(asked) == 1 and len(got) == 1 and got[0].payload.value == {"approved": True}
        # the new worker called no model and no tool again
        assert [e.payload.step for e in found if isinstance(e, LLMCall)] == [
            "triage",
            "billing_agent",
        ]
        assert sum(isinstance(e, ToolCall) for e in found) == 1
        assert not [e for e in after if isinstance(e, LLMCall | ToolCall)]
        await assert_views_fold_cleanly(log, [ex], VIEWS_CATCH_UP_S)
        # the approval node, stopped at interrupt() when the worker died, ran again: its
        # row in the view ends completed, as with no kill (not a "running" one left behind)
        steps = [(s.name, s.status) for s in view.steps]
        assert steps == [
            ("triage", "completed"),
            ("billing_agent", "completed"),
            ("approval", "completed"),
            ("send", "completed"),
        ], steps
    finally:
        kill(worker)
        await log.close()


# -- interrupt() in `omium run`, answered by `omium resume` from another process ---------------


async def wait_file(path: Path, text: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        if proc.poll() is not None:
            pytest.fail(f"omium run exited ({proc.returncode}):\n{tail(path)}")
        if time.monotonic() > deadline:
            pytest.fail(f"omium run never printed {text!r}:\n{tail(path)}")
        await asyncio.sleep(0.1)


@pytest.mark.timeout(240)
async def test_omium_run_waits_at_interrupt__omium_resume_from_another_process_finishes_it(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    ex = "support-1"
    out, err = tmp_path / "run.out", tmp_path / "run.err"
    argv = ["run", str(SUPPORT), "--url", url, "--execution-id", ex, "--follow"]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        runner = subprocess.Popen(
            [sys.executable, "-c", CLI, *argv],
            stdout=stdout,
            stderr=stderr,
            cwd=HERE.parents[1],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        await wait_file(out, "waiting for input: Refund $120.00 to acme?", runner, 40)
        assert f"omium resume {ex} --input" in out.read_text()
        assert runner.poll() is None  # still following, waiting for the answer
        answered = await asyncio.to_thread(
            cli, "resume", ex, "--input", '{"approved": true}', "--url", url
        )
        assert answered.returncode == 0, answered.stderr
        assert answered.stdout.strip() == f"input sent to {ex}"
        code = await asyncio.to_thread(runner.wait, 40)
    finally:
        kill(runner)
    printed = out.read_text()
    assert code == 0, (printed, tail(err))
    assert printed.rstrip().endswith(f"{ex}: completed"), printed
    assert 'input received: {"approved":true}' in printed
    assert "✓ send" in printed
    shown = await asyncio.to_thread(cli, "executions", "show", ex, "--url", url, "--json")
    assert shown.returncode == 0, shown.stderr
    view: dict[str, Any] = json.loads(shown.stdout)
    assert view["status"] == "completed"
    assert view["output"]["reply"].startswith("We are sorry")
    assert [s["name"] for s in view["steps"]] == ["triage", "billing_agent", "approval", "send"]


# -- a worker's first crew run stalls its event loop (importing crewai there) --------------


@pytest.mark.timeout(240)
async def test_first_crew_run__does_not_stall_the_workers_heartbeats(
    log_url: Callable[[str], str], tmp_path: Path
) -> None:
    """A worker heartbeats on every poll of its event loop; a member silent for the session
    timeout (5 s embedded, 6-10 s on Kafka) is taken for dead and its runs move to another
    worker while it still runs them. Its first crew run must not block that loop."""
    url = log_url("sqlite-file")
    log = await open_fresh(url)
    worker_log = tmp_path / "workers.log"
    worker = start_worker(url, worker_log, None)  # crewai not imported yet
    beats: list[int] = []
    db = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=10)

    def sample() -> None:
        rows = db.execute("SELECT heartbeat_ms FROM group_members WHERE grp = 'omium-executor'")
        beats.extend(beat for (beat,) in rows if not beats or beat != beats[-1])

    try:
        deadline = time.monotonic() + 60
        while len(beats) < 5:  # the worker polls, idle
            if time.monotonic() > deadline or worker.poll() is not None:
                pytest.fail(f"the worker never polled:\n{tail(worker_log)}")
            sample()
            await asyncio.sleep(0.05)
        ex = await service.submit(log, crew_spec(wait_s=0), SOURCE, {})
        view = ExecutionView(execution_id=ex)
        while not view.finished:
            if time.monotonic() > deadline or worker.poll() is not None:
                pytest.fail(f"{ex} not finished ({view.status}):\n{tail(worker_log)}")
            sample()
            view = await current(log, ex)
            await asyncio.sleep(0.05)
    finally:
        kill(worker)
        db.close()
        await log.close()
    assert view.status == "completed", view.error
    gaps = [(b - a) / 1000 for a, b in itertools.pairwise(beats)]
    # a poll every few ms when idle; never a pause near the session timeout (half of it is
    # the margin: a member silent for the whole of it is taken for dead)
    limit = SESSION_TIMEOUT / 2
    assert max(gaps) < limit, f"the worker's heartbeat paused {max(gaps):.1f} s: {gaps}"


@pytest.mark.timeout(240)
@pytest.mark.parametrize("kind", KINDS)
async def test_commit_after_a_stall_past_the_session_timeout__is_no_fatal_error(
    kind: str, log_url: Callable[[str], str]
) -> None:
    """What a worker does after such a stall: commit, then poll again. On the embedded log
    the commit skips what the member no longer owns; on Kafka it raises LogError
    (CommitFailedError: the group rebalanced), which ends `omium worker` (exit 1) with the
    runs it held left to nobody until another worker joins."""
    url = crash_url(kind, log_url)
    log = await open_fresh(url)
    try:
        async with log.subscribe("stalled", ["omium.commands"]) as sub:
            deadline = time.monotonic() + 30
            while not sub.assignment():
                assert time.monotonic() < deadline, "never assigned a partition"
                await sub.poll(timeout=0.2)
            owned = sub.assignment()
            time.sleep(8)  # the event loop stalls past the session timeout (5 s, 6 s)
            await sub.commit({pair: 0 for pair in owned})
            for _ in range(5):  # and the member carries on: it polls, rejoins, commits
                await sub.poll(timeout=0.2)
            while not sub.assignment():
                assert time.monotonic() < deadline + 30, "never assigned a partition again"
                await sub.poll(timeout=0.2)
            await sub.commit({pair: 0 for pair in sub.assignment()})
    finally:
        await log.close()


@pytest.mark.timeout(240)
@pytest.mark.parametrize("kind", KINDS)
async def test_sigkill_while_a_subgraph_waits_two_levels_down__resume_then_a_new_worker_finishes(
    kind: str, log_url: Callable[[str], str], tmp_path: Path
) -> None:
    url = crash_url(kind, log_url)
    log = await open_fresh(url)
    spec = WorkflowSpec.model_validate(
        {"name": "nested", "framework": "langgraph", "graph": "flow_graphs:nested_interrupt"}
    )
    ex = await service.submit(log, spec, SOURCE, {"topic": "tides"})
    worker_log = tmp_path / "workers.log"
    worker = start_worker(url, worker_log, "langgraph")
    try:
        await wait_events(
            log,
            ex,
            lambda found: any(isinstance(e, HumanInputRequested) for e in found),
            40,
            worker_log,
            worker,
        )
        kill(worker)
        answered = await asyncio.to_thread(cli, "resume", ex, "--input", '"yes"', "--url", url)
        assert answered.returncode == 0, answered.stderr
        worker = start_worker(url, worker_log, "langgraph")
        view = await finished(log, ex, 60, worker_log)
        assert view.status == "completed", (view.error, tail(worker_log))
        assert view.output is not None
        assert view.output["notes"][-2:] == ["approved: yes", "finished"], view.output
        # every nested step ends completed once, under its parent (none left running)
        rows = [(s.name, s.status) for s in view.steps]
        assert rows == [
            ("write", "completed"),
            ("write/draft", "completed"),
            ("write/review", "completed"),
            ("write/review/approve", "completed"),
            ("finish", "completed"),
        ], rows
        await assert_views_fold_cleanly(log, [ex], VIEWS_CATCH_UP_S)
    finally:
        kill(worker)
        await log.close()
