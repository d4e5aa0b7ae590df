"""``omium topics``: create and list the log's topics from ``omium.schemas.topics``."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer

from omium.cli.aio import UrlOpt, run
from omium.services import logs
from omium.services.client import direct

app = typer.Typer(help="Create and inspect the log's topics.", no_args_is_help=True)


@app.command("create")
def create(url: UrlOpt = None) -> None:
    """Create every omium topic that does not exist yet (idempotent)."""

    async def create_all() -> list[str]:
        async with direct(url, "`omium topics`") as local:
            return await logs.create_topics(local.app)

    typer.echo(f"topics ready: {', '.join(run(create_all()))}")


@app.command("list")
def list_(
    url: UrlOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show each topic's partitions and how many records each holds."""

    async def ends() -> dict[str, dict[int, int]]:
        async with direct(url, "`omium topics`") as local:
            return await logs.topic_ends(local.app)

    offsets = run(ends())
    if as_json:
        as_dict = {name: {str(p): o for p, o in ends_.items()} for name, ends_ in offsets.items()}
        typer.echo(orjson.dumps(as_dict).decode())
        return
    for name, ends_ in offsets.items():
        typer.echo(f"{name:16} {len(ends_):3} partitions  {sum(ends_.values()):>10,} records")
