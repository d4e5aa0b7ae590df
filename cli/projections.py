"""``omium projections rebuild``: refold every view from the log, and check the live ones."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from omium.cli.aio import EXIT_FAILED, JsonOpt, UrlOpt, run
from omium.services import history
from omium.services.client import direct
from omium.services.history_models import RebuildOut
from omium.services.models import dump

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
    moment = history.parse_time(to_time) if to_time else None

    async def go() -> RebuildOut:
        async with direct(url, "`omium projections rebuild`") as local:
            return await history.rebuild_views(local.app, to_offset=to_offset, to_time=moment)

    rebuilt = run(go())
    if json_:
        out = dump(rebuilt)
        if rebuilt.differences is None:
            del out["differences"]  # a rebuild as of a point compares nothing
        typer.echo(orjson.dumps(out).decode())
    else:
        _print(rebuilt)
    if rebuilt.differences:
        raise typer.Exit(EXIT_FAILED)


def _print(rebuilt: RebuildOut) -> None:
    console = Console(highlight=False)
    table = Table("execution", "workflow", "status", "attempt", "seq", box=None)
    for execution_id, v in rebuilt.executions.items():
        table.add_row(execution_id, v.workflow or "", v.status, str(v.attempt), str(v.seq))
    console.print(table)
    console.print(
        f"{len(rebuilt.executions)} executions from {rebuilt.records:,} records"
        f" ({rebuilt.dead_letters} unreadable, see omium.dlq)"
    )
    diffs = rebuilt.differences
    if diffs is None:
        return
    if not diffs:
        console.print("live views: identical to the rebuild")
    for execution_id, names in diffs.items():
        console.print(f"live view of {execution_id} differs: {', '.join(names)}", markup=False)
