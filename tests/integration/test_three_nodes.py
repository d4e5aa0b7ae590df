"""On a 3-node cluster, omium's topics are replicated 3 times with min.insync.replicas=2,
and appends (acks=all) keep working, losing nothing, when one node dies.

The module starts its own cluster with the project's script, on other ports (29092-29094,
controllers 29192-29194) and in a pytest tmp dir, so it never touches the 1-node broker
``make test`` runs. ``broker.sh down`` runs on teardown whatever happened. The last test
kills node 3. Deselect the module with ``-m "not three_nodes"``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from omium.producers import partition_for
from omium.producers.kafka import KafkaLog
from omium.schemas import StepStarted
from omium.schemas.topics import TOPICS

pytestmark = [pytest.mark.kafka, pytest.mark.three_nodes, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
BROKER_SH = REPO / "infra" / "kafka" / "broker.sh"
PORT = 29092
NODES = 3
EVENTS = "omium.events"


@dataclass(frozen=True)
class Cluster:
    state: Path
    bootstrap: str

    def pid(self, node: int) -> int:
        """The pid broker.sh recorded for ``node``."""
        return int((self.state / f"node-{node}" / "kafka.pid").read_text().strip())

    def log_tail(self, node: int, lines: int = 30) -> str:
        log = self.state / f"node-{node}" / "kafka.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="module")
def cluster(
    kafka_bootstrap: str,  # only for its skip-locally / fail-in-CI rule
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cluster]:
    state = tmp_path_factory.mktemp("kafka3")
    env = {k: v for k, v in os.environ.items() if k != "OMIUM_KAFKA_CONTROLLER_PORT"}
    # broker.sh gives up after OMIUM_KAFKA_TIMEOUT, before our own timeout of 120 s.
    env |= {"OMIUM_KAFKA_PORT": str(PORT), "OMIUM_KAFKA_DIR": str(state)}
    env |= {"OMIUM_KAFKA_TIMEOUT": "100"}
    bootstrap = ",".join(f"127.0.0.1:{PORT + i}" for i in range(NODES))
    try:
        started = time.monotonic()
        up = subprocess.run(
            [str(BROKER_SH), "up", "--nodes", str(NODES)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert up.returncode == 0, f"broker.sh up --nodes 3 failed:\n{up.stdout}\n{up.stderr}"
        print(f"3-node cluster up in {time.monotonic() - started:.1f} s")
        yield Cluster(state, bootstrap)
    finally:
        down = subprocess.run(
            [str(BROKER_SH), "down"], env=env, capture_output=True, text=True, timeout=90
        )
        assert down.returncode == 0, f"broker.sh down failed:\n{down.stdout}\n{down.stderr}"


@pytest.fixture
async def log(cluster: Cluster) -> AsyncIterator[KafkaLog]:
    # Generous timeout: after a node dies, a leader moves and the ISR shrinks first.
    event_log = KafkaLog(
        cluster.bootstrap, topic_prefix=f"three-{uuid.uuid4().hex[:10]}.", timeout=45
    )
    await event_log.create_topics()
    try:
        yield event_log
    finally:
        await event_log.close()


async def describe(cluster: Cluster, topics: list[str]) -> dict[str, dict[int, dict[str, Any]]]:
    """topic -> partition -> {'leader', 'replicas', 'isr'} from the cluster's metadata."""
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap, request_timeout_ms=20000)
    await admin.start()
    try:
        # A topic created a moment ago may not have reached the broker that answers yet
        # (error 3, UNKNOWN_TOPIC_OR_PARTITION): ask again for a while.
        for _ in range(40):
            found = await admin.describe_topics(topics)
            if all(topic["error_code"] == 0 for topic in found):
                break
            await asyncio.sleep(0.25)
    finally:
        await admin.close()
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for topic in found:
        assert topic["error_code"] == 0, topic
        out[topic["topic"]] = {
            p["partition"]: {"leader": p["leader"], "replicas": p["replicas"], "isr": p["isr"]}
            for p in topic["partitions"]
        }
    return out


async def topic_configs(cluster: Cluster, topics: list[str]) -> dict[str, dict[str, str]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap, request_timeout_ms=20000)
    await admin.start()
    try:
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t) for t in topics]
        )
    finally:
        await admin.close()
    out: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.to_object()["resources"]:
            assert resource["error_code"] == 0, resource
            out[resource["resource_name"]] = {
                c["config_names"]: c["config_value"] for c in resource["config_entries"]
            }
    return out


def dead(pid: int) -> bool:
    """Gone, or a zombie nobody reaped yet (the broker's parent shell has exited)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def started(execution_id: str, seq: int) -> StepStarted:
    return StepStarted(execution_id=execution_id, seq=seq, payload={"step": "s", "index": seq})


def execution_on(partition: int, partitions: int = 12) -> str:
    """A fresh execution id whose events go to ``partition``."""
    while True:
        ex = f"ex-{uuid.uuid4().hex[:10]}"
        if partition_for(ex, partitions) == partition:
            return ex


async def test_create_topics__replication_3_and_min_insync_2(
    cluster: Cluster, log: KafkaLog
) -> None:
    names = [log.physical(spec.name) for spec in TOPICS]
    topics = await describe(cluster, names)
    for spec in TOPICS:
        partitions = topics[log.physical(spec.name)]
        assert sorted(partitions) == list(range(spec.partitions)), spec.name
        for p in partitions.values():
            assert sorted(p["replicas"]) == [1, 2, 3], (spec.name, p)
            assert sorted(p["isr"]) == [1, 2, 3], (spec.name, p)
    # Leaders are spread over the nodes, not all on one.
    assert len({p["leader"] for p in topics[log.physical(EVENTS)].values()}) == NODES

    configs = await topic_configs(cluster, names)
    for name in names:
        assert configs[name]["min.insync.replicas"] == "2", name
        assert configs[name]["retention.ms"] in ("-1", str(30 * 86400000), str(90 * 86400000))


async def test_append__acks_all_on_three_replicas_reads_back(log: KafkaLog) -> None:
    executions = [f"ex-{uuid.uuid4().hex[:10]}" for _ in range(4)]
    events = [started(ex, seq) for seq in range(1, 11) for ex in executions]
    positions = await log.append_batch(events)
    assert len(positions) == len(events)
    for ex in executions:
        records = await log.read_execution(ex)
        assert [r.event().seq for r in records] == list(range(1, 11))


async def test_one_node_down__appends_still_succeed_and_nothing_is_lost(
    cluster: Cluster, log: KafkaLog
) -> None:
    before_kill = (await describe(cluster, [log.physical(EVENTS)]))[log.physical(EVENTS)]
    led_by_3 = [p for p, d in sorted(before_kill.items()) if d["leader"] == 3]
    led_by_others = [p for p, d in sorted(before_kill.items()) if d["leader"] != 3]
    assert led_by_3 and led_by_others, before_kill
    # Executions on partitions node 3 leads (they must fail over) and on the others.
    executions = [execution_on(led_by_3[0]), execution_on(led_by_3[-1])]
    executions += [execution_on(led_by_others[0]), execution_on(led_by_others[-1])]

    await log.append_batch([started(ex, s) for s in range(1, 21) for ex in executions])
    # Every node has the records: acks=all waited for all three in-sync replicas.
    ends = await log.end_offsets(EVENTS)

    # Node 3 dies the hard way: no controlled shutdown, no leadership hand-over.
    pid = cluster.pid(3)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while not dead(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert dead(pid), f"node 3 (pid {pid}) still alive after SIGKILL"

    t0 = time.monotonic()
    positions = await log.append_batch([started(ex, s) for s in range(21, 41) for ex in executions])
    failover = time.monotonic() - t0
    print(f"first acks=all append after node 3 died took {failover:.1f} s")
    assert len(positions) == 80

    after = (await describe(cluster, [log.physical(EVENTS)]))[log.physical(EVENTS)]
    for p, d in after.items():
        assert d["leader"] in (1, 2), (p, d)
        assert sorted(d["isr"]) == [1, 2], (p, d)  # two in-sync replicas remain
        assert sorted(d["replicas"]) == [1, 2, 3], (p, d)

    # Everything appended before the kill is still there, once, in order, then the rest.
    for ex in executions:
        records = await log.read_execution(ex)
        assert [r.event().seq for r in records] == list(range(1, 41)), ex
    for p, end in ends.items():
        assert (await log.end_offsets(EVENTS))[p] >= end
    # A fresh client (new metadata, new connections) sees the same.
    fresh = KafkaLog(cluster.bootstrap, topic_prefix=log.prefix, timeout=45, create_topics=False)
    try:
        for ex in executions[:2]:
            records = await fresh.read_execution(ex)
            assert [r.event().seq for r in records] == list(range(1, 41)), ex
    finally:
        await fresh.close()
