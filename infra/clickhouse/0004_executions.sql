-- The latest state of each execution: the sink writes a whole row for every execution a
-- batch touches, versioned by the log offset of its newest event, so the row with the
-- highest offset wins (read with FINAL). Sort key: tenant, execution (the replacing key).
CREATE TABLE IF NOT EXISTS executions (
    tenant_id     LowCardinality(String),
    execution_id  String,
    workflow      LowCardinality(String),
    version       LowCardinality(String),
    framework     LowCardinality(String),
    status        LowCardinality(String),
    attempt       UInt16,
    submitted_at  Nullable(DateTime64(3, 'UTC')),
    started_at    Nullable(DateTime64(3, 'UTC')),
    ended_at      Nullable(DateTime64(3, 'UTC')),
    steps         UInt32,
    failed_steps  UInt32,
    llm_calls     UInt32,
    input_tokens  UInt64,
    output_tokens UInt64,
    cost_usd      Float64,
    error_type    LowCardinality(String),
    failed_step   LowCardinality(String),
    step_agents   Map(String, String),
    last_offset   UInt64
)
ENGINE = ReplacingMergeTree(last_offset)
ORDER BY (tenant_id, execution_id)
SETTINGS non_replicated_deduplication_window = 10000
