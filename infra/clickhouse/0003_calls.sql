-- One row per llm.call; cost_usd is priced at ingest from omium's price table when the
-- event carries none (a price change is applied by `omium analytics rebuild`).
-- Sort key: tenant, then model (what `cost --by model` groups by), then time.
CREATE TABLE IF NOT EXISTS llm_calls (
    tenant_id     LowCardinality(String),
    workflow      LowCardinality(String),
    execution_id  String,
    attempt       UInt16,
    model         LowCardinality(String),
    provider      LowCardinality(String),
    agent         LowCardinality(String),
    step          LowCardinality(String),
    input_tokens  UInt32,
    output_tokens UInt32,
    cost_usd      Float64,
    latency_ms    Float64 CODEC(Gorilla, ZSTD(1)),
    error_type    LowCardinality(String),
    ts            DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    event_id      UUID,
    partition     UInt16,
    offset        UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (tenant_id, model, ts)
SETTINGS non_replicated_deduplication_window = 10000;

-- One row per tool.call. Sort key: tenant, tool (what `tools` groups by), time.
CREATE TABLE IF NOT EXISTS tool_calls (
    tenant_id    LowCardinality(String),
    workflow     LowCardinality(String),
    execution_id String,
    attempt      UInt16,
    tool         LowCardinality(String),
    agent        LowCardinality(String),
    step         LowCardinality(String),
    latency_ms   Float64 CODEC(Gorilla, ZSTD(1)),
    error_type   LowCardinality(String),
    ts           DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    event_id     UUID,
    partition    UInt16,
    offset       UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (tenant_id, tool, ts)
SETTINGS non_replicated_deduplication_window = 10000
