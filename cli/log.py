"""``omium log``: read records straight from the event log, with their positions."""

from __future__ import annotations

import sys
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from omium.cli.aio import run
from omium.producers import EventLog, Record, open_log
from omium.schemas import InvalidEvent
from omium.schemas.topics import EVENTS

app = typer.Typer(help="Read the raw event log.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object per record (JSONL).")]


@app.command("read")
def read(
    execution: Annotated[
        str | None, typer.Option("--execution", "-e", help="Only this execution's records.")
    ] = None,
    topic: Annotated[str, typer.Option(help="Logical topic name.")] = EVENTS.name,
    partition: Annotated[
        int | None, typer.Option(help="Only this partition (default: all).")
    ] = None,
    start: Annotated[int, typer.Option("--from", help="First offset (included).")] = 0,
    end: Annotated[int | None, typer.Option("--to", help="Last offset (excluded).")] = None,
    url: Annotated[str | None, typer.Option(help="Log URL (default: OMIUM_LOG_URL).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print records with their positions (topic/partition@offset)."""
    records = run(_read(url, topic, execution, partition, start, end))
    if as_json:
        for record in records:
            typer.echo(orjson.dumps(record_json(record)).decode())
        return
    table = Table(box=None)
    table.add_column("position", no_wrap=True, min_width=20)
    if execution is None:
        table.add_column("execution", no_wrap=True)
    table.add_column("attempt", justify="right")
    table.add_column("seq", justify="right")
    table.add_column("type", no_wrap=True, min_width=12)
    table.add_column("payload", no_wrap=True, overflow="ellipsis", max_width=90)
    for record in records:
        try:
            event = record.event()
        except InvalidEvent as exc:
            cells = [str(record.position), record.key or "", "", "", "(unreadable)", str(exc)]
        else:
            cells = [
                str(record.position),
                event.execution_id,
                str(event.attempt),
                str(event.seq),
                event.type,
                event.payload.model_dump_json(exclude_none=True),
            ]
        if execution is not None:
            del cells[1]
        table.add_row(*cells)
    # A pipe gets a wide page rather than rich's 80-column default.
    console = Console() if sys.stdout.isatty() else Console(width=160)
    console.print(table)
    typer.echo(f"{len(records)} record(s)", err=True)


async def _read(
    url: str | None,
    topic: str,
    execution: str | None,
    partition: int | None,
    start: int,
    end: int | None,
) -> list[Record]:
    log: EventLog = open_log(url)
    try:
        if execution is not None:
            return await log.read_execution(execution, topic=topic, start=start, end=end)
        parts = [partition] if partition is not None else range(await log.partitions(topic))
        records = []
        for p in parts:
            records.extend(await log.read(topic, p, start, end))
        return records
    finally:
        await log.close()


def record_json(record: Record) -> dict[str, object]:
    """A record as ``log read --json`` and ``tail --json`` print it."""
    out: dict[str, object] = {"position": str(record.position), "key": record.key}
    try:
        out["event"] = record.event().model_dump(mode="json")
    except InvalidEvent as exc:
        out["error"] = str(exc)
    return out
