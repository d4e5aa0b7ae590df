"""The Kafka runtime survives faults, on its own 3-node cluster (issue 19).

Workers run as `omium worker` processes over loads of 5 sync steps whose side effects log
start, end and pid (:mod:`fault_steps`); faults are injected into the brokers and workers:

- (e) SIGTERM a worker: it exits 0 soon, its partitions move at once, no step runs twice;
- (d) every broker stalled (SIGSTOP) longer than the clients' timeout: the workers wait,
  steps are repeated no more than the documented bound, everything completes;
- (a) SIGKILL the node that is both the group coordinator and the KRaft controller: the
  workers ride it out and every execution completes;
- (b) SIGSTOP a worker past its session, then SIGCONT: the other worker takes its
  executions over; the returning one starts no step of them, and what it had in flight is
  dropped by every fold (a late write carries lower seq numbers than the new owner's).

The cluster uses ports ``OMIUM_TEST_KAFKA3_PORT`` (default 29392, apart from
test_three_nodes.py's 29092, as both may run at once) .. +2, controllers +100, in a pytest
tmp dir; ``broker.sh down`` runs on teardown whatever happened. `make soak`
repeats the module (``OMIUM_SOAK``).
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from faults import (
    Cluster,
    Effects,
    Load,
    cluster_env,
    start_worker,
    stop,
    stuck_report,
    tail,
    wait_lines,
)

from omium.producers import EventLog, open_log
from omium.projections.views import already_applied, mark_applied
from omium.schemas import StepCompleted

pytestmark = [pytest.mark.kafka, pytest.mark.three_nodes, pytest.mark.timeout(600)]

PORT = int(os.environ.get("OMIUM_TEST_KAFKA3_PORT", "29392"))
GROUP = "omium-executor"
#: the workers' settings in these tests: session 6 s, Kafka calls time out after 5 s
WORKER_ENV = {"OMIUM_WORKER_GIVE_UP_AFTER": "300"}


@pytest.fixture(scope="module")
def cluster(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    state = tmp_path_factory.mktemp("kafka3faults")
    bootstrap = ",".join(f"127.0.0.1:{PORT + i}" for i in range(3))
    found = Cluster(state, bootstrap, cluster_env(state, PORT))
    try:
        found.broker_sh("up", "--nodes", "3")
        yield found
    finally:
        found.signal_all_safely(signal.SIGCONT)
        found.broker_sh("down", timeout=90)


@pytest.fixture
async def fresh(cluster: Cluster, tmp_path: Path) -> AsyncIterator[tuple[str, EventLog]]:
    """A topic prefix of its own: (worker URL, a log to submit to and read with)."""
    url = cluster.url(f"faults-{uuid.uuid4().hex[:8]}.")
    log = open_log(url.replace("timeout=5", "timeout=30"))
    await log.create_topics()
    try:
        yield url, log
    finally:
        await log.close()


async def test_sigterm__exits_0_at_a_step_boundary_and_hands_over_at_once(
    cluster: Cluster, fresh: tuple[str, EventLog], tmp_path: Path
) -> None:
    url, log = fresh
    load = await Load.submit(log, tmp_path, 24, sleep_s=0.3, durability="batched")
    out1, out2 = tmp_path / "w1.log", tmp_path / "w2.log"
    w1 = start_worker(url, out1, env=WORKER_ENV)
    w2 = start_worker(url, out2, env=WORKER_ENV)
    try:
        wait_lines(load.effects, 30)
        w1.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        w1.wait(30)
        took = time.monotonic() - sent
        exited = time.time()
        assert w1.returncode == 0, tail(out1)
        statuses = await load.wait_finished(log, 240)
        assert w2.poll() is None, tail(out2)
    finally:
        stop(w1)
        stop(w2)
    assert set(statuses.values()) == {"completed"}, (statuses, tail(out2))
    effects = Effects(load.effects)
    assert effects.overlaps() == []
    assert effects.reruns() == 0, effects.counts()  # handed over at boundaries: none repeat
    # worker 2 took over worker 1's executions: how soon after worker 1 left
    mine = {r.key for r in effects.runs if r.pid != w2.pid and r.pid != w1.pid}
    assert not mine
    moved = {r.key for r in effects.runs if r.pid == w1.pid}
    later = [r.start for r in effects.runs if r.pid == w2.pid and r.key in moved]
    taken = min((t for t in later if t >= exited - 1), default=None)
    assert "stopping runs at their step boundaries" in out1.read_text()
    print(
        f"SIGTERM: exit 0 after {took:.1f} s; partitions taken over after "
        f"{(taken - exited) if taken else float('nan'):.1f} s"
    )
    assert took < 15, tail(out1)
    if taken is not None:
        assert taken - exited < 6, "worker 1 did not leave the group (session timeout 6 s)"


async def test_sigstop_past_the_session__the_returning_worker_starts_and_records_nothing(
    cluster: Cluster, fresh: tuple[str, EventLog], tmp_path: Path
) -> None:
    url, log = fresh
    load = await Load.submit(log, tmp_path, 24, sleep_s=0.3)
    out1, out2 = tmp_path / "w1.log", tmp_path / "w2.log"
    w1 = start_worker(url, out1, env=WORKER_ENV)
    w2 = start_worker(url, out2, env=WORKER_ENV)
    try:
        wait_lines(load.effects, 20)
        w1.send_signal(signal.SIGSTOP)
        stopped = time.time()
        await asyncio.sleep(12)  # twice the 6 s session: worker 2 takes every partition
        w1.send_signal(signal.SIGCONT)
        resumed = time.time()
        statuses = await load.wait_finished(log, 240)
        alive = w1.poll() is None and w2.poll() is None
    finally:
        stop(w1)
        stop(w2)
    logs = tail(out1) + "\n" + tail(out2)
    assert alive, logs
    assert set(statuses.values()) == {"completed"}, (statuses, logs)
    effects = Effects(load.effects)
    taken = {r.key for r in effects.runs if r.pid == w2.pid and stopped < r.start < resumed}
    # worker 1 came back a stranger to what worker 2 took: it runs no step of those again
    # from its stale state (once it has rejoined, the group may give some back to it: it
    # then goes on from the log, after the steps worker 2 did)
    done_by_w2 = {(r.key, r.step): r.end for r in effects.runs if r.pid == w2.pid and r.end}
    zombie = [
        r
        for r in effects.runs
        if r.pid == w1.pid
        and r.start > resumed
        and done_by_w2.get((r.key, r.step), r.start) < r.start
    ]
    assert zombie == [], logs
    # the only steps that ran twice at once are those worker 1 was in when it stopped (a
    # thread cannot be taken back): worker 2 ran them again, as after a crash
    in_flight = [(a, b) for a, b in effects.overlaps() if min(a.start, b.start) < stopped]
    assert len(in_flight) == len(effects.overlaps()), effects.overlaps()
    assert len(in_flight) <= 4, in_flight  # its concurrency
    # what worker 1 had in flight when it stopped may still land after worker 2 took over
    # (aiokafka sends it when the process moves again); it carries lower seq numbers than
    # worker 2's (SEQ_JUMP), so every fold drops it: each step completed once as read
    late, twice = 0, []
    for ex in load.ids:
        applied: dict[int, int] = {}
        done: collections.Counter[tuple[int, int]] = collections.Counter()
        for record in await log.read_execution(ex):
            event = record.event()
            if already_applied(event, applied):
                late += event.type == "step.completed"
                continue
            applied = mark_applied(event, applied)
            if isinstance(event, StepCompleted):
                done[(event.attempt, event.payload.index)] += 1
        twice += [(ex, step) for step, n in done.items() if n > 1]
    assert twice == [], logs
    assert "stood still" in out1.read_text(), logs
    print(
        f"SIGSTOP 12 s: {len(taken)} executions taken over, {len(in_flight)} in-flight "
        f"steps ran again at the same time, 0 started after the return, {late} late "
        "step results dropped by the folds"
    )


async def test_stall__workers_wait_and_steps_repeat_within_the_bound(
    cluster: Cluster, fresh: tuple[str, EventLog], tmp_path: Path
) -> None:
    url, log = fresh
    concurrency, workers = 4, 2
    load = await Load.submit(log, tmp_path, 40, sleep_s=0.2, durability="batched")
    outs = [tmp_path / f"w{i}.log" for i in range(workers)]
    procs = [start_worker(url, out, concurrency=concurrency, env=WORKER_ENV) for out in outs]
    try:
        wait_lines(load.effects, 40)
        cluster.signal_all(signal.SIGSTOP)  # the whole log stalls, past the 5 s timeout
        stalled = time.time()
        await asyncio.sleep(15)
        cluster.signal_all(signal.SIGCONT)
        resumed = time.time()
        statuses = await load.wait_finished(log, 300)
        alive = [p.poll() is None for p in procs]
    finally:
        for proc in procs:
            stop(proc)
    logs = "\n".join(tail(out) for out in outs)
    assert all(alive), logs
    effects = Effects(load.effects)
    assert effects.overlaps() == []
    # steps started during the stall beyond the first one per running execution: none (the
    # runner holds the next step while the last one's results are unwritten)
    during = [r for r in effects.runs if stalled + 1 < r.start < resumed]
    per_execution = max(effects.counts().values()) - 1
    print(
        f"stall 15 s: {effects.reruns()} steps repeated, {len(during)} started in the "
        f"stall, at most {per_execution} repeat per step"
    )
    assert len(during) == 0, (during, logs)
    # the bound (README, "What a crash can lose"): a write that failed repeats the step
    # running then and the step completed within the 20 ms window before it started, so at
    # most 2 per execution running when the log stalled
    assert effects.reruns() <= 2 * concurrency * workers, effects.counts()
    assert any("log unavailable" in out.read_text() for out in outs), logs
    stuck = [ex for ex, status in statuses.items() if status != "completed"]
    if stuck:
        report = await stuck_report(log, cluster.bootstrap, url_group(url), stuck)
        # issue 19, open: in 1 of 5 runs (2026-12-01) 2 of 40 executions were never resumed
        # after the sessions expired in the stall, their run command left uncommitted
        # (docs/kafka-faults.md); everything above is checked first, whatever happens here
        pytest.xfail(f"the open hand-over race: not completed:\n{report}\n{logs}")


def url_group(url: str) -> str:
    return url.split("topic_prefix=")[1].split("&")[0] + GROUP


async def leader_of_quorum(kafka_tool: Any, bootstrap: str) -> int:
    done = await kafka_tool(
        "org.apache.kafka.tools.MetadataQuorumCommand",
        ["--bootstrap-server", bootstrap, "describe", "--status"],
        None,
        90,
    )
    found = re.search(rb"LeaderId:\s+(\d+)", done.stdout)
    assert found, done.stdout + done.stderr
    return int(found.group(1))


async def prefix_coordinated_by(bootstrap: str, node: int) -> str:
    """A topic prefix whose executor group's coordinator is ``node``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=20000)
    await admin.start()
    try:
        for _ in range(200):
            prefix = f"faults-{uuid.uuid4().hex[:8]}."
            try:
                if await admin.find_coordinator(prefix + GROUP) == node:
                    return prefix
            except Exception:  # __consumer_offsets is being created on the first ask
                await asyncio.sleep(0.5)
    finally:
        await admin.close()
    raise AssertionError(f"no prefix coordinated by node {node}")


async def test_coordinator_and_controller_killed__workers_ride_it_out(
    cluster: Cluster, kafka_tool: Any, tmp_path: Path
) -> None:
    node = await leader_of_quorum(kafka_tool, cluster.bootstrap)
    url = cluster.url(await prefix_coordinated_by(cluster.bootstrap, node))
    log = open_log(url.replace("timeout=5", "timeout=30"))
    await log.create_topics()
    load = await Load.submit(log, tmp_path, 40, sleep_s=0.3, durability="batched")
    outs = [tmp_path / f"w{i}.log" for i in range(2)]
    procs = [start_worker(url, out, env=WORKER_ENV) for out in outs]
    try:
        wait_lines(load.effects, 40)
        os.kill(cluster.pid(node), signal.SIGKILL)
        killed = time.monotonic()
        statuses = await load.wait_finished(log, 300)
        took = time.monotonic() - killed
        alive = [p.poll() is None for p in procs]
    finally:
        for proc in procs:
            stop(proc)
        await log.close()
        cluster.broker_sh("up", "--nodes", "3")  # node back for the next tests
    logs = "\n".join(tail(out) for out in outs)
    assert all(alive), logs
    assert set(statuses.values()) == {"completed"}, (statuses, logs)
    effects = Effects(load.effects)
    assert effects.overlaps() == []
    print(
        f"node {node} (coordinator + controller) killed: all {len(load.ids)} completed "
        f"{took:.0f} s later, {effects.reruns()} steps repeated"
    )
