-- `cost` and `failures` over millions of rows: summing the base tables when asked took 1-4 s
-- over 10M steps on 2 busy cores. As 0008 did for `latency`, daily rollups keep the sums of
-- each day, and a question adds the rows of its window's partial first and last days read
-- from the base tables. Counts and token sums stay exact (integer sums in any order);
-- cost_usd is a Float64 sum, equal to the direct sum up to rounding (~1e-15 relative).
-- Sort keys: tenant (every question is one tenant's), day (the window), then the keys the
-- questions group by.

-- `cost --by model|workflow|day|agent` (`--by execution` reads llm_calls: one cell each).
CREATE TABLE IF NOT EXISTS llm_calls_daily (
    tenant_id     LowCardinality(String),
    day           DateTime('UTC'),
    workflow      LowCardinality(String),
    model         LowCardinality(String),
    agent         LowCardinality(String),
    calls         SimpleAggregateFunction(sum, UInt64),
    input_tokens  SimpleAggregateFunction(sum, UInt64),
    output_tokens SimpleAggregateFunction(sum, UInt64),
    cost_usd      SimpleAggregateFunction(sum, Float64)
)
ENGINE = AggregatingMergeTree
ORDER BY (tenant_id, day, workflow, model, agent)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_calls_daily_mv TO llm_calls_daily AS
SELECT tenant_id, toStartOfDay(ts) AS day, workflow, model, agent, count() AS calls,
       sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
       sum(cost_usd) AS cost_usd
FROM llm_calls GROUP BY tenant_id, day, workflow, model, agent;

-- `failures --by step`: the first-run and first-failure marks (0007) summed, and the failed
-- rows per error type (for top_error), per day, workflow, step and error type.
CREATE TABLE IF NOT EXISTS steps_failures_daily (
    tenant_id      LowCardinality(String),
    day            DateTime('UTC'),
    workflow       LowCardinality(String),
    step           LowCardinality(String),
    error_type     LowCardinality(String),
    first_runs     SimpleAggregateFunction(sum, UInt64),
    first_failures SimpleAggregateFunction(sum, UInt64),
    failed         SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
ORDER BY (tenant_id, day, workflow, step, error_type)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS steps_failures_daily_mv TO steps_failures_daily AS
SELECT tenant_id, toStartOfDay(ended_at) AS day, workflow, step, error_type,
       sum(first_run) AS first_runs, sum(first_failure) AS first_failures,
       countIf(status = 'failed') AS failed
FROM steps GROUP BY tenant_id, day, workflow, step, error_type;

-- `failures --by workflow` counts executions by their latest state, which `executions`
-- holds as versions read with FINAL (2-4 s over 1.25M executions). The sink also writes,
-- for each execution a batch changes, what changed in the state the question groups by:
-- -1 for the stored (time, workflow, status, error type), +1 for the new one, where the
-- time is coalesce(started_at, submitted_at, ended_at), the question's. Summed, the changes
-- of an execution leave +1 on its latest state, so the window's sum is the FINAL count.
-- The rows are written before `executions` (a redone batch reads the state it began from).
-- Sort key: tenant, time (the partial days are ranges of it); summing merges cancel pairs.
CREATE TABLE IF NOT EXISTS execution_changes (
    tenant_id  LowCardinality(String),
    at         DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    workflow   LowCardinality(String),
    status     LowCardinality(String),
    error_type LowCardinality(String),
    change     Int64
)
ENGINE = SummingMergeTree(change)
PARTITION BY toYYYYMM(at)
ORDER BY (tenant_id, at, workflow, status, error_type)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS executions_daily (
    tenant_id  LowCardinality(String),
    day        DateTime('UTC'),
    workflow   LowCardinality(String),
    status     LowCardinality(String),
    error_type LowCardinality(String),
    executions SimpleAggregateFunction(sum, Int64)
)
ENGINE = AggregatingMergeTree
ORDER BY (tenant_id, day, workflow, status, error_type)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS executions_daily_mv TO executions_daily AS
SELECT tenant_id, toStartOfDay(at) AS day, workflow, status, error_type,
       sum(change) AS executions
FROM execution_changes GROUP BY tenant_id, day, workflow, status, error_type;

-- A store from before this migration keeps its rows: the rollups are filled from the base
-- tables (emptied first, so a migration cut short runs again cleanly). Nothing else writes
-- meanwhile: the sink migrates before it writes, in the same session.
TRUNCATE TABLE IF EXISTS llm_calls_daily SYNC;
TRUNCATE TABLE IF EXISTS steps_failures_daily SYNC;
TRUNCATE TABLE IF EXISTS execution_changes SYNC;
TRUNCATE TABLE IF EXISTS executions_daily SYNC;

INSERT INTO llm_calls_daily
SELECT tenant_id, toStartOfDay(ts) AS day, workflow, model, agent, count(),
       sum(input_tokens), sum(output_tokens), sum(cost_usd)
FROM llm_calls GROUP BY tenant_id, day, workflow, model, agent;

INSERT INTO steps_failures_daily
SELECT tenant_id, toStartOfDay(ended_at) AS day, workflow, step, error_type,
       sum(first_run), sum(first_failure), countIf(status = 'failed')
FROM steps GROUP BY tenant_id, day, workflow, step, error_type;

INSERT INTO execution_changes
SELECT tenant_id, assumeNotNull(coalesce(started_at, submitted_at, ended_at)) AS at,
       workflow, status, error_type, 1
FROM executions FINAL WHERE coalesce(started_at, submitted_at, ended_at) IS NOT NULL;
