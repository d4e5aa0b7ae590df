"""``omium tail``: follow the events topic as facts are recorded."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer

from omium.cli.aio import run
from omium.cli.log import payload_text
from omium.services import logs
from omium.services.client import connect, direct
from omium.services.models import RecordOut, dump


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
        if execution is not None:  # one execution's events: the API streams them
            async with connect(url) as api:
                records = api.tail(
                    execution, from_beginning=from_beginning, max_events=max_events, idle=idle
                )
                async for record in records:
                    _print(record, as_json)
            return
        async with direct(url, "`omium tail` of every execution (give -e ID)") as local:
            records = logs.tail(
                local.app, from_beginning=from_beginning, max_events=max_events, idle=idle
            )
            async for record in records:
                _print(record, as_json)

    run(follow())


def _print(record: RecordOut, json_lines: bool) -> None:
    if json_lines:
        typer.echo(orjson.dumps(dump(record)).decode())
        return
    event = record.event
    if event is None:
        typer.echo(f"{record.position}  (unreadable: {record.error})")
        return
    payload = payload_text(event)
    payload = payload if len(payload) <= 100 else payload[:97] + "..."
    typer.echo(
        f"{str(record.position):22} {event['execution_id']:18} {event['seq']:>4} "
        f"{event['type']:22} {payload}"
    )
