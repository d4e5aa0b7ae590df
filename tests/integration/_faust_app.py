"""A minimal faust-streaming app for ``test_faust_smoke.py``, run as a worker subprocess.

    python _faust_app.py worker -l info

Configured by the environment (the test gives each run fresh names):

- ``FAUST_SMOKE_BROKER``: ``host:port`` of the Kafka broker;
- ``FAUST_SMOKE_APP_ID``: the app id (also the consumer group and the prefix of its
  internal topics: the table's changelog, the leader topic);
- ``FAUST_SMOKE_SOURCE`` / ``FAUST_SMOKE_SINK``: the topic the agent consumes / writes to
  (both already created by the test, with ``FAUST_SMOKE_PARTITIONS`` partitions);
- ``FAUST_SMOKE_DATADIR``: where faust keeps its local state.

The agent counts the records per key in a Table (changelogged to Kafka) and forwards
every record to the sink as ``<value>:<count of its key so far>``, so the test can check
from outside that every record went through the agent and the table.
"""

from __future__ import annotations

import os

import faust

PARTITIONS = int(os.environ.get("FAUST_SMOKE_PARTITIONS", "2"))

app = faust.App(
    os.environ["FAUST_SMOKE_APP_ID"],
    broker=f"kafka://{os.environ['FAUST_SMOKE_BROKER']}",
    store="memory://",
    datadir=os.environ["FAUST_SMOKE_DATADIR"],
    web_enabled=False,  # no HTTP server, no port opened
    topic_partitions=PARTITIONS,
    topic_replication_factor=1,
    consumer_auto_offset_reset="earliest",
    key_serializer="raw",
    value_serializer="raw",
    producer_acks=-1,
)

source = app.topic(os.environ["FAUST_SMOKE_SOURCE"], partitions=PARTITIONS)
sink = app.topic(os.environ["FAUST_SMOKE_SINK"], partitions=PARTITIONS)
counts = app.Table("counts", default=int, partitions=PARTITIONS)


@app.agent(source)
async def count(stream: faust.StreamT[bytes]) -> None:
    async for key, value in stream.items():
        name = key.decode()
        counts[name] += 1
        await sink.send(key=key, value=value + f":{counts[name]}".encode())
        print(f"faust-smoke: {name}={value.decode()} count={counts[name]}", flush=True)


if __name__ == "__main__":
    app.main()
