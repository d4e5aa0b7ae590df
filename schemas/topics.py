"""The topics omium uses: the one place their names, partitions, retention and policies live.

Part of the published contract (``omium schemas export`` writes them into AsyncAPI); code
names a topic through these specs (``EVENTS.name``), never by a string of its own.

Both logs create topics from these definitions, idempotently: Kafka through its admin API,
the embedded SQLite log as rows with the same partition counts (so a key lands on the same
partition number on both).
"""

from __future__ import annotations

from dataclasses import dataclass, field

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic's definition.

    Attributes:
        name: the logical name; a deployment may prefix it (``?topic_prefix=``).
        partitions: fixed once created: the key -> partition map depends on it.
        key: what the records are keyed by (documentation and AsyncAPI).
        description: what the topic holds.
        retention_ms: -1 keeps records forever.
        cleanup_policy: ``delete`` or ``compact``.
        replication_factor: ``None`` means min(3, brokers in the cluster).
        config: any other Kafka topic configs.
    """

    name: str
    partitions: int
    key: str
    description: str
    retention_ms: int = -1
    cleanup_policy: str = "delete"
    replication_factor: int | None = None
    config: dict[str, str] = field(default_factory=dict)

    def kafka_config(self, replication_factor: int) -> dict[str, str]:
        """Topic configs for Kafka's CreateTopics, given the replication factor in use."""
        configs = {
            "retention.ms": str(self.retention_ms),
            "cleanup.policy": self.cleanup_policy,
            **self.config,
        }
        if replication_factor >= 3:
            # acks=all then survives one broker down and refuses writes with two down.
            configs.setdefault("min.insync.replicas", "2")
        return configs


COMMANDS = TopicSpec(
    name="omium.commands",
    partitions=12,
    key="execution_id",
    description="What users asked for: run, pause, resume, cancel, rollback.",
    retention_ms=30 * DAY_MS,
)
EVENTS = TopicSpec(
    name="omium.events",
    partitions=12,
    key="execution_id",
    description="Every fact, one partition per execution, kept forever: the log is the truth.",
)
ALERTS = TopicSpec(
    name="omium.alerts",
    partitions=3,
    key="rule",
    description="Alerts raised by rule processors, once per condition.",
    retention_ms=90 * DAY_MS,
)
DLQ = TopicSpec(
    name="omium.dlq",
    partitions=3,
    key="original key",
    description="Records that failed validation or processing, with the reason and position.",
    retention_ms=90 * DAY_MS,
)

REGISTRY = TopicSpec(
    name="omium.registry",
    partitions=1,  # few records, read whole by every gateway and CLI: one total order
    key="entity (workflow:NAME)",
    description="What a deployment knows: registered workflow versions.",
)

TOPICS: tuple[TopicSpec, ...] = (COMMANDS, EVENTS, ALERTS, DLQ, REGISTRY)
BY_NAME: dict[str, TopicSpec] = {t.name: t for t in TOPICS}

#: The faust projections app's table changelog (created by omium before faust starts, so
#: that faust never races its own creation; see processors/faust_app.py).
VIEWS_APP = "omium-projections"
VIEWS_CHANGELOG = TopicSpec(
    name=f"{VIEWS_APP}-executions-changelog",
    partitions=EVENTS.partitions,  # co-partitioned: a view sits on its events' partition
    key="execution_id",
    description="the latest stored view of each execution (a compacted faust changelog)",
    cleanup_policy="compact",
)
