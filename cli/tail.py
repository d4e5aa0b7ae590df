"""``omium tail``: follow the events topic as facts are recorded."""

from __future__ import annotations

import time
import uuid
from typing import Annotated

import orjson
import typer

from omium.cli.aio import run
from omium.cli.log import record_json
from omium.producers import Record, open_log
from omium.schemas import InvalidEvent
from omium.schemas.topics import EVENTS


def tail_command(
    execution: Annotated[
        str | None, typer.Option("--execution", "-e", help="Only this execution's events.")
    ] = None,
    from_beginning: Annotated[
        bool, typer.Option(help="Start at the oldest event instead of the newest.")
    ] = False,
    max_events: Annotated[
        int | None, typer.Option("--max", min=1, help="Stop after this many events.")
    ] = None,
    idle: Annotated[
        float | None, typer.Option(help="Stop after this many seconds without an event.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    url: Annotated[str | None, typer.Option(help="Log URL (default: OMIUM_LOG_URL).")] = None,
) -> None:
    """Print events as they are recorded, until Ctrl-C (or --max / --idle)."""

    async def follow() -> None:
        log = open_log(url)
        seen = 0
        last = time.monotonic()
        # a group of its own: tailing never moves a worker's offsets
        group = f"omium-tail-{uuid.uuid4().hex[:8]}"
        try:
            async with log.subscribe(group, [EVENTS.name], from_beginning=from_beginning) as sub:
                while max_events is None or seen < max_events:
                    records = await sub.poll(timeout=0.5)
                    if not records and idle is not None and time.monotonic() - last > idle:
                        return
                    for record in records:
                        if execution is not None and record.key != execution:
                            continue
                        last = time.monotonic()
                        seen += 1
                        _print(record, as_json)
                        if max_events is not None and seen >= max_events:
                            return
        finally:
            await log.close()

    run(follow())


def _print(record: Record, json_lines: bool) -> None:
    if json_lines:
        typer.echo(orjson.dumps(record_json(record)).decode())
        return
    try:
        event = record.event()
    except InvalidEvent as exc:
        typer.echo(f"{record.position}  (unreadable: {exc})")
        return
    payload = event.payload.model_dump_json(exclude_none=True)
    payload = payload if len(payload) <= 100 else payload[:97] + "..."
    typer.echo(
        f"{str(record.position):22} {event.execution_id:18} {event.seq:>4} "
        f"{event.type:22} {payload}"
    )
