"""The framework adapters' benchmark: what omium adds to a LangGraph superstep and a crew.

1. Per-superstep overhead of ``OmiumSaver`` against no checkpointer, ``InMemorySaver``,
   ``SqliteSaver`` and ``AsyncSqliteSaver`` (file, WAL) on one trivial node looped N times,
   durability async and sync, on the embedded SQLite log and (with a broker) on Kafka:
   :mod:`bench_langgraph` (``make bench-peers`` adds the log at ``synchronous=FULL``).
2. A scripted CrewAI crew's kickoff with and without omium: :mod:`bench_crewai`.

Prints tables (medians and ratios measured in the same run); asserts nothing about time.

    make bench-adapters     # starts the broker; or:
    .venv/bin/python tests/bench/bench_adapters.py [--steps 2000] [--rounds 5] [--kafka H:P]
"""

from __future__ import annotations

import argparse
import asyncio
import os

import bench_crewai
import bench_langgraph

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--crew-rounds", type=int, default=15)
    parser.add_argument("--kafka", default=os.environ.get("OMIUM_TEST_KAFKA"))
    args = parser.parse_args()
    asyncio.run(bench_langgraph.main(args.steps, args.rounds, args.kafka))
    asyncio.run(bench_crewai.main(args.crew_rounds))
