"""A page of the newest executions, against reading every view, on Kafka and embedded.

``GET /executions`` and ``omium executions list --limit`` ask for the newest ``limit``
submissions. The baseline is what listing cost before: every view (the whole changelog on
Kafka, every row of the view store embedded), measured in the same run. The views are real
folds of a 12-event execution (about 1.5 KiB stored), written over time as faust writes
them: in submission order, with a fifth of older executions updated again later.

Rows: the first page (50), the page after it (cursor), a page of one status that 5% of the
executions have, and the baseline. Medians of REPEAT cold reads (a fresh reader each time).
Prints one table; asserts nothing about time.

usage: python tests/bench/bench_listing.py [--kafka HOST:PORT] [--executions N] [--repeat R]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from bench_projections import execution_events

from omium.processors.changelog import ChangelogReader
from omium.processors.listing import Listing, listing_key
from omium.processors.view_store import SqliteViews
from omium.producers import open_log
from omium.producers.partitioner import partition_for
from omium.projections import ExecutionView, fold, view_to_dict, without_states
from omium.schemas.topics import VIEWS_CHANGELOG

PAGE = 50


def views(n: int) -> list[ExecutionView]:
    """``n`` views in submission order, a second apart up to now (5% failed, others completed)."""
    template = without_states(fold(execution_events("template", 12)))
    start = datetime.now(UTC) - timedelta(seconds=n)
    rng = random.Random(3)
    return [
        replace(
            template,
            execution_id=f"ex-{i:07d}",
            status="failed" if rng.random() < 0.05 else "completed",
            submitted_at=start + timedelta(seconds=i),
        )
        for i in range(n)
    ]


async def fill_changelog(bootstrap: str, topic: str, all_views: list[ExecutionView]) -> int:
    """Write the views as faust would have over their history; returns the records written.

    Each record carries the time faust would have written it (CreateTime): a view when its
    execution was submitted, and a fifth of them again up to ten minutes later. aiokafka
    directly, since the log's appends are stamped with the present.
    """
    rng = random.Random(4)
    writes = [(v.submitted_at, v) for v in all_views]
    writes += [
        (v.submitted_at + timedelta(seconds=rng.uniform(1, 600)), v)
        for v in rng.sample(all_views, len(all_views) // 5)
    ]
    writes.sort(key=lambda w: w[0])  # type: ignore[arg-type,return-value]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    try:
        pending = []
        for at, view in writes:
            assert at is not None
            pending.append(
                await producer.send(
                    topic,
                    key=view.execution_id.encode(),
                    value=orjson.dumps(view_to_dict(view)),
                    partition=partition_for(view.execution_id, VIEWS_CHANGELOG.partitions),
                    timestamp_ms=int(at.timestamp() * 1000),
                )
            )
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return len(writes)


async def median_ms(read: Callable[[], Awaitable[Any]], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        await read()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


async def bench(
    name: str,
    newest: Callable[[Listing], Awaitable[list[ExecutionView]]],
    everything: Callable[[], Awaitable[list[ExecutionView]]],
    repeat: int,
) -> list[tuple[str, str, float]]:
    first = await newest(Listing(PAGE))
    cursor = listing_key(first[-1])
    rows = [
        ("first page", await median_ms(lambda: newest(Listing(PAGE)), repeat)),
        ("next page", await median_ms(lambda: newest(Listing(PAGE, before=cursor)), repeat)),
        (
            "a page of failed",
            await median_ms(lambda: newest(Listing(PAGE, status="failed")), repeat),
        ),
        ("every view (baseline)", await median_ms(everything, max(1, repeat // 3))),
    ]
    return [(name, what, ms) for what, ms in rows]


async def kafka_rows(bootstrap: str, all_views: list[ExecutionView], repeat: int) -> list[Any]:
    prefix = f"bench-list-{uuid.uuid4().hex[:8]}."
    log = open_log(f"kafka://{bootstrap}?topic_prefix={prefix}&timeout=60")
    try:
        await log.create_topics([VIEWS_CHANGELOG])
        records = await fill_changelog(bootstrap, prefix + VIEWS_CHANGELOG.name, all_views)
        print(f"kafka: {records:,} changelog records", flush=True)

        async def newest(listing: Listing) -> list[ExecutionView]:
            return await ChangelogReader(log).newest(listing)

        async def everything() -> list[ExecutionView]:
            return await ChangelogReader(log).executions()

        return await bench("Kafka changelog", newest, everything, repeat)
    finally:
        await log.close()


async def embedded_rows(folder: Path, all_views: list[ExecutionView], repeat: int) -> list[Any]:
    store = SqliteViews(str(folder / "log.views.db"))
    try:
        with store.transaction():
            store.save({v.execution_id: v for v in all_views}, {})

        async def newest(listing: Listing) -> list[ExecutionView]:
            return store.newest(listing)

        async def everything() -> list[ExecutionView]:
            return store.all()

        return await bench("embedded view store", newest, everything, repeat)
    finally:
        store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kafka", default=os.environ.get("OMIUM_TEST_KAFKA"))
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    all_views = views(args.executions)
    rows: list[tuple[str, str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += await embedded_rows(Path(tmp), all_views, args.repeat)
    if args.kafka:
        rows += await kafka_rows(args.kafka, all_views, args.repeat)
    else:
        print("no --kafka / OMIUM_TEST_KAFKA: the Kafka rows are left out")
    print(
        f"\n{args.executions:,} executions, pages of {PAGE}, medians of {args.repeat} cold reads\n"
    )
    print("| reader | read | median ms | × every view |")
    print("|---|---|---:|---:|")
    baseline = {name: ms for name, what, ms in rows if what.startswith("every view")}
    for name, what, ms in rows:
        print(f"| {name} | {what} | {ms:,.1f} | {ms / baseline[name]:.3f} |")


if __name__ == "__main__":
    asyncio.run(main())
