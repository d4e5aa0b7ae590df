"""``omium log``: read records straight from the event log, with their positions."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from omium.cli.aio import run
from omium.schemas.topics import EVENTS
from omium.services import logs
from omium.services.client import connect, direct
from omium.services.models import RecordOut, dump

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

    async def go() -> list[RecordOut]:
        if execution is not None and topic == EVENTS.name and partition is None:
            async with connect(url) as api:  # one execution's events: the API has them
                return await api.records(execution, start=start, end=end)
        async with direct(url, "`omium log read` of a topic or partition") as local:
            return await logs.read(
                local.app,
                topic=topic,
                execution=execution,
                partition=partition,
                start=start,
                end=end,
            )

    records = run(go())
    if as_json:
        for record in records:
            typer.echo(orjson.dumps(dump(record)).decode())
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
        event = record.event
        if event is None:
            cells = [str(record.position), record.key or "", "", "", "(unreadable)", record.error]
        else:
            cells = [
                str(record.position),
                event["execution_id"],
                str(event["attempt"]),
                str(event["seq"]),
                event["type"],
                payload_text(event),
            ]
        if execution is not None:
            del cells[1]
        table.add_row(*cells)
    # A pipe gets a wide page rather than rich's 80-column default.
    console = Console() if sys.stdout.isatty() else Console(width=160)
    console.print(table)
    typer.echo(f"{len(records)} record(s)", err=True)


def payload_text(event: dict[str, Any]) -> str:
    """An event's payload as compact JSON, without its empty (null) fields."""
    payload = {k: v for k, v in (event.get("payload") or {}).items() if v is not None}
    return orjson.dumps(payload).decode()
