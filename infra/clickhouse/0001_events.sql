-- Every event of omium.events, one row each, with the log position it was read from.
-- Sort key: tenant first (every read is scoped to one), then the execution and its order, so
-- one run's history is one contiguous range; the named questions read the derived tables.
-- Monthly partitions keep parts few; Delta suits the increasing offsets and times.
CREATE TABLE IF NOT EXISTS events (
    tenant_id    LowCardinality(String),
    execution_id String,
    attempt      UInt16,
    seq          UInt32,
    type         LowCardinality(String),
    ts           DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    event_id     UUID,
    causation_id Nullable(UUID),
    topic        LowCardinality(String),
    partition    UInt16,
    offset       UInt64 CODEC(Delta, ZSTD(1)),
    payload      String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (tenant_id, execution_id, attempt, seq)
-- insert_deduplication_token is honoured by a plain MergeTree only within this window
SETTINGS non_replicated_deduplication_window = 10000
