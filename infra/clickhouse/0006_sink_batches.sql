-- Where the sink is in the log, stored with the data it wrote. Each batch is recorded twice:
-- `planned` (its exact ranges, before any row is written) and `committed` (after every
-- table has its rows). A sink that finds its newest batch planned but not committed writes
-- that same batch again with the same insert_deduplication_token per table, so what the
-- crashed attempt wrote is not written twice.
CREATE TABLE IF NOT EXISTS sink_batches (
    consumer   LowCardinality(String),
    batch      UInt64,
    state      Enum8('planned' = 1, 'committed' = 2),
    topic      LowCardinality(String),
    partitions Array(UInt16),
    starts     Array(UInt64),
    ends       Array(UInt64),
    at         DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (consumer, batch, state)
SETTINGS non_replicated_deduplication_window = 10000
