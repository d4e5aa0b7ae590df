-- One row per finished step (step.completed or step.failed).
-- Sort key: tenant, then workflow and step, the keys `latency` and `failures` group by, then
-- time for --since/--until ranges inside them.
CREATE TABLE IF NOT EXISTS steps (
    tenant_id    LowCardinality(String),
    workflow     LowCardinality(String),
    version      LowCardinality(String),
    execution_id String,
    attempt      UInt16,
    step         LowCardinality(String),
    agent        LowCardinality(String),
    framework    LowCardinality(String),
    status       LowCardinality(String),
    error_type   LowCardinality(String),
    started_at   DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    ended_at     DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    duration_ms  Float64 CODEC(Gorilla, ZSTD(1)),
    event_id     UUID,
    partition    UInt16,
    offset       UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ended_at)
ORDER BY (tenant_id, workflow, step, ended_at)
SETTINGS non_replicated_deduplication_window = 10000
