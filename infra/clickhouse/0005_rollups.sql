-- Hourly rollups, kept by materialized views as rows arrive: for dashboards and long
-- ranges (the named questions read the base tables, exact to the millisecond). A sink
-- redoing a batch inserts with deduplicate_blocks_in_dependent_materialized_views = 1, so
-- these tables, deduplicating too, do not count a redone batch twice.
CREATE TABLE IF NOT EXISTS steps_hourly (
    tenant_id   LowCardinality(String),
    workflow    LowCardinality(String),
    step        LowCardinality(String),
    hour        DateTime('UTC'),
    steps       SimpleAggregateFunction(sum, UInt64),
    failed      SimpleAggregateFunction(sum, UInt64),
    duration    AggregateFunction(quantiles(0.5, 0.95, 0.99), Float64)
)
ENGINE = AggregatingMergeTree
ORDER BY (tenant_id, workflow, step, hour)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS steps_hourly_mv TO steps_hourly AS
SELECT tenant_id, workflow, step, toStartOfHour(ended_at) AS hour,
       count() AS steps, countIf(status = 'failed') AS failed,
       quantilesState(0.5, 0.95, 0.99)(duration_ms) AS duration
FROM steps GROUP BY tenant_id, workflow, step, hour;

CREATE TABLE IF NOT EXISTS llm_calls_hourly (
    tenant_id     LowCardinality(String),
    model         LowCardinality(String),
    hour          DateTime('UTC'),
    calls         UInt64,
    input_tokens  UInt64,
    output_tokens UInt64,
    cost_usd      Float64
)
ENGINE = SummingMergeTree
ORDER BY (tenant_id, model, hour)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_calls_hourly_mv TO llm_calls_hourly AS
SELECT tenant_id, model, toStartOfHour(ts) AS hour, count() AS calls,
       sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
       sum(cost_usd) AS cost_usd
FROM llm_calls GROUP BY tenant_id, model, hour
