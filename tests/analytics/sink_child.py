"""A sink in a process of its own that SIGKILLs itself at random moves of its batches.

``python sink_child.py LOG_DB STORE_URL SEED P ROWS``: after each move of a batch (planned,
each table's insert, committed) it dies with probability P, and writes where it died to
``LOG_DB.kills`` first. At its first move it makes ``LOG_DB.ready-SEED``.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys

from omium.processors.analytics import AnalyticsSink, open_place
from omium.producers import open_log


def main(log_path: str, url: str, seed: int, p: float, rows: int) -> None:
    rng = random.Random(seed)

    def stage(name: str) -> None:
        ready = f"{log_path}.ready-{seed}"
        if not os.path.exists(ready):  # the engine is up and a batch is under way
            open(ready, "w").close()
        if rng.random() < p:
            with open(log_path + ".kills", "a") as out:
                out.write(name + "\n")
            os.kill(os.getpid(), signal.SIGKILL)

    async def run() -> None:
        log = open_log(f"sqlite:///{log_path}")
        sink = AnalyticsSink(log, open_place(url=url), rows=rows, within=0.2, stage=stage)
        await sink.run(asyncio.Event())

    asyncio.run(run())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]))
