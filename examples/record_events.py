"""The smallest real omium run: record an agent's steps on the embedded log.

A tiny "repository analyst" reads the files under examples/ and infra/, counts lines and
words, and records what it did (steps, a tool call per file, a checkpoint) with the SDK.
``make demo`` runs it, then prints the events back from the log with their positions.

    python examples/record_events.py            # prints the execution id
    omium log read --execution <id>
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from pathlib import Path

from omium.producers import open_log, recording

ROOT = Path(__file__).resolve().parent.parent


def read_file(path: Path) -> dict[str, int]:
    text = path.read_text(errors="replace")
    return {"lines": text.count("\n"), "words": len(text.split()), "bytes": len(text)}


async def main() -> str:
    execution_id = f"demo-{uuid.uuid4().hex[:8]}"
    files = sorted(p for p in (ROOT / "infra").glob("*.py")) + sorted(
        (ROOT / "examples").glob("*.py")
    )
    log = open_log()
    try:
        async with recording(log, execution_id, resume=False) as rec:
            await rec.emit(
                "execution.submitted",
                workflow="repo-analyst",
                inputs={"folders": ["infra", "examples"]},
            )
            await rec.emit("execution.started", workflow="repo-analyst", worker="demo")

            await rec.emit("step.started", step="scan", index=0)
            began = time.perf_counter()
            stats = {}
            for path in files:
                t0 = time.perf_counter()
                result = read_file(path)
                stats[str(path.relative_to(ROOT))] = result
                await rec.emit(
                    "tool.call",
                    tool="read_file",
                    step="scan",
                    arguments={"path": str(path.relative_to(ROOT))},
                    result=result,
                    latency_ms=(time.perf_counter() - t0) * 1000,
                )
            state = {"files": stats}
            await rec.emit(
                "step.completed",
                step="scan",
                index=0,
                output=state,
                duration_ms=(time.perf_counter() - began) * 1000,
            )
            await rec.emit(
                "checkpoint.created",
                checkpoint_id=f"{execution_id}:1:scan",
                step="scan",
                index=0,
                state=state,
            )

            await rec.emit("step.started", step="summarize", index=1)
            summary = {
                "files": len(stats),
                "lines": sum(s["lines"] for s in stats.values()),
                "words": sum(s["words"] for s in stats.values()),
            }
            await rec.emit("step.completed", step="summarize", index=1, output={"summary": summary})
            state = {**state, "summary": summary}
            await rec.emit(
                "checkpoint.created",
                checkpoint_id=f"{execution_id}:1:summarize",
                step="summarize",
                index=1,
                state=state,
            )
            await rec.emit("execution.completed", output={"summary": summary})
    finally:
        await log.close()
    print(f"recorded execution {execution_id} on {log.url}: {summary}", file=sys.stderr)
    return execution_id


if __name__ == "__main__":
    print(asyncio.run(main()))
