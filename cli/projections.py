"""``omium projections rebuild``: refold every view from the log, and check the live ones."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from omium.cli.aio import EXIT_FAILED, JsonOpt, UrlOpt, run
from omium.cli.history import parse_time
from omium.processors.reader import open_reader
from omium.processors.rebuild import Rebuilt, differences, rebuild
from omium.producers import open_log

app = typer.Typer(help="Rebuild and check the execution views.", no_args_is_help=True)


@app.command("rebuild")
def rebuild_command(
    to_offset: Annotated[
        int | None, typer.Option(help="Fold each partition only up to this offset.")
    ] = None,
    to_time: Annotated[
        str | None, typer.Option(help="Fold only events recorded at or before this ISO time.")
    ] = None,
    json_: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Refold every execution's view from the log: the whole system as of a point.

    Without a point, the rebuilt views are compared field by field with the live ones
    (exit 1 if any differs); with one, they are what every execution looked like then.
    """
    if to_offset is not None and to_time is not None:
        raise typer.BadParameter("choose --to-offset or --to-time, not both")
    moment = parse_time(to_time) if to_time else None
    as_of_now = to_offset is None and moment is None

    async def go() -> tuple[Rebuilt, dict[str, list[str]] | None]:
        log = open_log(url)
        reader = open_reader(log)
        try:
            rebuilt = await rebuild(log, to_offset=to_offset, to_time=moment)
            if not as_of_now:
                return rebuilt, None
            live = {v.execution_id: v for v in await reader.executions()}
            return rebuilt, differences(live, rebuilt.views)
        finally:
            await reader.close()
            await log.close()

    rebuilt, diffs = run(go())
    if json_:
        out: dict[str, Any] = {
            "records": rebuilt.records,
            "dead_letters": rebuilt.dead_letters,
            "executions": {
                v.execution_id: {"status": v.status, "attempt": v.attempt, "seq": v.seq}
                for v in rebuilt.views.values()
            },
        }
        if diffs is not None:
            out["differences"] = diffs
        typer.echo(orjson.dumps(out).decode())
    else:
        _print(rebuilt, diffs)
    if diffs:
        raise typer.Exit(EXIT_FAILED)


def _print(rebuilt: Rebuilt, diffs: dict[str, list[str]] | None) -> None:
    console = Console(highlight=False)
    table = Table("execution", "workflow", "status", "attempt", "seq", box=None)
    for v in rebuilt.views.values():
        table.add_row(v.execution_id, v.workflow or "", v.status, str(v.attempt), str(v.seq))
    console.print(table)
    console.print(
        f"{len(rebuilt.views)} executions from {rebuilt.records:,} records"
        f" ({rebuilt.dead_letters} unreadable, see omium.dlq)"
    )
    if diffs is None:
        return
    if not diffs:
        console.print("live views: identical to the rebuild")
    for execution_id, names in diffs.items():
        console.print(f"live view of {execution_id} differs: {', '.join(names)}", markup=False)
