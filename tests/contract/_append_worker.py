"""Appends events from a separate process (the contract's multi-process test).

usage: python _append_worker.py URL EXECUTION_PREFIX EXECUTIONS EVENTS_EACH
"""

import asyncio
import sys

from omium.producers import open_log
from omium.schemas import StepStarted


async def main(url: str, prefix: str, executions: int, each: int) -> None:
    log = open_log(url)
    try:
        for seq in range(1, each + 1):
            await log.append_batch(
                [
                    StepStarted(
                        execution_id=f"{prefix}-{e}", seq=seq, payload={"step": "s", "index": seq}
                    )
                    for e in range(executions)
                ]
            )
    finally:
        await log.close()


if __name__ == "__main__":
    url, prefix, executions, each = sys.argv[1:5]
    asyncio.run(main(url, prefix, int(executions), int(each)))
